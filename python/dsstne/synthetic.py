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
        Mean draws per user (1 + Poisson(per_user − 1), capped at `items`); repeated draws of
        one item collapse, so popular catalogues give slightly fewer interactions.
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
    counts = np.minimum(1 + rng.poisson(max(per_user - 1.0, 0.0), size=users), items)
    user_of = np.repeat(np.arange(users, dtype=np.int64), counts)
    # Each interaction comes from the user's group (with probability `taste`) or from the whole
    # catalogue, drawn by inverse CDF of the popularity; vectorised so that MovieLens-20M-sized
    # data (20M interactions) takes seconds.
    from_group = rng.random(user_of.size) < taste
    chosen = np.empty(user_of.size, dtype=np.int64)
    everything = np.cumsum(popularity)
    pick = ~from_group
    chosen[pick] = np.minimum(np.searchsorted(everything, rng.random(pick.sum()) * everything[-1]),
                              items - 1)
    for g in range(groups):
        members = np.arange(g, items, groups)
        cdf = np.cumsum(popularity[members])
        pick = from_group & (user_of % groups == g)
        draw = np.searchsorted(cdf, rng.random(pick.sum()) * cdf[-1])
        chosen[pick] = members[np.minimum(draw, members.size - 1)]
    # Repeated draws of one item by one user collapse into one interaction.
    keys = np.unique(user_of * items + chosen)
    rows, cols = keys // items, keys % items
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=users), out=indptr[1:])
    data = np.ones(cols.size, dtype=np.float32)
    return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(users, items))


def group_of(user: int, groups: int = 8) -> int:
    """The taste group of a user made by :func:`interactions`."""
    return user % groups


def write_data_text(path, matrix, *, sample="u{}", feature="i{}") -> None:
    """Writes the stored entries of `matrix` (users × items, any scipy.sparse) as DSSTNE data
    text, one line per row, ``u0<TAB>i3:i17:...`` (labels from the `sample` and `feature`
    formats of the row and column numbers; values are left out), the input of
    ``dsstne generateNetCDF`` and ``dsstne predict``."""
    csr = sp.csr_matrix(matrix)
    csr.sort_indices()
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in range(csr.shape[0]):
            items = csr.indices[csr.indptr[row]:csr.indptr[row + 1]]
            f.write(sample.format(row) + "\t" + ":".join(feature.format(i) for i in items) + "\n")
