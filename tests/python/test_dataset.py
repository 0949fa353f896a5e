# SPDX-License-Identifier: Apache-2.0
"""DataSet round trips and attributes, and that the engine reads the stored values as documented
(spec/math.md §1): a Linear Input(n) → Output(m) network with known weights predicts x·W + b for
analog, Boolean, Weighted, Indexed, one-hot and 8-bit data."""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

SPARSE = 1
BOOLEAN = 2
SPARSE_IGNORE_ZERO = 32
INDEXED = 64
WEIGHTED = 128

# numpy dtype → DSSTNE DataType name, and values that are exact in that type (not all 1).
DTYPES = {
    np.float32: ("Float", [0.5, -2.25, 3.0, 7.125, 1e-3, 1.0]),
    np.float64: ("Double", [0.1, -2.0e300, 3.0, 1.0 / 3.0, 5e-320, 1.0]),
    np.int32: ("Int", [-7, 2_000_000_000, 3, -2_147_483_648, 5, 1]),
    np.uint32: ("UInt", [7, 4_000_000_000, 3, 4_294_967_295, 5, 1]),
    np.int64: ("LLInt", [-7, 2**62, 3, -(2**63), 5, 1]),
    np.uint64: ("ULLInt", [7, 2**64 - 1, 3, 2**63, 5, 1]),
    np.uint8: ("UChar", [7, 255, 3, 128, 5, 1]),
    np.int8: ("Char", [-7, 127, 3, -128, 5, 1]),
}


def csr(values, dtype, shape=(4, 9)):
    """4 rows: 2 entries, none, 3 entries (unsorted indices), 1 entry."""
    return sp.csr_matrix((np.array(values, dtype=dtype), [1, 7, 8, 0, 4, 2], [0, 2, 2, 5, 6]),
                         shape=shape)


# ---- round trips and attributes ---------------------------------------------------------------

def test_sparse_boolean_auto_detected():
    m = csr(np.ones(6), np.float32)
    ds = dsstne.DataSet("b", m)
    assert ds.sparse and ds.boolean and not ds.weighted and not ds.indexed
    assert ds.attributes == SPARSE | BOOLEAN == 3
    assert ds.data_type == "UInt"
    assert (ds.examples, ds.records, ds.nnz, ds.dims, ds.width, ds.units) == (4, 4, 6, (9,), 9, 9)
    assert len(ds) == 4
    arrays = ds.sparse_arrays()
    assert arrays["values"] is None
    np.testing.assert_array_equal(arrays["start"], [0, 2, 2, 5])
    np.testing.assert_array_equal(arrays["end"], [2, 2, 5, 6])
    np.testing.assert_array_equal(arrays["indices"], [1, 7, 8, 0, 4, 2])  # storage order kept
    back = ds.to_scipy()
    assert back.shape == m.shape
    np.testing.assert_array_equal(back.toarray(), m.toarray())
    # asking for analog storage of all-ones data keeps the values
    analog = dsstne.DataSet("a", m, boolean=False)
    assert analog.attributes == SPARSE and analog.data_type == "Float"
    np.testing.assert_array_equal(analog.sparse_arrays()["values"], np.ones(6, np.float32))


def test_sparse_boolean_forced_drops_values():
    m = csr([2, 3, 4, 5, 6, 7], np.float32)
    ds = dsstne.DataSet("b", m, boolean=True)
    assert ds.attributes == 3 and ds.sparse_arrays()["values"] is None
    np.testing.assert_array_equal(ds.to_scipy().toarray(), (m.toarray() != 0).astype(np.float32))


@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda d: np.dtype(d).name)
def test_sparse_analog_round_trip(dtype):
    name, values = DTYPES[dtype]
    m = csr(values, dtype)
    ds = dsstne.DataSet("analog", m)
    assert ds.attributes == SPARSE and not ds.boolean
    assert ds.data_type == name
    arrays = ds.sparse_arrays()
    assert arrays["values"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(arrays["values"], np.array(values, dtype=dtype))
    np.testing.assert_array_equal(arrays["indices"], m.indices)
    back = ds.to_scipy()
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.toarray(), m.toarray())


def test_sparse_any_scipy_format_and_dims():
    m = csr([1.5, 2, 3, 4, 5, 6], np.float32, shape=(4, 12))
    for fmt in (m.tocoo(), m.tocsc(), m.tolil()):
        ds = dsstne.DataSet("f", fmt)
        np.testing.assert_array_equal(ds.to_scipy().toarray(), m.toarray())
    ds = dsstne.DataSet("img", m, dims=(3, 4))
    assert ds.dims == (3, 4) and ds.width == 4 and ds.units == 12
    ds = dsstne.DataSet("vol", m, dims=(2, 3, 2))
    assert ds.dims == (2, 3, 2) and ds.units == 12


DENSE_DTYPES = list(DTYPES) + [np.uint16]


@pytest.mark.parametrize("dtype", DENSE_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dense_round_trip(dtype, rng):
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        arr = rng.integers(info.min, info.max, size=(5, 7), dtype=dtype, endpoint=True)
    else:
        arr = rng.standard_normal((5, 7)).astype(dtype)
    ds = dsstne.DataSet("d", arr)
    assert not ds.sparse and not ds.boolean and ds.attributes == 0
    if dtype in DTYPES:
        assert ds.data_type == DTYPES[dtype][0]
    assert (ds.examples, ds.records, ds.dims, ds.units, len(ds)) == (5, 5, (7,), 7, 5)
    assert ds.density == 1.0
    out = ds.to_numpy()
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    with pytest.raises(ValueError, match="'d' is dense"):
        ds.sparse_arrays()


@pytest.mark.parametrize("shape", [(6, 3, 5), (4, 2, 3, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int64])
def test_dense_multidimensional(shape, dtype):
    arr = (np.arange(np.prod(shape)) % 100).astype(dtype).reshape(shape)
    ds = dsstne.DataSet("img", arr)
    assert ds.dims == shape[1:]
    assert ds.width == shape[-1] and ds.units == int(np.prod(shape[1:]))
    assert ds.examples == shape[0]
    np.testing.assert_array_equal(ds.to_numpy(), arr)


def test_one_hot():
    hot = [2, 0, 3, 3, 1]
    ds = dsstne.DataSet.one_hot("oh", hot, 4)
    assert ds.boolean and not ds.sparse and ds.attributes == BOOLEAN
    assert (ds.examples, ds.dims, ds.units) == (5, (4,), 4)
    np.testing.assert_array_equal(ds.to_numpy(), np.eye(4, dtype=np.float32)[hot])
    with pytest.raises(IndexError, match="data set 'oh', example 1: hot index 4"):
        dsstne.DataSet.one_hot("oh", [0, 4], 4)


def test_weighted():
    m = csr([1.5, 2, 3, 4, 5, 6], np.float32)
    w = [0.5, 2.0, 1.0, 0.25]
    ds = dsstne.DataSet("w", m, weights=w)
    assert ds.weighted and ds.attributes == SPARSE | WEIGHTED
    assert ds.weights.dtype == np.float32
    np.testing.assert_array_equal(ds.weights, np.array(w, np.float32))
    assert dsstne.DataSet("u", m).weights is None
    dense = dsstne.DataSet("dw", np.ones((3, 2), np.float32), weights=[1, 2, 3])
    assert dense.attributes == WEIGHTED
    np.testing.assert_array_equal(dense.weights, [1, 2, 3])


def test_indexed():
    m = csr([1.5, 2, 3, 4, 5, 6], np.float32)
    index = [3, 0, 0, 2, 1, 3, 3]
    ds = dsstne.DataSet("ix", m, index=index)
    assert ds.indexed and ds.attributes == SPARSE | INDEXED
    assert ds.examples == len(ds) == len(index) == 7
    assert ds.records == 4
    np.testing.assert_array_equal(ds.index, index)
    np.testing.assert_array_equal(ds.to_scipy().toarray(), m.toarray())  # the stored records
    assert dsstne.DataSet("plain", m).index is None
    both = dsstne.DataSet("iw", m, index=index, weights=np.arange(7))
    assert both.attributes == SPARSE | INDEXED | WEIGHTED
    np.testing.assert_array_equal(both.weights, np.arange(7))
    dense = dsstne.DataSet("dix", np.ones((2, 3), np.float32), index=[1, 1, 0])
    assert (dense.examples, dense.records, dense.attributes) == (3, 2, INDEXED)


def test_sparse_ignore_zero():
    m = csr([1.5, 2, 3, 4, 5, 6], np.float32)
    ds = dsstne.DataSet("s", m, sparse_ignore_zero=True)
    assert ds.sparse_ignore_zero and ds.attributes == SPARSE | SPARSE_IGNORE_ZERO
    ds.sparse_ignore_zero = False
    assert not ds.sparse_ignore_zero and ds.attributes == SPARSE
    ds.sparse_ignore_zero = True
    assert ds.attributes & SPARSE_IGNORE_ZERO
    b = dsstne.DataSet("b", csr(np.ones(6), np.float32), sparse_ignore_zero=True)
    assert b.attributes == SPARSE | BOOLEAN | SPARSE_IGNORE_ZERO
    dense = dsstne.DataSet("d", np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="data set 'd': SparseIgnoreZero needs sparse data"):
        dense.sparse_ignore_zero = True
    assert dense.attributes == 0
    dense.sparse_ignore_zero = False  # turning it off is always fine


def test_rename_density_len():
    m = csr([1.5, 2, 3, 4, 5, 6], np.float32)
    ds = dsstne.DataSet("old", m)
    ds.name = "new"
    assert ds.name == "new" and "new" in repr(ds)
    assert ds.density == pytest.approx(6 / (4 * 9))
    assert len(ds) == 4
    # the new name is what binds
    net = dsstne.Network(linear_config(9, 2, "new"), ds, batch=2)
    assert net.examples == 4
    with pytest.raises(ValueError, match="'new' matches no layer"):
        dsstne.Network(linear_config(9, 2, "old"), ds, batch=2)


def test_boolean_input_to_float_dtype():
    """numpy bool data is stored as Float 0/1."""
    arr = np.array([[True, False], [False, True]])
    ds = dsstne.DataSet("bool", arr)
    assert ds.data_type == "Float"
    np.testing.assert_array_equal(ds.to_numpy(), arr.astype(np.float32))


# ---- how the engine reads the values ------------------------------------------------------------

N_IN, N_OUT = 9, 3


def linear_config(n_in, n_out, data_set="x"):
    return {"Version": 0.8, "Name": "linear", "ErrorFunction": "L2", "ShuffleIndices": False,
            "Layers": [
                {"Name": "Input", "Kind": "Input", "N": n_in, "DataSet": data_set},
                {"Name": "Output", "Kind": "Output", "N": n_out, "DataSet": "target",
                 "Activation": "Linear"}]}


@pytest.fixture
def ctx(device):
    return dsstne.Context(device)


@pytest.fixture
def wb(rng):
    return (rng.standard_normal((N_IN, N_OUT)).astype(np.float32),
            rng.standard_normal(N_OUT).astype(np.float32))


def predict_linear(ds, wb, ctx, batch=3):
    """Predictions of Input(N_IN) → Output(N_OUT), Linear, with weights W and bias b."""
    net = dsstne.Network(linear_config(N_IN, N_OUT, ds.name), ds, batch=batch, context=ctx)
    w = net.weight("Input", "Output")
    w.weights, w.bias = wb
    np.testing.assert_array_equal(w.weights, wb[0])
    np.testing.assert_array_equal(w.bias, wb[1])
    return net.predict().astype(np.float64)


def expected(x, wb):
    return np.asarray(x, np.float64) @ wb[0].astype(np.float64) + wb[1].astype(np.float64)


def check(ds, x, wb, ctx):
    np.testing.assert_allclose(predict_linear(ds, wb, ctx), expected(x, wb), rtol=1e-5,
                               atol=1e-5)


def analog(rng, rows=7, dtype=np.float32, low=-3.0, high=3.0):
    m = sp.random(rows, N_IN, density=0.4, format="csr", random_state=rng, dtype=np.float64)
    m.data = rng.uniform(low, high, m.nnz)
    m = m.astype(dtype)
    m.eliminate_zeros()
    return m


def test_predict_sparse_analog(ctx, wb, rng):
    m = analog(rng)
    ds = dsstne.DataSet("x", m, context=ctx)
    assert not ds.boolean
    check(ds, m.toarray(), wb, ctx)


def test_predict_sparse_boolean(ctx, wb, rng):
    m = analog(rng)
    m.data[:] = 1
    ds = dsstne.DataSet("x", m, context=ctx)
    assert ds.boolean
    check(ds, m.toarray(), wb, ctx)
    # a forced-Boolean data set reads every stored unit as 1, whatever its value
    m2 = analog(rng, low=2.0, high=5.0)
    ds2 = dsstne.DataSet("x", m2, boolean=True, context=ctx)
    check(ds2, (m2.toarray() != 0).astype(np.float32), wb, ctx)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint32, np.int64, np.uint64])
def test_predict_sparse_plain_conversion(ctx, wb, rng, dtype):
    low = 0 if np.issubdtype(dtype, np.unsignedinteger) else -9
    m = analog(rng, dtype=dtype, low=low, high=9)
    ds = dsstne.DataSet("x", m, context=ctx)
    check(ds, m.toarray().astype(np.float64), wb, ctx)


def test_predict_dense(ctx, wb, rng):
    x = rng.standard_normal((7, N_IN)).astype(np.float32)
    check(dsstne.DataSet("x", x, context=ctx), x, wb, ctx)


def test_predict_one_hot(ctx, wb):
    hot = [3, 0, 8, 8, 5]
    ds = dsstne.DataSet.one_hot("x", hot, N_IN, context=ctx)
    check(ds, np.eye(N_IN)[hot], wb, ctx)


def test_predict_weighted_scales_inputs(ctx, wb, rng):
    m = analog(rng)
    weights = np.array([0.5, 2.0, 0.0, 1.0, -1.5, 3.0, 0.25], np.float32)
    check(dsstne.DataSet("x", m, weights=weights, context=ctx), weights[:, None] * m.toarray(),
          wb, ctx)
    m = m.copy()  # the data set above views m's arrays, which it made read-only
    m.data[:] = 1  # Boolean
    check(dsstne.DataSet("x", m, weights=weights, context=ctx), weights[:, None] * m.toarray(),
          wb, ctx)
    x = rng.standard_normal((7, N_IN)).astype(np.float32)  # dense
    check(dsstne.DataSet("x", x, weights=weights, context=ctx), weights[:, None] * x, wb, ctx)
    hot = [1, 2, 3, 4, 5, 6, 7]  # one-hot
    check(dsstne.DataSet.one_hot("x", hot, N_IN, weights=weights, context=ctx),
          weights[:, None] * np.eye(N_IN)[hot], wb, ctx)


def test_predict_indexed_reads_index_rows(ctx, wb, rng):
    m = analog(rng, rows=4)
    index = np.array([3, 0, 3, 2, 1, 1, 0, 2, 3])
    ds = dsstne.DataSet("x", m, index=index, context=ctx)
    check(ds, m.toarray()[index], wb, ctx)
    x = rng.standard_normal((4, N_IN)).astype(np.float32)
    check(dsstne.DataSet("x", x, index=index, context=ctx), x[index], wb, ctx)
    # Indexed + Weighted: the weight belongs to the example, not to the stored record
    weights = np.linspace(-1, 2, index.size).astype(np.float32)
    check(dsstne.DataSet("x", m, index=index, weights=weights, context=ctx),
          weights[:, None] * m.toarray()[index], wb, ctx)
    check(dsstne.DataSet.one_hot("x", [4, 7], N_IN, index=[1, 0, 0, 1], context=ctx),
          np.eye(N_IN)[[7, 4, 4, 7]], wb, ctx)


# The engine's one rule for 8-bit data (spec/math.md §1.2, DESIGN.md): uint8 → v/256,
# int8 → v/128, for dense and sparse data, inputs and targets alike.
EIGHT_BIT = [(np.uint8, 256.0), (np.int8, 128.0)]


@pytest.mark.parametrize("dtype, scale", EIGHT_BIT, ids=["uint8", "int8"])
def test_predict_8bit_dense_input(ctx, wb, rng, dtype, scale):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(7, N_IN), dtype=dtype, endpoint=True)
    x[0, :2] = [info.min, info.max]
    check(dsstne.DataSet("x", x, context=ctx), x.astype(np.float64) / scale, wb, ctx)


@pytest.mark.parametrize("dtype, scale", EIGHT_BIT, ids=["uint8", "int8"])
def test_predict_8bit_sparse_input(ctx, wb, rng, dtype, scale):
    info = np.iinfo(dtype)
    m = analog(rng, dtype=np.float64)
    m.data = rng.integers(max(info.min, -100), info.max, m.nnz, endpoint=True).astype(np.float64)
    m.data[m.data == 0] = 3
    m.data[m.data == 1] = 2  # keep the data analog
    m = m.astype(dtype)
    ds = dsstne.DataSet("x", m, context=ctx)
    assert ds.data_type == {np.uint8: "UChar", np.int8: "Char"}[dtype]
    check(ds, m.toarray().astype(np.float64) / scale, wb, ctx)
    # Indexed 8-bit data follows the same rule (DSSTNE scaled it differently)
    index = [2, 2, 0, 6, 1]
    check(dsstne.DataSet("x", m, index=index, context=ctx),
          m.toarray()[index].astype(np.float64) / scale, wb, ctx)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype, scale", EIGHT_BIT, ids=["uint8", "int8"])
def test_8bit_targets_scaled_by_the_same_rule(ctx, rng, dtype, scale, sparse):
    """An identity network fed t/scale as float reproduces 8-bit targets t exactly: zero error."""
    info = np.iinfo(dtype)
    t = rng.integers(max(info.min, -120), info.max, size=(6, 5), endpoint=True).astype(dtype)
    t[t == 1] = 2
    t[:, 0] = 0
    x = dsstne.DataSet("x", t.astype(np.float32) / np.float32(scale), context=ctx)
    target = dsstne.DataSet("target", sp.csr_matrix(t) if sparse else t, context=ctx)
    net = dsstne.Network(linear_config(5, 5), [x, target], batch=4, context=ctx)
    w = net.weight("Input", "Output")
    w.weights, w.bias = np.eye(5, dtype=np.float32), np.zeros(5, np.float32)
    assert net.error() == pytest.approx(0.0, abs=1e-10)
    # and an unscaled prediction is wrong by the expected L2 amount: ½·Σ(t − t/scale)² per example
    x_raw = dsstne.DataSet("x", t.astype(np.float32), context=ctx)
    tf = t.astype(np.float64)
    want = 0.5 * np.sum((tf - tf / scale) ** 2) / t.shape[0]
    assert net.error({"Input": x_raw, "Output": target}) == pytest.approx(want, rel=1e-5)
