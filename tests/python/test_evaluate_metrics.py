# SPDX-License-Identifier: Apache-2.0
"""dsstne.evaluate.metrics: top-k selection and the ranking metrics against hand-computed
cases (ties, fewer targets or candidates than K, empty target rows, k beyond the catalogue)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from dsstne.evaluate import ranking_metrics, top_k

INF = np.inf
LOG3 = math.log2(3)


def csr(rows, n_items):
    """CSR of ones from a list of item lists."""
    r = [i for i, items in enumerate(rows) for _ in items]
    c = [j for items in rows for j in items]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


# ---------------------------------------------------------------------------------------------
# top_k


def test_top_k_orders_by_score_and_breaks_ties_by_item():
    scores = np.array([[0.1, 0.5, 0.5, 0.9, 0.2]])
    assert top_k(scores, None, 3).tolist() == [[3, 1, 2]]
    assert top_k(scores, csr([[1]], 5), 3).tolist() == [[3, 2, 4]]
    # all tied: the lowest ids win the boundary and keep ascending order
    assert top_k(np.ones((1, 4)), None, 2).tolist() == [[0, 1]]
    assert top_k(np.ones((1, 4)), csr([[0, 2]], 4), 3).tolist() == [[1, 3, -1]]
    # -0.0 ties with +0.0; -inf is a real (last) candidate
    assert top_k(np.array([[-0.0, 0.0, -INF]]), None, 3).tolist() == [[0, 1, 2]]
    assert top_k(np.array([[-INF, 0.0, -INF]]), None, 3).tolist() == [[1, 0, 2]]


def test_top_k_pads_rows_with_fewer_candidates():
    scores = np.array([[0.3, 0.1, 0.2], [0.3, 0.1, 0.2]])
    exclude = csr([[0, 2], []], 3)
    assert top_k(scores, exclude, 3).tolist() == [[1, -1, -1], [0, 2, 1]]
    # k beyond the catalogue
    assert top_k(scores, exclude, 5).tolist() == [[1, -1, -1, -1, -1], [0, 2, 1, -1, -1]]
    # everything excluded
    assert top_k(scores[:1], csr([[0, 1, 2]], 3), 2).tolist() == [[-1, -1]]
    # a dense boolean mask excludes the same items
    mask = exclude.toarray().astype(bool)
    assert top_k(scores, mask, 3).tolist() == top_k(scores, exclude, 3).tolist()


def test_top_k_matches_a_plain_sort_on_many_ties(rng):
    scores = rng.integers(0, 4, size=(60, 25)).astype(np.float32)   # heavy ties
    exclude = sp.random(60, 25, density=0.3, random_state=3, format="csr")
    for k in (1, 5, 24, 25, 30):
        got = top_k(scores, exclude, k)
        for r in range(60):
            banned = set(exclude[r].indices)
            expected = sorted((j for j in range(25) if j not in banned),
                              key=lambda j: (-scores[r, j], j))[:k]
            assert got[r].tolist() == expected + [-1] * (k - len(expected)), (k, r)


def test_top_k_rejects_nan_naming_the_row():
    scores = np.zeros((3, 4))
    scores[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 12, item 1 is NaN"):
        top_k(scores, None, 2, first_row=10)
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_k(np.zeros((1, 2)), None, 0)
    with pytest.raises(ValueError, match="shape"):
        top_k(np.zeros((2, 2)), csr([[0]], 2), 1)
    assert top_k(np.zeros((0, 5)), None, 3).shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# ranking_metrics


def test_metrics_hand_computed():
    n_items = 6
    top = np.array([[3, 0, 1, 5],       # targets {1, 3}: hits at ranks 1 and 3
                    [2, 4, 0, 1],       # no targets: left out, of coverage too
                    [-1, -1, -1, -1]])  # 5 targets, no candidates
    targets = csr([[1, 3], [], [0, 1, 2, 4, 5]], n_items)
    m = ranking_metrics(top, targets, [1, 2, 4], n_items)
    idcg2 = 1 + 1 / LOG3
    expected = {
        "recall@1": 1.0, "precision@1": 1.0, "ndcg@1": 1.0, "map@1": 1.0,
        "recall@2": 0.5, "precision@2": 0.5, "ndcg@2": 1 / idcg2, "map@2": 0.5,
        "recall@4": 1.0, "precision@4": 0.5, "ndcg@4": 1.5 / idcg2, "map@4": (1 + 2 / 3) / 2,
    }
    assert m["users"] == 2
    for key, value in expected.items():
        assert m[key] == pytest.approx(value / 2, abs=1e-12), key   # user 2 scores 0
    assert m["coverage@1"] == pytest.approx(1 / 6)
    assert m["coverage@2"] == pytest.approx(2 / 6)
    assert m["coverage@4"] == pytest.approx(4 / 6)


def test_metrics_fewer_targets_than_k():
    m = ranking_metrics(np.array([[0, 2, 1]]), csr([[2]], 4), [3], 4)
    assert m["recall@3"] == 1.0                      # hits / min(K, 1)
    assert m["precision@3"] == pytest.approx(1 / 3)
    assert m["ndcg@3"] == pytest.approx(1 / LOG3)    # one hit at rank 2, ideal: rank 1
    assert m["map@3"] == pytest.approx(0.5)          # P@2 · 1 / min(3, 1)


def test_metrics_all_hits_no_hits_and_k_beyond_items():
    all_hit = ranking_metrics(np.array([[2, 1, 0]]), csr([[0, 1, 2]], 3), [3], 3)
    assert [all_hit[f"{n}@3"] for n in ("recall", "precision", "ndcg", "map")] == [1, 1, 1, 1]
    no_hit = ranking_metrics(np.array([[3, 4]]), csr([[0, 1]], 5), [2], 5)
    assert [no_hit[f"{n}@2"] for n in ("recall", "precision", "ndcg", "map")] == [0, 0, 0, 0]
    beyond = ranking_metrics(np.array([[0, 1, -1, -1, -1]]), csr([[1]], 2), [5], 2)
    assert beyond["recall@5"] == 1.0 and beyond["precision@5"] == pytest.approx(0.2)
    assert beyond["ndcg@5"] == pytest.approx(1 / LOG3) and beyond["map@5"] == 0.5
    assert beyond["coverage@5"] == 1.0


def test_metrics_binary_targets_and_no_users():
    # a duplicate entry and an explicit zero: two distinct relevant items
    targets = sp.csr_matrix((np.array([3.0, 3.0, 0.0]), (np.array([0, 0, 0]),
                                                         np.array([1, 1, 3]))), shape=(1, 4))
    m = ranking_metrics(np.array([[3, 1]]), targets, [2], 4)
    assert m["recall@2"] == 1.0 and m["precision@2"] == 1.0
    empty = ranking_metrics(np.array([[0, 1]]), csr([[]], 4), [2], 4)
    assert empty["users"] == 0 and math.isnan(empty["recall@2"])
    assert math.isnan(empty["coverage@2"])


def test_metrics_match_a_per_user_loop(rng):
    n, items, k = 40, 30, 12
    top = np.stack([rng.permutation(items)[:k] for _ in range(n)])
    top[::7, 8:] = -1
    targets = sp.random(n, items, density=0.15, random_state=5, format="csr")
    m = ranking_metrics(top, targets, [5, 12], items)
    for K in (5, 12):
        sums = dict.fromkeys(("recall", "precision", "ndcg", "map"), 0.0)
        users = 0
        for u in range(n):
            t = set(targets[u].indices)
            if not t:
                continue
            users += 1
            rel = [1.0 if i in t else 0.0 for i in top[u, :K]]
            best = min(K, len(t))
            sums["recall"] += sum(rel) / best
            sums["precision"] += sum(rel) / K
            dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel))
            sums["ndcg"] += dcg / sum(1 / math.log2(i + 2) for i in range(best))
            sums["map"] += sum(sum(rel[:i + 1]) / (i + 1) * rel[i] for i in range(K)) / best
        assert m["users"] == users
        for name, total in sums.items():
            assert m[f"{name}@{K}"] == pytest.approx(total / users, abs=1e-12), (name, K)


def test_metrics_errors():
    t = csr([[0]], 3)
    with pytest.raises(ValueError, match="fewer than K = 3"):
        ranking_metrics(np.array([[0, 1]]), t, [3], 3)
    with pytest.raises(ValueError, match="outside -1"):
        ranking_metrics(np.array([[0, 3]]), t, [2], 3)
    with pytest.raises(ValueError, match="row 0 lists item 1 twice"):
        ranking_metrics(np.array([[1, 1]]), t, [2], 3)
    with pytest.raises(ValueError, match="targets have shape"):
        ranking_metrics(np.array([[0, 1]]), csr([[0]], 4), [2], 3)
    with pytest.raises(ValueError, match="K must be >= 1"):
        ranking_metrics(np.array([[0, 1]]), t, [0], 3)
    with pytest.raises(TypeError, match="scipy.sparse"):
        ranking_metrics(np.array([[0, 1]]), np.ones((1, 3)), [2], 3)
