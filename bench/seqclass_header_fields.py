"""What each kind of DICOM header field tells the header baseline, on a finished run (paper 000, ref. 8).

    .venv/bin/python bench/seqclass_header_fields.py [--results results] [--seed 1]

Fits the baseline's random forest (mrissl.seqclass.header_baseline) on the training split's series
with subsets of the fields, and prints the test accuracy per series of each, then the confusion
matrix of the forest without the free-text descriptions. When the timings and codes alone reach the
full baseline, the descriptions add nothing; when they reach ~1.0, the phantom's headers hold a
shortcut real exports lack (derived maps without timings, b-values in private tags, generic codes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.manifest import read_manifest
from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.header_baseline import (
    HEADER_CODES, HEADER_NUMERIC, HEADER_TEXT, header_classifier, series_table,
)
from mrissl.seqclass.slices import read_slice_index

SUBSETS = {
    "all fields (the baseline)": (HEADER_TEXT, HEADER_CODES, HEADER_NUMERIC),
    "descriptions only": (HEADER_TEXT, [], []),
    "no descriptions (codes + timings + b)": ([], HEADER_CODES, HEADER_NUMERIC),
    "timings + b only": ([], [], HEADER_NUMERIC),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    manifest = read_manifest(args.results / "ingest/manifest.tsv")
    slices = args.results / "seqclass/curate/internal/slices"
    train = series_table(manifest, read_slice_index(slices / "train.tsv"))
    test = series_table(manifest, read_slice_index(slices / "test.tsv"))
    print(f"{len(train)} training and {len(test)} test series")
    for name, (text, codes, numeric) in SUBSETS.items():
        model = header_classifier(args.seed, text, codes, numeric).fit(train, train["label"])
        predicted = model.predict(test)
        print(f"{name:40s} test accuracy per series {np.mean(predicted == test['label']):.3f}")
        if name.startswith("no descriptions"):
            confusion = pd.crosstab(pd.Categorical(test["label"], SEQUENCE_CLASSES),
                                    pd.Categorical(predicted, SEQUENCE_CLASSES), dropna=False,
                                    rownames=["true"], colnames=["predicted"])
    print("\nwithout descriptions, confusion (rows true, columns predicted):")
    print(confusion.to_string())


if __name__ == "__main__":
    main()
