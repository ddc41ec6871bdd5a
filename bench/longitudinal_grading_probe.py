"""How hard the disc grading of a finished run is, beside the table's networks (paper 002, Fig. 8).

    .venv/bin/python bench/longitudinal_grading_probe.py [--results results] [--sizes 240 361 670]

On the run's own grading split, nested training subsets and test discs, fits two plain classifiers
and prints their average class accuracy (the table's metric) per subset:
- ``pixels``: class-balanced logistic regression on the IVD volumes' pixels, downsampled 4x in plane
  and standardised (no learned features at all);
- ``two features``: the same on two numbers per disc, the mean intensity of its central slice's
  middle third (the nucleus) and the height of its bright band (a Pfirrmann reader's two cues).
When these reach the networks' accuracies with a few dozen scans, the phantom's grade is a simple
intensity/height cue that a network from scratch learns without help, and pretrained features
have nothing to add at the smaller sizes, whatever they encode.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mrissl.longitudinal.grading import average_class_accuracy, disc_table, nested_subsets


def two_features(volumes: np.ndarray) -> np.ndarray:
    """(N, rows, cols, S) IVD volumes -> (N, 2): nucleus mean intensity, bright-band height (rows)."""
    centre = volumes[..., volumes.shape[-1] // 2].astype(np.float32)          # (N, rows, cols)
    rows, cols = centre.shape[1:]
    middle = centre[:, :, cols // 3: 2 * cols // 3]
    nucleus = middle[:, rows // 3: 2 * rows // 3].mean(axis=(1, 2))
    profile = middle.mean(axis=2)                                             # (N, rows)
    height = (profile > 0.5 * profile.max(axis=1, keepdims=True)).sum(axis=1)
    return np.stack([nucleus, height], axis=1)


def pixels(volumes: np.ndarray) -> np.ndarray:
    return volumes[:, ::4, ::4, :].reshape(len(volumes), -1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[240, 361, 670],
                        help="longitudinal.grading.subset_sizes of the run's config")
    args = parser.parse_args()
    root = args.results / "longitudinal"
    index = pd.read_csv(root / "vertebrae/index.tsv", sep="\t", dtype={"scan_key": str, "subject_key": str, "group_key": str})
    split = pd.read_csv(root / "grading/split.tsv", sep="\t", dtype={"subject_key": str, "group_key": str})
    ivd = np.load(root / "vertebrae/ivd.npy", mmap_mode="r")
    discs = disc_table(index, split)
    volumes = np.asarray(ivd[discs["row"].to_numpy()])
    features = {"pixels": pixels(volumes), "two features": two_features(volumes)}
    test = (discs["split"] == "test").to_numpy()
    rows = []
    for n, subjects in nested_subsets(split, tuple(args.sizes)).items():
        train = discs["subject_key"].isin(subjects).to_numpy()
        row = {"subjects": n, "scans": discs.loc[train, "scan_key"].nunique(), "train discs": int(train.sum())}
        for name, x in features.items():
            model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
            model.fit(x[train], discs["label"].to_numpy()[train])
            row[name] = average_class_accuracy(discs["label"].to_numpy()[test], model.predict(x[test]))
        rows.append(row)
    print(f"test discs: {int(test.sum())}; average class accuracy of plain classifiers")
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
