"""Summaries and paired t-tests over cross-validation folds (paper 001, Tables 1-4, 10-11).

Each fold's model gives one value per metric (internal: its test fold; external: the whole external
set), so inits are compared fold by fold with scipy's paired t-test (``ttest_rel``, two-sided).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mean_std(values: pd.Series, percent: bool = False, digits: int = 3) -> str:
    """'mean (std)' over folds (sample std, ddof 1), as the paper's tables; nan folds left out."""
    v = values.dropna().to_numpy(float)
    if len(v) == 0:
        return "n/a"
    scale = 100.0 if percent else 1.0
    std = v.std(ddof=1) if len(v) > 1 else 0.0
    if percent:
        return f"{scale * v.mean():.1f}% ({scale * std:.1f})"
    return f"{v.mean():.{digits}f} ({std:.{digits}f})"


def paired_ttests(per_fold: pd.DataFrame, proposed: str, baselines: list[str], metrics: list[str],
                  by: str = "init") -> pd.DataFrame:
    """One row per (dataset, baseline, metric): mean difference proposed - baseline over folds, t, p.

    ``per_fold`` has columns ``dataset``, ``fold``, ``by`` and the metrics."""
    from scipy.stats import ttest_rel

    rows = []
    for dataset, group in per_fold.groupby("dataset", sort=False):
        wide = group.pivot_table(index="fold", columns=by, values=metrics)
        for baseline in baselines:
            for metric in metrics:
                a, b = wide[(metric, proposed)], wide[(metric, baseline)]
                keep = a.notna() & b.notna()
                a, b = a[keep].to_numpy(float), b[keep].to_numpy(float)
                # t is undefined when the differences do not vary (scipy would say t = +-inf,
                # p = 0 for two folds that differ alike): no test then.
                if len(a) >= 2 and np.ptp(a - b) > 0:
                    result = ttest_rel(a, b)
                    t, p = float(result.statistic), float(result.pvalue)
                else:
                    t, p = float("nan"), float("nan")
                rows.append({"dataset": dataset, "pair": f"{proposed} vs {baseline}", "metric": metric,
                             "mean_difference": float(np.mean(a - b)) if len(a) else float("nan"),
                             "t": t, "p": p, "n_folds": int(len(a))})
    return pd.DataFrame(rows)


CLASSIFICATION = {"auc": "AUC", "precision": "Precision", "recall": "Recall", "f1": "F1-score"}
EXPLAINABILITY = {"dice_2d": "2D Dice Score", "dice_3d": "3D Dice Score"}


def init_table(per_fold: pd.DataFrame, dataset: str, inits: dict[str, str], columns: dict[str, str],
               percent: bool = False) -> pd.DataFrame:
    """Tables 1-4: one row per init (``inits``: key -> row label), 'mean (std)' over folds per metric."""
    rows = []
    for key, label in inits.items():
        group = per_fold[(per_fold["init"] == key) & (per_fold["dataset"] == dataset)]
        if group.empty:
            raise ValueError(f"no per-fold metrics for init {key!r} on the {dataset} set")
        rows.append({"Model Initialization": label,
                     **{name: mean_std(group[col], percent=percent) for col, name in columns.items()}})
    return pd.DataFrame(rows)


def ablation_table(per_fold: pd.DataFrame, experiments: dict[str, str]) -> pd.DataFrame:
    """Table 5: mean external AUC and F1 of each pretraining variant (``experiments``: init -> label)."""
    rows = []
    for key, label in experiments.items():
        group = per_fold[(per_fold["init"] == key) & (per_fold["dataset"] == "external")]
        if group.empty:
            raise ValueError(f"no external per-fold metrics for {key!r}")
        rows.append({"Experiment": label, "Mean AUC": round(float(group["auc"].mean()), 3),
                     "Mean F1-score": round(float(group["f1"].mean()), 3),
                     "Mean 2D Dice": round(float(group["dice_2d"].mean()), 3)})
    return pd.DataFrame(rows)


def ttest_table(per_fold: pd.DataFrame, proposed: str, baselines: dict[str, str]) -> pd.DataFrame:
    """Tables 10-11 (external) and their internal counterparts: paired t-tests over folds of the
    proposed init against each baseline, for AUC, F1, 2D and 3D Dice."""
    tests = paired_ttests(per_fold, proposed, list(baselines), ["auc", "f1", "dice_2d", "dice_3d"])
    names = {**CLASSIFICATION, **EXPLAINABILITY}
    tests["pair"] = [f"{proposed} vs {baselines[p.split(' vs ')[1]]}" for p in tests["pair"]]
    tests["metric"] = tests["metric"].map(names)
    tests = tests.rename(columns={"dataset": "Dataset", "pair": "Experiment pair", "metric": "Metric",
                                  "mean_difference": "Mean difference", "t": "t", "p": "P-value",
                                  "n_folds": "Folds"})
    order = {"external": 0, "internal": 1}
    return tests.sort_values("Dataset", key=lambda s: s.map(order), kind="stable", ignore_index=True).round(
        {"Mean difference": 4, "t": 3, "P-value": 4})
