# SPDX-License-Identifier: Apache-2.0
"""Seeded train/evaluation splits of a users × items interaction matrix.

* :func:`strong_generalization` (Liang et al. 2018): some users are held out of training
  entirely; each held-out user's items are split into input (what the model is shown) and
  targets (what it should find). Models are judged on users they never saw.
* :func:`random_split`: a random share of all interactions is held out; every user trains on the
  rest, and users with held-out interactions are evaluated on them (the protocol of the old
  DSSTNE comparisons, "weak generalization").

Interactions are binary: any stored entry of the matrix is one interaction, whatever its value.
Randomness comes from ``numpy.random.Generator(PCG64(seed))`` only, so a seed gives the same split
on every machine and numpy version that keeps PCG64's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .metrics import binary

__all__ = ["Split", "strong_generalization", "random_split", "make_split"]


@dataclass(frozen=True, eq=False)
class Split:
    """One train/evaluation split.

    ``train`` holds the training users' rows (original order); ``eval_input`` and
    ``eval_target`` hold, row for row, what each evaluated user shows the model and what it
    should recommend. ``train_users`` and ``eval_users`` are row ids into the original matrix.
    All matrices are CSR of float32 ones with ``n_items`` columns."""
    train: sp.csr_matrix
    eval_input: sp.csr_matrix
    eval_target: sp.csr_matrix
    train_users: np.ndarray
    eval_users: np.ndarray
    n_items: int
    protocol: str
    seed: int
    params: dict = field(default_factory=dict)

    def describe(self):
        return (f"{self.protocol} split (seed {self.seed}): {self.train.shape[0]} training users "
                f"with {self.train.nnz} interactions; {len(self.eval_users)} evaluated users "
                f"with {self.eval_input.nnz} input and {self.eval_target.nnz} target items")


def _generator(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return np.random.Generator(np.random.PCG64(int(seed)))


def _interactions(matrix):
    m = binary(matrix, "the interaction matrix")
    if m.shape[0] == 0 or m.shape[1] == 0 or m.nnz == 0:
        raise ValueError(f"the interaction matrix ({m.shape[0]} users × {m.shape[1]} items, "
                         f"{m.nnz} interactions) is empty")
    return m


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (float, int, np.floating, np.integer)) \
            or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")
    return float(value)


def _round_half_up(x):
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _rows_of(m):
    return np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))


def _from_entries(rows, cols, shape):
    """CSR of ones from (row, col) pairs sorted by row then col."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((np.ones(cols.size, dtype=np.float32), cols, indptr), shape=shape)


def _heldout_count(heldout, users):
    if isinstance(heldout, (int, np.integer)) and not isinstance(heldout, bool):
        count = int(heldout)
        if not 1 <= count < users:
            raise ValueError(f"heldout = {count} users must be between 1 and {users - 1} (the "
                             f"matrix has {users} users and training needs at least one)")
        return count
    fraction = _fraction(heldout, "heldout")
    count = int(_round_half_up(fraction * users))
    if not 1 <= count < users:
        raise ValueError(f"heldout = {fraction} of {users} users holds out {count}; it must hold "
                         f"out between 1 and {users - 1}")
    return count


def strong_generalization(matrix, heldout=0.2, target_fraction=0.2, seed=0):
    """Liang et al. 2018's protocol: hold out users, split each held-out user's items.

    Parameters
    ----------
    matrix : scipy.sparse matrix (users, items)
    heldout : float or int
        Share of all users (0 < f < 1, rounded half up) or number of users to hold out. They are
        drawn at random among the users with at least 2 interactions, so that each keeps at
        least one input and one target item; users with 0 or 1 interactions always train.
    target_fraction : float
        Share of each held-out user's items that become targets: round-half-up of
        ``target_fraction × n``, at least 1 and at most n − 1 (n = the user's item count).
    seed : int

    Raises
    ------
    ValueError
        Empty matrix, fractions outside (0, 1), or fewer eligible users than asked for.
    """
    m = _interactions(matrix)
    target_fraction = _fraction(target_fraction, "target_fraction")
    rng = _generator(seed)
    users = m.shape[0]
    count = _heldout_count(heldout, users)
    per_user = np.diff(m.indptr)
    eligible = np.flatnonzero(per_user >= 2)
    if count > eligible.size:
        raise ValueError(f"cannot hold out {count} users: only {eligible.size} of {users} users "
                         "have the 2 or more interactions a held-out user needs")
    eval_users = np.sort(rng.permutation(eligible)[:count])
    is_eval = np.zeros(users, dtype=bool)
    is_eval[eval_users] = True
    train_users = np.flatnonzero(~is_eval)

    held = m[eval_users]
    n = np.diff(held.indptr)
    n_targets = np.clip(_round_half_up(target_fraction * n), 1, n - 1)
    # Each held-out interaction draws a random key; the n_targets smallest keys of a user are
    # its targets (a uniform random subset of that size).
    rows = _rows_of(held)
    keys = rng.random(held.nnz)
    order = np.lexsort((keys, rows))
    rank = np.empty(held.nnz, dtype=np.int64)
    rank[order] = np.arange(held.nnz) - np.repeat(held.indptr[:-1], n)
    is_target = rank < np.repeat(n_targets, n)
    shape = (count, m.shape[1])
    return Split(
        train=m[train_users], eval_input=_from_entries(rows[~is_target],
                                                       held.indices[~is_target], shape),
        eval_target=_from_entries(rows[is_target], held.indices[is_target], shape),
        train_users=train_users, eval_users=eval_users, n_items=m.shape[1],
        protocol="strong", seed=int(seed),
        params={"heldout": heldout, "target_fraction": target_fraction})


def random_split(matrix, test_fraction=0.2, seed=0):
    """A random share of all interactions held out for testing.

    Exactly round-half-up(``test_fraction × interactions``) interactions, drawn uniformly
    without replacement, become test interactions; every user trains on the rest (``train`` has
    every user's row, in order). The evaluated users are those with at least one test
    interaction: their input is their training row (possibly empty), their targets their test
    interactions.
    """
    m = _interactions(matrix)
    test_fraction = _fraction(test_fraction, "test_fraction")
    rng = _generator(seed)
    count = int(_round_half_up(test_fraction * m.nnz))
    if not 1 <= count < m.nnz:
        raise ValueError(f"test_fraction = {test_fraction} of {m.nnz} interactions holds out "
                         f"{count}; it must hold out between 1 and {m.nnz - 1}")
    is_test = np.zeros(m.nnz, dtype=bool)
    is_test[rng.permutation(m.nnz)[:count]] = True
    rows = _rows_of(m)
    train = _from_entries(rows[~is_test], m.indices[~is_test], m.shape)
    test = _from_entries(rows[is_test], m.indices[is_test], m.shape)
    eval_users = np.flatnonzero(np.diff(test.indptr) > 0)
    return Split(
        train=train, eval_input=train[eval_users], eval_target=test[eval_users],
        train_users=np.arange(m.shape[0]), eval_users=eval_users, n_items=m.shape[1],
        protocol="random", seed=int(seed), params={"test_fraction": test_fraction})


def make_split(matrix, protocol="strong", seed=0, *, heldout=0.2, target_fraction=0.2):
    """The split of `protocol` ("strong" or "random"); for "random" `target_fraction` is the
    share of all interactions held out (`heldout` does not apply)."""
    if protocol == "strong":
        return strong_generalization(matrix, heldout, target_fraction, seed)
    if protocol == "random":
        return random_split(matrix, target_fraction, seed)
    raise ValueError(f"protocol must be 'strong' or 'random', got {protocol!r}")
