# SPDX-License-Identifier: Apache-2.0
"""dsstne.evaluate.splits: the strong-generalization and random splits are reproducible, leak
no target into the input or the training set, and have the documented sizes."""

import numpy as np
import pytest
import scipy.sparse as sp

from dsstne import synthetic
from dsstne.evaluate import make_split, random_split, strong_generalization
from dsstne.evaluate.metrics import binary


def small():
    """10 users × 20 items (4 or 5 items each; some stored values are 2: values are ignored)."""
    return sp.csr_matrix(np.kron(np.eye(5), np.ones((2, 4))) + np.eye(10, 20, 3))


@pytest.fixture
def data():
    return synthetic.interactions(300, 80, per_user=12, seed=4)


def same(a, b):
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices))


def assert_same_split(a, b):
    for name in ("train", "eval_input", "eval_target"):
        assert same(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.eval_users, b.eval_users)
    assert np.array_equal(a.train_users, b.train_users)


def test_strong_is_reproducible_and_seeds_differ(data):
    a = strong_generalization(data, seed=3)
    assert_same_split(a, strong_generalization(data, seed=3))
    b = strong_generalization(data, seed=4)
    assert not np.array_equal(a.eval_users, b.eval_users)
    # the random stream is pinned: PCG64 gives this split on every machine
    s = strong_generalization(small(), heldout=3, target_fraction=0.5, seed=0)
    assert s.eval_users.tolist() == [2, 4, 6]
    rows, cols = s.eval_target.nonzero()
    assert rows.tolist() == [0, 0, 1, 1, 1, 2, 2, 2]
    assert cols.tolist() == [4, 6, 8, 10, 11, 9, 14, 15]


def test_strong_leaks_nothing(data):
    s = strong_generalization(data, heldout=0.25, target_fraction=0.3, seed=1)
    full = binary(data)
    assert s.eval_input.multiply(s.eval_target).nnz == 0               # no target in the input
    assert same(binary(s.eval_input + s.eval_target), full[s.eval_users])  # nothing lost
    assert np.intersect1d(s.train_users, s.eval_users).size == 0
    assert np.array_equal(np.union1d(s.train_users, s.eval_users), np.arange(300))
    assert same(s.train, full[s.train_users])
    assert np.all(np.diff(s.train_users) > 0) and np.all(np.diff(s.eval_users) > 0)
    assert s.n_items == 80 and s.protocol == "strong" and s.seed == 1


def test_strong_sizes():
    counts = [2, 3, 5, 7, 8, 10, 13, 1, 0, 20]
    rows = np.repeat(np.arange(10), counts)
    cols = np.concatenate([np.arange(c) for c in counts])
    m = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(10, 25))
    s = strong_generalization(m, heldout=8, target_fraction=0.2, seed=0)
    # users with fewer than 2 items (7 and 8) always train
    assert s.eval_users.tolist() == [0, 1, 2, 3, 4, 5, 6, 9]
    # round-half-up(0.2 n), at least 1, at most n - 1
    assert np.diff(s.eval_target.indptr).tolist() == [1, 1, 1, 1, 2, 2, 3, 4]
    half = strong_generalization(m, heldout=8, target_fraction=0.25, seed=0)
    assert np.diff(half.eval_target.indptr).tolist() == [1, 1, 1, 2, 2, 3, 3, 5]  # 0.5 → 1
    # a fraction of all users, rounded half up
    assert len(strong_generalization(m, heldout=0.25, seed=0).eval_users) == 3   # 2.5 → 3
    assert len(strong_generalization(m, heldout=0.2, seed=0).eval_users) == 2


def test_random_split(data):
    s = random_split(data, test_fraction=0.2, seed=2)
    full = binary(data)
    assert s.eval_target.nnz == int(np.floor(0.2 * full.nnz + 0.5))
    assert s.train.nnz + s.eval_target.nnz == full.nnz
    assert np.array_equal(s.train_users, np.arange(300))
    rows, cols = s.eval_target.nonzero()
    test = sp.csr_matrix((np.ones(rows.size), (s.eval_users[rows], cols)), shape=full.shape)
    assert (s.train.multiply(test)).nnz == 0
    assert same(binary(s.train + test), full)
    assert np.array_equal(s.eval_users, np.flatnonzero(np.diff(binary(test).indptr)))
    assert same(s.eval_input, s.train[s.eval_users])
    assert_same_split(s, random_split(data, test_fraction=0.2, seed=2))
    assert not same(s.train, random_split(data, test_fraction=0.2, seed=3).train)
    pinned = random_split(small(), 0.2, seed=0)
    assert pinned.eval_users.tolist() == [0, 1, 2, 4, 9]
    assert pinned.eval_target.nonzero()[1].tolist() == [1, 2, 0, 6, 8, 9, 10, 16, 17]
    assert_same_split(make_split(data, "random", 2), s)


def test_values_are_ignored(data):
    weighted = data.copy()
    weighted.data = np.arange(weighted.nnz, dtype=np.float32) % 5   # zeros included
    assert_same_split(strong_generalization(weighted, seed=7), strong_generalization(data, seed=7))
    assert_same_split(random_split(weighted.tocoo(), seed=7), random_split(data, seed=7))


@pytest.mark.parametrize("kwargs, message", [
    ({"heldout": 0.0}, "heldout must be a fraction"),
    ({"heldout": 1.0}, "heldout must be a fraction"),
    ({"heldout": True}, "heldout must be a fraction"),
    ({"heldout": 10}, "between 1 and 9"),
    ({"heldout": 0.01}, "holds out 0"),
    ({"target_fraction": 0.0}, "target_fraction must be a fraction"),
    ({"target_fraction": 1.5}, "target_fraction must be a fraction"),
    ({"seed": -1}, "seed must be an integer"),
])
def test_strong_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        strong_generalization(small(), **kwargs)


def test_other_errors():
    with pytest.raises(ValueError, match="only 1 of 3 users have the 2 or more"):
        strong_generalization(sp.csr_matrix(np.array([[1, 1], [1, 0], [0, 0]])), heldout=2)
    with pytest.raises(ValueError, match="is empty"):
        strong_generalization(sp.csr_matrix((5, 4)))
    with pytest.raises(ValueError, match="is empty"):
        random_split(sp.csr_matrix((0, 4)))
    with pytest.raises(ValueError, match="test_fraction must be"):
        random_split(small(), test_fraction=1.0)
    with pytest.raises(ValueError, match="holds out 0"):
        random_split(small(), test_fraction=0.001)
    with pytest.raises(TypeError, match="scipy.sparse"):
        random_split(np.ones((3, 3)))
    with pytest.raises(ValueError, match="protocol must be"):
        make_split(small(), "weak")
