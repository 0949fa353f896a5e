# SPDX-License-Identifier: Apache-2.0
"""Top-k selection and the ranking metrics of recommendation quality.

:func:`top_k` turns a block of scores into item lists (descending score, ties by ascending item
id, excluded items never returned, short rows padded with -1); :func:`ranking_metrics` scores
those lists against the held-out target items with binary relevance:

* Recall@K = hits / min(K, |targets|) — Liang et al. 2018's normalised recall, which reaches 1
  when the list is as good as it can be;
* Precision@K = hits / K (a -1 padding slot counts as a miss);
* NDCG@K = Σ rel_r / log2(r + 1) over ranks r = 1 … K, divided by the same sum for
  min(K, |targets|) hits at the top;
* MAP@K = (1 / min(K, |targets|)) Σ_{r ≤ K} Precision@r · rel_r;
* Coverage@K = distinct items in the top K of the evaluated users / number of items.

Users with no target are left out of every average, coverage included; the result says how many
users were evaluated. Every metric is NaN when no user has a target.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["top_k", "ranking_metrics", "binary", "METRICS"]

#: metric names, in the order reports show them
METRICS = ("recall", "ndcg", "precision", "map", "coverage")


def binary(matrix, what="matrix"):
    """`matrix` as a canonical CSR matrix of ones (sorted indices, duplicates merged): every
    stored entry, whatever its value (zero included), is one interaction."""
    if not sp.issparse(matrix):
        raise TypeError(f"{what} must be a scipy.sparse matrix, got {type(matrix).__name__}")
    m = sp.csr_matrix(matrix)
    ones = sp.csr_matrix((np.ones(m.nnz, dtype=np.float32), m.indices.astype(np.int64),
                          m.indptr.astype(np.int64)), shape=m.shape)
    ones.sum_duplicates()  # also sorts the indices
    ones.data[:] = 1.0
    return ones


def top_k(scores, exclude, k, *, first_row=0):
    """The `k` best items of each row of `scores`.

    Parameters
    ----------
    scores : array (users, items)
        Any real dtype; NaN is refused (ValueError naming the row, counted from `first_row`).
    exclude : scipy.sparse matrix (users, items), boolean array or None
        Items never returned for that row (e.g. the user's input items).
    k : int
        Items per row; may exceed the number of items.

    Returns
    -------
    numpy.ndarray of int64, (users, k)
        Item ids by descending score, ties by ascending id; a row with fewer than `k`
        candidates ends with -1.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users, items), got shape {scores.shape}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows, items = scores.shape
    nan_rows = np.flatnonzero(np.isnan(scores).any(axis=1)) if scores.dtype.kind == "f" else []
    if len(nan_rows):
        r = int(nan_rows[0])
        item = int(np.flatnonzero(np.isnan(scores[r]))[0])
        raise ValueError(f"score of row {first_row + r}, item {item} is NaN; NaN cannot be ranked "
                         f"({len(nan_rows)} rows hold NaN)")
    # Sort keys: ascending key = descending score; NaN marks an excluded item, which every sort
    # and partition of numpy puts after all numbers (-inf scores included).
    key = np.negative(scores, dtype=np.float64)
    if exclude is not None:
        _mark_excluded(key, exclude)
    out = np.full((rows, k), -1, dtype=np.int64)
    take = min(k, items)
    if rows == 0 or take == 0:
        return out
    chosen = _select(key, take)
    counts = chosen.sum(axis=1)
    row_of, item_of = np.nonzero(chosen)   # row-major: each row's items in ascending id
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(row_of.size) - np.repeat(starts, counts)
    picked = np.full((rows, take), -1, dtype=np.int64)
    picked[row_of, slot] = item_of
    picked_key = np.full((rows, take), np.nan)
    picked_key[row_of, slot] = key[row_of, item_of]
    # stable: equal scores keep their ascending ids; padding (NaN) goes last
    order = np.argsort(picked_key, axis=1, kind="stable")
    out[:, :take] = np.take_along_axis(picked, order, axis=1)
    return out


def _mark_excluded(key, exclude):
    if sp.issparse(exclude):
        ex = sp.csr_matrix(exclude)
        if ex.shape != key.shape:
            raise ValueError(f"exclude has shape {ex.shape}, scores have {key.shape}")
        key[np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr)), ex.indices] = np.nan
    else:
        ex = np.asarray(exclude, dtype=bool)
        if ex.shape != key.shape:
            raise ValueError(f"exclude has shape {ex.shape}, scores have {key.shape}")
        key[ex] = np.nan


def _select(key, take):
    """Boolean mask of the `take` smallest keys of each row (fewer where a row has fewer
    non-NaN keys); among equal keys at the boundary the lowest item ids win."""
    rows, items = key.shape
    candidates = ~np.isnan(key)
    if take == items:
        return candidates
    kth = np.partition(key, take - 1, axis=1)[:, take - 1:take]   # NaN: fewer candidates
    with np.errstate(invalid="ignore"):
        below = key < kth
        tied = key == kth
    room = take - below.sum(axis=1)
    chosen = below | tied
    # Only rows with more ties at the boundary than places left need the (costly) running count.
    crowded = np.flatnonzero(tied.sum(axis=1) > room)
    if crowded.size:
        ties = tied[crowded]
        chosen[crowded] = below[crowded] | (ties & (np.cumsum(ties, axis=1)
                                                    <= room[crowded, None]))
    short = np.isnan(kth[:, 0])
    chosen[short] = candidates[short]
    return chosen


def _discounts(length):
    return 1.0 / np.log2(np.arange(2, length + 2, dtype=np.float64))


def ranking_metrics(top_items, targets, ks, n_items):
    """Recall, NDCG, Precision, MAP and Coverage at each K of `ks` (see the module docstring).

    Parameters
    ----------
    top_items : int array (users, L)
        Recommended item ids per user, best first, distinct within a row, -1 for empty slots;
        L >= max(ks).
    targets : scipy.sparse matrix (users, n_items)
        The relevant items of each user (any stored entry is relevant).
    ks : iterable of int
    n_items : int
        Size of the catalogue (coverage's denominator).

    Returns
    -------
    dict
        ``"recall@K"``, ``"ndcg@K"``, ``"precision@K"``, ``"map@K"``, ``"coverage@K"`` for each
        K (floats) and ``"users"``: how many users have at least one target.
    """
    top = np.asarray(top_items)
    ks = _check_ks(ks)
    n_items = int(n_items)
    if top.ndim != 2 or not np.issubdtype(top.dtype, np.integer):
        raise ValueError(f"top_items must be a 2-D integer array, got {top.dtype} {top.shape}")
    if top.shape[1] < ks[-1]:
        raise ValueError(f"top_items has {top.shape[1]} items per user, fewer than K = {ks[-1]}")
    top = top[:, :ks[-1]].astype(np.int64)
    targets = binary(targets, "targets")
    if targets.shape != (top.shape[0], n_items):
        raise ValueError(f"targets have shape {targets.shape}; expected ({top.shape[0]} users, "
                         f"{n_items} items) to match top_items and n_items")
    if top.size and (top.min() < -1 or top.max() >= n_items):
        raise ValueError(f"top_items holds item ids outside -1 … {n_items - 1}")
    _check_distinct(top)

    n_targets = np.diff(targets.indptr)
    users = n_targets > 0
    top, n_targets = top[users], n_targets[users]
    targets = targets[users]
    result = {"users": int(users.sum())}
    relevant = _hits(top, targets, n_items)
    discounts = _discounts(ks[-1])
    ideal = np.concatenate(([0.0], np.cumsum(discounts)))
    hits_so_far = np.cumsum(relevant, axis=1)
    precision_at = hits_so_far / np.arange(1, ks[-1] + 1)
    for k in ks:
        rel = relevant[:, :k]
        best = np.minimum(k, n_targets)
        hits = hits_so_far[:, k - 1]
        values = {
            "recall": hits / best,
            "ndcg": (rel * discounts[:k]).sum(axis=1) / ideal[best],
            "precision": hits / k,
            "map": (precision_at[:, :k] * rel).sum(axis=1) / best,
        }
        for name, per_user in values.items():
            result[f"{name}@{k}"] = float(per_user.mean()) if len(top) else float("nan")
        shown = top[:, :k]
        distinct = np.unique(shown[shown >= 0]).size
        result[f"coverage@{k}"] = distinct / n_items if len(top) and n_items else float("nan")
    return result


def _check_ks(ks):
    if isinstance(ks, (int, np.integer)):
        ks = [ks]
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"every K must be >= 1, got {list(ks)}")
    return ks


def _check_distinct(top):
    ordered = np.sort(top, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        r = int(np.flatnonzero(repeated.any(axis=1))[0])
        item = int(ordered[r, 1:][repeated[r]][0])
        raise ValueError(f"top_items row {r} lists item {item} twice")


def _hits(top, targets, n_items):
    """Boolean (users, L): whether each recommended item is one of the user's targets."""
    rows = np.repeat(np.arange(targets.shape[0], dtype=np.int64), np.diff(targets.indptr))
    target_keys = rows * n_items + targets.indices      # sorted: canonical CSR
    if target_keys.size == 0:
        return np.zeros(top.shape, dtype=bool)
    top_keys = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    found = np.minimum(np.searchsorted(target_keys, top_keys), target_keys.size - 1)
    return (top >= 0) & (target_keys[found] == top_keys)
