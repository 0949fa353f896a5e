# SPDX-License-Identifier: Apache-2.0
"""Arrays going into a DataSet: metadata that disagrees with the arrays is refused before C++
sees a pointer, duplicates are merged with a warning, and on the CPU the data set views the
caller's arrays instead of copying them."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne


class FakeCsr:
    """An object whose tocsr() hands over arrays and a shape that may lie."""

    def __init__(self, indptr, indices, data, shape):
        self.indptr, self.indices, self.data, self.shape = indptr, indices, data, shape

    def tocsr(self):
        return self


def good():
    return (np.array([0, 2, 3], np.int64), np.array([1, 4, 0], np.int32),
            np.ones(3, np.float32), (2, 5))


@pytest.mark.parametrize("change, message", [
    (lambda p, i, d, s: (np.array([0, 2, 9], np.int64), i, d, s), "ends at 9 but there are only 3"),
    (lambda p, i, d, s: (np.array([0, 3, 2], np.int64), i, d, s), "example 1: the CSR indptr "
                                                                   "decreases from 3 to 2"),
    (lambda p, i, d, s: (np.array([-1, 2, 3], np.int64), i, d, s), "starts at -1"),
    (lambda p, i, d, s: (p, i, d, (5, 5)), "6 entries for 5 rows|3 entries for 5 rows"),
    (lambda p, i, d, s: (p, i, d, (1, 5)), "3 entries for 1 rows"),
    (lambda p, i, d, s: (p, i, d[:1] * 2, s), "1 values for 3 stored entries"),
    (lambda p, i, d, s: (p.astype(np.float64), i, d, s), "indptr must be a 1-D array of integers"),
    (lambda p, i, d, s: (p, i.reshape(3, 1), d, s), "indices must be a 1-D array of integers"),
    (lambda p, i, d, s: (p, i, d, (2, 5, 1)), "2-D shape"),
])
def test_csr_metadata_that_lies_is_refused(change, message):
    indptr, indices, data, shape = change(*good())
    with pytest.raises(ValueError, match=message):
        dsstne.DataSet("x", FakeCsr(indptr, indices, data, shape))


def test_csr_negative_and_oversized_indices():
    indptr, indices, data, shape = good()
    with pytest.raises(IndexError, match="example 1: negative sparse index -3"):
        dsstne.DataSet("x", FakeCsr(indptr, np.array([1, 4, -3], np.int32), data, shape))
    with pytest.raises(IndexError, match="does not fit 32 bits"):
        dsstne.DataSet("x", FakeCsr(indptr, np.array([1, 4, 2**40], np.int64), data, shape))
    with pytest.raises(IndexError, match="example 0: index 7 is beyond the width 5"):
        dsstne.DataSet("x", FakeCsr(indptr, np.array([1, 7, 2], np.int32), data, shape))


def test_csr_shape_must_be_integers():
    indptr, indices, data, _ = good()
    with pytest.raises(TypeError, match="integer shape"):
        dsstne.DataSet("x", FakeCsr(indptr, indices, data, (2.5, 5)))
    with pytest.raises(TypeError, match="tocsr"):
        dsstne.DataSet("x", type("NoArrays", (), {"tocsr": lambda self: object()})())


def test_unreferenced_trailing_entries_are_ignored():
    indptr, indices, data, shape = good()
    fake = FakeCsr(indptr, np.array([1, 4, 0, 99], np.int32), np.ones(4, np.float32), shape)
    ds = dsstne.DataSet("x", fake)
    assert ds.nnz == 3
    np.testing.assert_array_equal(ds.to_scipy().toarray(), sp.csr_matrix(
        (data, indices, indptr), shape=shape).toarray())


def test_duplicate_entries_of_a_set_stay_boolean():
    coo = sp.coo_matrix((np.ones(4, np.float32), ([0, 0, 1, 1], [2, 2, 3, 0])), shape=(2, 5))
    with pytest.warns(dsstne.DataWarning, match="1 repeated .* kept once .*Boolean"):
        ds = dsstne.DataSet("x", coo)
    assert ds.boolean and ds.nnz == 3
    np.testing.assert_array_equal(ds.to_scipy().toarray(), [[0, 0, 1, 0, 0], [1, 0, 0, 1, 0]])
    # A CSR that repeats a column in place (not canonical) is merged the same way.
    csr = sp.csr_matrix((np.ones(3, np.float32), [1, 1, 2], [0, 3]), shape=(1, 4))
    with pytest.warns(dsstne.DataWarning, match="1 repeated"):
        ds = dsstne.DataSet("y", csr, boolean=True)
    assert ds.nnz == 2


def test_duplicate_entries_of_analog_data_are_summed_with_a_warning():
    csr = sp.csr_matrix((np.array([0.5, 0.25, 2.0], np.float32), [1, 1, 2], [0, 3]),
                        shape=(1, 4))
    with pytest.warns(dsstne.DataWarning, match="1 repeated .* summed"):
        ds = dsstne.DataSet("x", csr)
    assert not ds.boolean
    net = dsstne.Network({"Kind": "FeedForward", "ErrorFunction": "L2", "Layers": [
        {"Name": "in", "Kind": "Input", "N": 4, "DataSet": "x"},
        {"Name": "out", "Kind": "Output", "N": 4, "DataSet": "x", "Activation": "Linear"}]}, ds)
    net.weight("in", "out").weights = np.eye(4, dtype=np.float32)
    net.weight("in", "out").bias = np.zeros(4, np.float32)
    np.testing.assert_allclose(net.predict(), [[0, 0.75, 2.0, 0]])


def test_out_of_order_rows_are_not_duplicates():
    csr = sp.csr_matrix((np.ones(3, np.float32), [3, 0, 2], [0, 3]), shape=(1, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = dsstne.DataSet("x", csr, context=CPU)
    assert ds.boolean and ds.nnz == 3 and ds.shares_memory


# ---- zero copy (on the CPU backend; a GPU data set copies to the device) ----------------------
CPU = dsstne.Context("cpu")


def test_cpu_data_set_views_the_callers_sparse_arrays():
    m = sp.random(50, 40, density=0.2, format="csr", random_state=3, dtype=np.float32)
    m.indptr = m.indptr.astype(np.int64)
    ds = dsstne.DataSet("x", m, context=CPU)
    assert ds.shares_memory
    arrays = ds.sparse_arrays()
    assert np.shares_memory(arrays["indices"], m.indices)
    assert np.shares_memory(arrays["values"], m.data)
    assert np.shares_memory(arrays["start"], m.indptr)
    # The viewed arrays are frozen: a change now would bypass the data set's checks.
    for arr in (m.indices, m.data, m.indptr):
        assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        m.indices[0] = 10**6
    assert not arrays["values"].flags.writeable


def test_cpu_data_set_views_dense_arrays_and_copy_opts_out():
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    ds = dsstne.DataSet("x", x, context=CPU)
    assert ds.shares_memory and not x.flags.writeable
    assert np.shares_memory(ds.to_numpy(), x)
    y = np.random.default_rng(1).random((6, 4)).astype(np.float32)
    copied = dsstne.DataSet("y", y, copy=True, context=CPU)
    assert not copied.shares_memory and y.flags.writeable
    y[0, 0] = 7.0  # the copy does not see it
    assert copied.to_numpy()[0, 0] != 7.0


def test_arrays_that_do_not_fit_are_copied_once_and_left_writable():
    x = np.random.default_rng(0).random((6, 4))[:, ::2]  # float64, not contiguous
    ds = dsstne.DataSet("x", x, context=CPU)
    assert x.flags.writeable and not np.shares_memory(ds.to_numpy(), x)
    coo = sp.coo_matrix(np.eye(3, dtype=np.float32))  # tocsr() makes new arrays
    dsstne.DataSet("c", coo)
    assert coo.data.flags.writeable


def test_views_keep_the_data_set_alive():
    m = sp.random(30, 20, density=0.3, format="csr", random_state=4, dtype=np.float32)
    expected = m.toarray()
    values = dsstne.DataSet("x", m.copy()).sparse_arrays()["values"]
    import gc
    gc.collect()
    np.testing.assert_array_equal(np.sort(values), np.sort(expected[expected != 0]))


def test_to_scipy_of_records_in_any_order():
    # start/end not back to back (e.g. from a DSSTNE file): gathered in record order.
    m = sp.csr_matrix((np.arange(1, 6, dtype=np.float32), [0, 1, 2, 3, 4], [0, 2, 2, 5]),
                      shape=(3, 5))
    ds = dsstne.DataSet("x", m, copy=True)
    np.testing.assert_array_equal(ds.to_scipy().toarray(), m.toarray())
