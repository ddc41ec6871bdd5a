"""Evaluation of the Siamese network (paper 002, section 4.1, Fig. 6) and of the twins beyond it.

``inference.pair_distances`` gives the L2 distance of the FC7 embeddings of every test-split VB pair (all positive
and all negative pairs at the same level, ``pairs.evaluation_pairs``), as in training. Scored with
``-d`` as the probability of "same subject", they give the ROC and its AUC (scikit-learn; paper
94.6%). FC8 gives the VB level (paper 97.8% accuracy). The twins of the cohort split the negative
pairs into monozygotic, dizygotic and unrelated pairs: ``twin_summary`` gives each relation's
distances and the AUC of telling a subject's own follow-up from a monozygotic twin. No torch here:
the render rules that read these tables start fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from mrissl.longitudinal.pairs import RELATIONS

DISTANCE_COLUMNS = ["a", "b", "same", "level_index", "relation", "distance"]
LEVEL_COLUMNS = ["row", "level_index", "predicted"]
PAPER = {"AUC": 0.946, "level accuracy": 0.978}


def pair_auc(distances: pd.DataFrame) -> float:
    """AUC of "same subject" scored by ``-distance`` over all pairs."""
    return float(roc_auc_score(distances["same"], -distances["distance"]))


def pair_roc(distances: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates of "same subject" as the distance threshold rises."""
    fpr, tpr, _ = roc_curve(distances["same"], -distances["distance"])
    return fpr, tpr


def level_accuracy(levels: pd.DataFrame) -> float:
    return float((levels["level_index"] == levels["predicted"]).mean())


def twin_summary(distances: pd.DataFrame) -> pd.DataFrame:
    """Per relation (RELATIONS): pairs, median and quartiles of the distance, and the AUC of telling
    the relation from "same subject" (how often a subject's own follow-up is nearer than such a pair)."""
    rows = []
    same = distances[distances["relation"] == "same subject"]
    for name in RELATIONS:
        of = distances[distances["relation"] == name]
        row = {"relation": name, "pairs": len(of)}
        if len(of):
            q1, median, q3 = np.percentile(of["distance"], [25, 50, 75])
            row.update({"median": median, "q1": q1, "q3": q3})
        if name != "same subject" and len(of) and len(same):
            both = pd.concat([same, of])
            row["auc_vs_same"] = float(roc_auc_score(both["relation"] == "same subject", -both["distance"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["relation", "pairs", "median", "q1", "q3", "auc_vs_same"])


def pairs_table(distances: pd.DataFrame, levels: pd.DataFrame) -> pd.DataFrame:
    """The study's pairs table: AUC and level accuracy beside the paper's, then the twin distances."""
    twins = twin_summary(distances)
    rows = [
        {"quantity": "positive pairs (same subject, two time points)", "demo": float((distances["same"] == 1).sum()),
         "paper": None},
        {"quantity": "negative pairs (two subjects, same level)", "demo": float((distances["same"] == 0).sum()),
         "paper": None},
        {"quantity": "AUC, same subject vs different subjects", "demo": pair_auc(distances), "paper": PAPER["AUC"]},
        {"quantity": "VB level accuracy (FC8)", "demo": level_accuracy(levels), "paper": PAPER["level accuracy"]},
    ]
    for row in twins.itertuples():
        rows.append({"quantity": f"median distance, {row.relation} ({row.pairs} pairs)", "demo": row.median,
                     "paper": None})
    for row in twins.itertuples():
        if pd.notna(row.auc_vs_same):
            rows.append({"quantity": f"AUC, same subject vs {row.relation}", "demo": row.auc_vs_same, "paper": None})
    return pd.DataFrame(rows, columns=["quantity", "demo", "paper"])


GRADING_METHODS = {"scratch": "from scratch", "random": "frozen random conv", "longitudinal": "longitudinal (Siamese)",
                   "supervised": "supervised (SpineNet stand-in)"}


def grading_table(results: pd.DataFrame) -> pd.DataFrame:
    """Average class accuracy, one row per initialisation and one column per training subset
    ("<subjects> subjects / <scans> scans", as Fig. 8's x-axis); ``results`` from ``grading.grade_discs``."""
    sizes = results.drop_duplicates("subset").sort_values("subset")
    columns = {row.subset: f"{row.subjects} subjects / {row.scans} scans" for row in sizes.itertuples()}
    table = results.pivot(index="init", columns="subset", values="average_class_accuracy").rename(columns=columns)
    order = [init for init in GRADING_METHODS if init in table.index]
    table = table.loc[order].rename(index=GRADING_METHODS)
    table.insert(0, "test discs", results.groupby("init")["test_discs"].first().loc[order].to_numpy().astype(float))
    return table.rename_axis("initialisation").reset_index().rename_axis(None, axis=1)
