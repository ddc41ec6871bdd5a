"""Retrieval metrics of study ``clip`` (paper 003, section 6, Table 3, Fig. 7).

Two views of one similarity matrix between the test images and their reports:

* ``retrieval_metrics(similarity)``, as open_clip reports retrieval (``get_clip_metrics``): rows are
  queries, columns candidates, the true match of query i is candidate i. The rank of the true match
  is 1 + the number of other candidates scoring at least as high (a tie counts against the true
  match, so a constant similarity ranks every match last), and the metrics are R@1, R@5, R@10
  (share of queries whose match ranks within k), the median and the mean rank. Run on the matrix
  and on its transpose for the two directions; ``chance_metrics(n)`` gives the same figures for a
  random ranking of n candidates, and ``mean_rank_p_value`` how often a random pairing of queries
  and candidates ranks its matches as well (a permutation test of "above chance").
* ``class_match_view(similarity, classes)``, the paper's own: each report ranks the other n - 1
  images (its own image left out), and its rank-1 image counts as a match when its class equals
  the report's (Table 3); every same-class pair with its rank and similarity is Fig. 7.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

RECALL_AT = (1, 5, 10)


def candidate_ranks(similarity: np.ndarray) -> np.ndarray:
    """1-based rank of every candidate j among the candidates of query i: 1 + the number of other
    candidates scoring at least as high (ties count against j)."""
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be square (queries x candidates), got shape {similarity.shape}")
    ordered = np.sort(similarity, axis=1)
    below = np.stack([np.searchsorted(row, values, side="left") for row, values in zip(ordered, similarity)])
    return len(similarity) - below


def true_match_ranks(similarity: np.ndarray) -> np.ndarray:
    """1-based rank of candidate i among all candidates of query i (ties count against the match)."""
    return np.diag(candidate_ranks(similarity)).copy()


def mean_rank_p_value(similarity: np.ndarray, n_permutations: int = 10_000, seed: int = 0) -> float:
    """One-sided permutation p-value of the true matches' mean rank: the share of random pairings of
    queries and candidates (the diagonal's pairing among them) whose mean rank is as low or lower,
    counted as (1 + hits) / (1 + permutations). Small: the model ranks true matches above chance."""
    ranks = candidate_ranks(similarity)
    n = len(ranks)
    observed = np.diag(ranks).mean()
    rng = np.random.default_rng(seed)
    pairings = np.argsort(rng.random((n_permutations, n)), axis=1)
    permuted = ranks[np.arange(n), pairings].mean(axis=1)
    return float((1 + np.sum(permuted <= observed + 1e-12)) / (1 + n_permutations))


def retrieval_metrics(similarity: np.ndarray) -> dict[str, float]:
    """R@1, R@5, R@10, median and mean rank of the true match (on the diagonal) for each query row."""
    ranks = true_match_ranks(similarity)
    metrics = {f"R@{k}": float(np.mean(ranks <= k)) for k in RECALL_AT}
    metrics["median_rank"] = float(np.floor(np.median(ranks)))  # open_clip: floor(median) of the ranks
    metrics["mean_rank"] = float(np.mean(ranks))
    return metrics


def chance_metrics(n: int) -> dict[str, float]:
    """The expected metrics of a random ranking of ``n`` candidates (R@k = k/n, mean rank (n + 1)/2)."""
    metrics = {f"R@{k}": min(k, n) / n for k in RECALL_AT}
    metrics["median_rank"] = float(np.floor((n + 1) / 2))
    metrics["mean_rank"] = (n + 1) / 2
    return metrics


def retrieval_table(image_text_similarity: np.ndarray) -> pd.DataFrame:
    """Both directions and chance, one row each; ``image_text_similarity`` rows images, columns reports.
    ``mean_rank_p``: each direction's ``mean_rank_p_value``."""
    n = len(image_text_similarity)
    report_image = np.asarray(image_text_similarity).T
    rows = [
        {"direction": "report -> image", "queries": n, **retrieval_metrics(report_image),
         "mean_rank_p": mean_rank_p_value(report_image)},
        {"direction": "image -> report", "queries": n, **retrieval_metrics(image_text_similarity),
         "mean_rank_p": mean_rank_p_value(image_text_similarity)},
        {"direction": f"chance ({n} candidates)", "queries": n, **chance_metrics(n)},
    ]
    return pd.DataFrame(rows)


def class_match_view(report_image_similarity: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Each report ranks the other n - 1 images (paper 003, Table 3 and Fig. 7).

    ``report_image_similarity`` rows reports (queries), columns images, report i written for image i.
    One row per (query, candidate) pair, candidate != query: ``query``, ``candidate`` (positions),
    ``rank`` (1 = most similar of the n - 1; ties broken by position), ``similarity``,
    ``query_class``, ``candidate_class`` and ``same_class``.
    """
    similarity = np.asarray(report_image_similarity, dtype=np.float64)
    classes = np.asarray(classes, dtype=object)
    n = len(similarity)
    if similarity.shape != (n, n) or len(classes) != n:
        raise ValueError(f"need an n x n similarity and n classes, got {similarity.shape} and {len(classes)}")
    rows = []
    for query in range(n):
        others = np.array([j for j in range(n) if j != query])
        order = others[np.argsort(-similarity[query, others], kind="stable")]
        for rank, candidate in enumerate(order, start=1):
            rows.append({"query": query, "candidate": int(candidate), "rank": rank,
                         "similarity": similarity[query, candidate], "query_class": classes[query],
                         "candidate_class": classes[candidate]})
    pairs = pd.DataFrame(rows)
    pairs["same_class"] = pairs["query_class"] == pairs["candidate_class"]
    return pairs


def class_match_summary(pairs: pd.DataFrame) -> dict[str, float]:
    """Share of reports whose rank-1 image has their class, and what a random pick of the others gives."""
    top = pairs[pairs["rank"] == 1]
    chance = pairs.groupby("query")["same_class"].mean().mean()
    return {"queries": float(len(top)), "top1_same_class": float(top["same_class"].mean()),
            "chance_same_class": float(chance)}


def test_retrieval_table(embeddings: dict[str, np.ndarray], index: pd.DataFrame) -> pd.DataFrame:
    """The retrieval table of the test split from ``mrissl.clip.train.embed_test_set``'s arrays.

    Rows ``view: true match`` (both directions and chance, ``retrieval_table``) and ``view: same
    class`` (the paper's: the share of reports whose rank-1 image among the other n - 1 has the
    report-derived class of the report, in the R@1 column, and the share a random pick gives).
    """
    similarity = embeddings["image"] @ embeddings["text"].T
    table = retrieval_table(similarity).assign(view="true match")
    classes = index.set_index("row").loc[embeddings["test_rows"], "report_class"].fillna("unlabelled").to_numpy()
    summary = class_match_summary(class_match_view(similarity.T, classes))
    n = len(similarity)
    same = pd.DataFrame([
        {"view": "same class", "direction": "report -> other images", "queries": n, "R@1": summary["top1_same_class"]},
        {"view": "same class", "direction": f"chance ({n - 1} candidates)", "queries": n,
         "R@1": summary["chance_same_class"]},
    ])
    return pd.concat([table, same], ignore_index=True)[["view", "direction", "queries", "R@1", "R@5", "R@10",
                                                        "median_rank", "mean_rank", "mean_rank_p"]]
