"""retrieval_metrics and the paper's class-match view on hand-made similarity matrices."""

import numpy as np
import pytest

from mrissl.clip.retrieval import (
    candidate_ranks,
    chance_metrics,
    class_match_summary,
    class_match_view,
    mean_rank_p_value,
    retrieval_metrics,
    retrieval_table,
    true_match_ranks,
)


def test_perfect_similarity_ranks_every_match_first():
    metrics = retrieval_metrics(np.eye(12) + 0.01 * np.arange(12)[None, :])
    assert metrics == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "median_rank": 1.0, "mean_rank": 1.0}


def test_reversed_similarity_ranks_every_match_last():
    n = 12
    metrics = retrieval_metrics(-np.eye(n))
    assert metrics == {"R@1": 0.0, "R@5": 0.0, "R@10": 0.0, "median_rank": 12.0, "mean_rank": 12.0}


def test_ties_count_against_the_true_match():
    assert true_match_ranks(np.zeros((4, 4))).tolist() == [4, 4, 4, 4]
    # Query 0: one other candidate ties with the match -> rank 2; query 1: best -> 1; query 2: 1 better, 1 tie -> 3.
    similarity = np.array([[0.5, 0.5, 0.1],
                           [0.2, 0.9, 0.3],
                           [0.8, 0.4, 0.4]])
    assert true_match_ranks(similarity).tolist() == [2, 1, 3]
    metrics = retrieval_metrics(similarity)
    assert metrics["R@1"] == pytest.approx(1 / 3)
    assert metrics["R@5"] == 1.0
    assert metrics["mean_rank"] == pytest.approx(2.0)
    assert metrics["median_rank"] == 2.0


def test_hand_made_ranks_of_five():
    # Rows queries: true match ranks 1, 3, 5, 2, 4.
    similarity = np.array([
        [9, 1, 2, 3, 4],
        [5, 3, 4, 1, 0],
        [5, 4, 0, 3, 2],
        [0, 9, 1, 5, 2],
        [5, 1, 6, 8, 2],
    ], dtype=float)
    assert true_match_ranks(similarity).tolist() == [1, 3, 5, 2, 4]
    metrics = retrieval_metrics(similarity)
    assert metrics["R@1"] == pytest.approx(0.2)
    assert metrics["R@5"] == 1.0
    assert metrics["median_rank"] == 3.0
    assert metrics["mean_rank"] == 3.0
    # The other direction reads the columns: column 4 is [4, 0, 2, 2, 2], its match 2 ties with two
    # others and loses to 4 -> rank 4.
    assert true_match_ranks(similarity.T).tolist() == [1, 3, 5, 2, 4]


def test_chance_and_table():
    assert chance_metrics(27) == {"R@1": 1 / 27, "R@5": 5 / 27, "R@10": 10 / 27, "median_rank": 14.0,
                                  "mean_rank": 14.0}
    assert chance_metrics(4)["R@5"] == 1.0
    table = retrieval_table(np.eye(3))
    assert table["direction"].tolist() == ["report -> image", "image -> report", "chance (3 candidates)"]
    assert table["R@1"].tolist() == [1.0, 1.0, pytest.approx(1 / 3)]
    # A random ranking averages to chance.
    rng = np.random.default_rng(0)
    means = [retrieval_metrics(rng.normal(size=(27, 27)))["mean_rank"] for _ in range(400)]
    assert np.mean(means) == pytest.approx(14.0, abs=0.3)


def test_class_match_view_leaves_the_query_out():
    # Reports (rows) x images: report 0's best other image is 2 (same class), report 1's is 0 (other class).
    similarity = np.array([[0.9, 0.1, 0.5],
                           [0.7, 0.8, 0.2],
                           [0.3, 0.6, 0.1]])
    pairs = class_match_view(similarity, ["normal", "tumour", "normal"])
    assert len(pairs) == 6 and not (pairs["query"] == pairs["candidate"]).any()
    top = pairs[pairs["rank"] == 1].set_index("query")
    assert top["candidate"].tolist() == [2, 0, 1]
    assert top["same_class"].tolist() == [True, False, False]
    summary = class_match_summary(pairs)
    assert summary["top1_same_class"] == pytest.approx(1 / 3)
    assert summary["chance_same_class"] == pytest.approx((0.5 + 0 + 0.5) / 3)


def test_mean_rank_p_value_against_random_pairings():
    # A perfect 8 x 8 ranking: only the identity pairing (1 of 8! = 40320) reaches mean rank 1.
    assert mean_rank_p_value(np.eye(8), n_permutations=2000) == pytest.approx(1 / 2001, abs=1e-3)
    # The reversed ranking (every match last) is beaten or tied by every pairing: p = 1.
    assert mean_rank_p_value(-np.eye(8), n_permutations=2000) == 1.0
    # Candidate ranks: row 0 of [[3, 1, 2]] ranks its candidates 1, 3, 2.
    assert candidate_ranks(np.array([[3.0, 1.0, 2.0]] * 3))[0].tolist() == [1, 3, 2]
    # Random similarities: p spread over (0, 1], about half below 0.5.
    rng = np.random.default_rng(1)
    ps = [mean_rank_p_value(rng.normal(size=(27, 27)), n_permutations=500) for _ in range(60)]
    assert 0.3 < np.mean(np.array(ps) < 0.5) < 0.7
    table = retrieval_table(np.eye(3))
    assert table["mean_rank_p"].iloc[:2].notna().all() and np.isnan(table["mean_rank_p"].iloc[2])
