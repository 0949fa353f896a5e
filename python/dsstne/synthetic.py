# SPDX-License-Identifier: Apache-2.0
"""Reproducible synthetic interaction data shaped like real recommendation data.

Users belong to taste groups; each group prefers its own block of items; item popularity inside
the whole catalogue follows a Zipf-like law. Used by the quick start, the tests and the
benchmarks, so that nothing needs a download.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def interactions(users: int, items: int, per_user: float = 20.0, *, groups: int = 8,
                 taste: float = 0.7, zipf: float = 1.0, seed: int = 0) -> sp.csr_matrix:
    """A users × items Boolean CSR matrix (float32 ones, indices sorted, no duplicates).

    Parameters
    ----------
    users, items : int
        Matrix shape.
    per_user : float
        Mean interactions per user (the count is 1 + Poisson(per_user − 1), capped at `items`).
    groups : int
        Taste groups; group g prefers items whose index is ≡ g modulo `groups`.
    taste : float
        Probability that an interaction comes from the user's group rather than the whole
        catalogue.
    zipf : float
        Exponent of item popularity (0 = uniform).
    seed : int
        Seed of numpy's generator; the same arguments give the same matrix.
    """
    if users < 1 or items < 1:
        raise ValueError(f"users and items must be >= 1, got {users} and {items}")
    if not 0.0 <= taste <= 1.0:
        raise ValueError(f"taste must be in [0, 1], got {taste}")
    groups = max(1, min(groups, items))
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1, dtype=np.float64) ** zipf
    popularity = popularity[rng.permutation(items)]
    all_p = popularity / popularity.sum()
    group_p = []
    for g in range(groups):
        p = np.where(np.arange(items) % groups == g, popularity, 0.0)
        group_p.append(p / p.sum())
    counts = np.minimum(1 + rng.poisson(max(per_user - 1.0, 0.0), size=users), items)
    indptr = np.zeros(users + 1, dtype=np.int64)
    chunks = []
    for u in range(users):
        p = taste * group_p[u % groups] + (1.0 - taste) * all_p
        chosen = np.sort(rng.choice(items, size=counts[u], replace=False, p=p))
        chunks.append(chosen)
        indptr[u + 1] = indptr[u] + chosen.size
    indices = np.concatenate(chunks).astype(np.int32)
    data = np.ones(indices.size, dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(users, items))


def group_of(user: int, groups: int = 8) -> int:
    """The taste group of a user made by :func:`interactions`."""
    return user % groups
