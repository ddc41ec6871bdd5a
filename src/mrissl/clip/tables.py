"""The tables of study ``clip`` (paper 003, Tables 1-3) as DataFrames; the render rules write them.

* ``split_class_table``: studies per split and report-derived class (Table 1), with the share of
  studies whose report-derived class differs from the phantom's true class (the label noise; the
  one place besides the zero-shot evaluation that reads the true class).
* ``query_table``: the test images most similar to a free-text query, with their reports, scores
  and classes (Table 2, for "No significant abnormality is seen in the brain.").
* ``rank1_table``: for each test report, the image it ranks first among the other n - 1, with both
  reports and classes (Table 3; the paper lists the rows whose classes agree, here all rows with a
  ``same_class`` column).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrissl.splits import SPLIT_NAMES


def split_class_table(splits: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """One row per split and a total row: studies, studies per report-derived class, label noise."""
    table = splits[["study_key", "split"]].merge(index[["study_key", "report_class", "true_class"]],
                                                   on="study_key", how="left", validate="one_to_one")
    classes = sorted(table["report_class"].dropna().unique())
    rows = []
    for split in [*SPLIT_NAMES, "total"]:
        part = table if split == "total" else table[table["split"] == split]
        counts = part["report_class"].value_counts()
        known = part["true_class"].notna() & (part["true_class"].astype(str) != "")
        noise = (part.loc[known, "report_class"] != part.loc[known, "true_class"]).mean() if known.any() else np.nan
        rows.append({"split": split, "total": len(part), **{c: int(counts.get(c, 0)) for c in classes},
                     "label_noise": noise})
    return pd.DataFrame(rows)


def query_table(similarity: np.ndarray, studies: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """The ``top`` studies with the highest ``similarity`` (one value per row of ``studies``, which has
    ``report``, ``report_class`` and ``true_class``), best first (ties: study order)."""
    order = np.argsort(-np.asarray(similarity), kind="stable")[:top]
    picked = studies.iloc[order]
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "score": np.asarray(similarity)[order],
                         "report": picked["report"].to_numpy(), "report_class": picked["report_class"].to_numpy(),
                         "true_class": picked["true_class"].to_numpy()})


def rank1_table(report_image_similarity: np.ndarray, studies: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Each report's rank-1 image among the other n - 1 (rows reports, columns images, in ``studies`` order;
    ``names`` labels the images, e.g. "image_3"), with both reports and report-derived classes."""
    similarity = np.asarray(report_image_similarity, dtype=np.float64).copy()
    np.fill_diagonal(similarity, -np.inf)
    best = np.argmax(similarity, axis=1)
    reports, classes = studies["report"].to_numpy(), studies["report_class"].to_numpy()
    return pd.DataFrame({
        "image": names, "query_report": reports, "matched_image": [names[j] for j in best],
        "matched_report": reports[best], "score": similarity[np.arange(len(best)), best],
        "query_class": classes, "matched_class": classes[best], "same_class": classes == classes[best],
        "reciprocal": best[best] == np.arange(len(best)),
    })


def _test_studies(embeddings: dict[str, np.ndarray], index: pd.DataFrame) -> pd.DataFrame:
    return index.set_index("row").loc[embeddings["test_rows"]].reset_index()


def test_query_table(embeddings: dict[str, np.ndarray], index: pd.DataFrame, top: int) -> pd.DataFrame:
    """``query_table`` of the test images for the configured query (``embed_test_set``'s arrays)."""
    studies = _test_studies(embeddings, index)
    table = query_table((embeddings["image"] @ embeddings["query"].T)[:, 0], studies, top)
    names = [f"image_{r}" for r in studies["row"]]
    order = np.argsort(-(embeddings["image"] @ embeddings["query"].T)[:, 0], kind="stable")[:top]
    return table.assign(image=[names[i] for i in order])[["rank", "image", "score", "report", "report_class",
                                                           "true_class"]]


def test_rank1_table(embeddings: dict[str, np.ndarray], index: pd.DataFrame) -> pd.DataFrame:
    """``rank1_table`` of the test split (reports query the other test images)."""
    studies = _test_studies(embeddings, index)
    similarity = embeddings["image"] @ embeddings["text"].T  # rows images, columns reports
    return rank1_table(similarity.T, studies, [f"image_{r}" for r in studies["row"]])
