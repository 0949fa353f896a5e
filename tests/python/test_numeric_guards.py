# SPDX-License-Identifier: Apache-2.0
"""No silent wrong answer: divergence is caught for every loss, targets outside a loss's range
and data that do not fit a layer are refused, everything is checked before training changes a
weight, what a config accepts can be saved and loaded back, and networks too big for memory
fail at once."""

import json
import time

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne


def items(rows=30, cols=10, seed=0):
    m = sp.random(rows, cols, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    m.data[:] = 1
    return m


def network(loss="CrossEntropy", output="Sigmoid", hidden="Sigmoid", n_in="auto", n_out="auto",
            in_set="x", out_set="x", sparse=True, **top):
    cfg = {"Kind": "FeedForward", "ErrorFunction": loss, "Layers": [
        {"Name": "Input", "Kind": "Input", "N": n_in, "DataSet": in_set, "Sparse": sparse},
        {"Name": "Hidden", "Kind": "Hidden", "N": 5, "Activation": hidden},
        {"Name": "Output", "Kind": "Output", "N": n_out, "DataSet": out_set,
         "Activation": output}]}
    cfg.update(top)
    return cfg


# ---- divergence --------------------------------------------------------------------------------

LOSSES = [("L1", "Linear"), ("L2", "Linear"), ("L2Hinge", "Linear"), ("Hinge", "Linear"),
          ("CrossEntropy", "Sigmoid"), ("CrossEntropy", "SoftMax"),
          ("ScaledMarginalCrossEntropy", "Sigmoid"),
          ("DataScaledMarginalCrossEntropy", "Sigmoid")]


@pytest.mark.parametrize("loss, output", LOSSES)
@pytest.mark.parametrize("hidden", ["Sigmoid", "RectifiedLinear"])
def test_divergence_is_caught_for_every_loss(device, loss, output, hidden):
    ctx = dsstne.Context(device)
    x = dsstne.DataSet("x", items(), context=ctx)
    if loss == "Hinge":
        targets = np.where(items().toarray() > 0, 1.0, -1.0).astype(np.float32)
        y = dsstne.DataSet("y", targets, context=ctx)
    elif loss == "DataScaledMarginalCrossEntropy":
        m = items()
        m.data = np.linspace(0.5, 3, m.nnz).astype(np.float32)
        y = dsstne.DataSet("y", m, context=ctx)
    else:
        y = dsstne.DataSet("y", items(), context=ctx)
    net = dsstne.Network(network(loss, output, hidden, out_set="y"), [x, y], batch=10,
                         context=ctx)
    with pytest.raises(dsstne.NumericalError, match="diverged|negative"):
        net.train(3, alpha=1e30)


@pytest.mark.parametrize("optimizer, lambda_", [("sgd", 0.0), ("sgd", 1e-4), ("adam", 1e-4)])
def test_a_diverged_batch_leaves_the_weights_of_the_batches_before_it(device, optimizer, lambda_):
    """The third batch's targets overflow the L2 error. On a GPU the error is read only at the
    end of the epoch, so the later batches are already queued when the host sees it; they must
    change nothing: the weights and the step count are those after two batches, exactly as a
    network trained on the first two batches alone has them. SGD takes its steps inside the
    gradient's product (with and without weight decay), which must stop as well."""
    ctx = dsstne.Context(device, seed=5)
    x = items(40, 10).toarray()
    y = x.copy()
    y[20:30] = 1e30  # finite, so the binding accepts it; its square is not
    cfg = network("L2", "Linear", out_set="y", sparse=False, ShuffleIndices=False)
    net = dsstne.Network(cfg, [dsstne.DataSet("x", x, context=ctx),
                               dsstne.DataSet("y", y, context=ctx)], batch=10, context=ctx)
    with pytest.raises(dsstne.NumericalError, match="diverged in epoch 1 at example 20"):
        net.train(1, alpha=0.1, optimizer=optimizer, lambda_=lambda_)
    assert net.steps == 2 and net.epochs_trained == 0
    ref = dsstne.Network(cfg, [dsstne.DataSet("x", x[:20], context=ctx),
                               dsstne.DataSet("y", y[:20], context=ctx)], batch=10, context=ctx)
    ref.train(1, alpha=0.1, optimizer=optimizer, lambda_=lambda_)
    for name in (("Input", "Hidden"), ("Hidden", "Output")):
        np.testing.assert_array_equal(net.weight(*name).weights, ref.weight(*name).weights)
        np.testing.assert_array_equal(net.weight(*name).bias, ref.weight(*name).bias)
    # The next call starts afresh: its first two batches update again, then it stops as before.
    with pytest.raises(dsstne.NumericalError, match="diverged in epoch 1 at example 20"):
        net.train(1, alpha=0.1, optimizer=optimizer, lambda_=lambda_)
    ref.train(1, alpha=0.1, optimizer=optimizer, lambda_=lambda_)
    assert net.steps == 4
    np.testing.assert_array_equal(net.weight("Input", "Hidden").weights,
                                  ref.weight("Input", "Hidden").weights)


def test_weights_that_overflow_away_from_the_error_are_caught():
    """Weights can overflow where no error sees them (here a side layer that feeds nothing, whose
    weight decay alpha·lambda = 3 doubles and flips them each step: -inf, then NaN); the check of
    every weight after each epoch still catches it."""
    cfg = network("L2", "Linear")
    cfg["Layers"].insert(2, {"Name": "Side", "Kind": "Hidden", "N": 3, "Source": "Input"})
    cfg["Layers"][3]["Source"] = "Hidden"
    net = dsstne.Network(cfg, dsstne.DataSet("x", items()), batch=10)
    side = net.weight("Input", "Side")
    side.weights = np.full(side.shape, -3e38, np.float32)
    with pytest.raises(dsstne.NumericalError, match="epoch 1: the weights of Input->Side hold "
                                                    "NaN or infinite values"):
        net.train(1, alpha=1.0, lambda_=3.0)


# ---- targets and data that do not fit -----------------------------------------------------------

def test_cross_entropy_targets_outside_zero_one_are_refused():
    targets = np.random.default_rng(0).uniform(0, 5, (30, 10)).astype(np.float32)
    with pytest.raises(ValueError, match="'Output': CrossEntropy needs targets in \\[0, 1\\] "
                                         "but data set 'y' holds values from .* to 4.9"):
        dsstne.Network(network(out_set="y", sparse=False),
                       [dsstne.DataSet("x", items()), dsstne.DataSet("y", targets)])
    # A SoftMax output reads any non-negative targets as a distribution.
    dsstne.Network(network(output="SoftMax", out_set="y", sparse=False),
                   [dsstne.DataSet("x", items()), dsstne.DataSet("y", targets)])
    negative = -targets
    with pytest.raises(ValueError, match="needs targets in \\[0, inf\\]"):
        dsstne.Network(network(output="SoftMax", out_set="y"),
                       [dsstne.DataSet("x", items()), dsstne.DataSet("y", negative)])


def test_a_pair_table_on_a_sparse_auto_layer_is_refused():
    """An integer (user, item) table is not sparse data: as dense data it would make a 2-unit
    network trained to a negative error."""
    pairs = np.array([[0, 5], [0, 7], [1, 3], [2, 9]], dtype=np.int64)
    with pytest.raises(ValueError, match="'Input' is declared \"Sparse\": true with \"N\": "
                                         "\"auto\" but data set 'x' is dense \\(4 x 2\\)"):
        dsstne.Network(network(), dsstne.DataSet("x", pairs))


def test_dense_data_of_the_declared_size_may_feed_a_sparse_layer():
    """As in DSSTNE, the data decide: a dense copy of sparse data feeds the same network."""
    m = items()
    sparse_net = dsstne.Network(network(n_in=10, n_out=10), dsstne.DataSet("x", m))
    dense_net = dsstne.Network(network(n_in=10, n_out=10), dsstne.DataSet("x", m.toarray()))
    np.testing.assert_allclose(dense_net.predict(), sparse_net.predict(), rtol=1e-6)


def test_values_beyond_float32_are_refused_when_bound():
    big = np.ones((30, 10))
    big[3, 4] = 1e300
    ds = dsstne.DataSet("x", big)  # a faithful container (e.g. for writing NetCDF)
    assert ds.data_type == "Double"
    with pytest.raises(ValueError, match="beyond the float32 range"):
        dsstne.Network(network(loss="L2", output="Linear", sparse=False), ds)


def test_narrower_data_are_refused_for_prediction():
    net = dsstne.Network(network(n_in=10, n_out=10), dsstne.DataSet("x", items()))
    narrow = dsstne.DataSet("x", items(cols=8))
    with pytest.raises(ValueError, match="data set 'x' has 8 units per example .* layer "
                                         "'Input' has 10"):
        net.predict(narrow)
    with pytest.raises(ValueError, match="has 8 units"):
        net.predict_topk(3, narrow)


def test_validation_data_are_checked_before_training():
    net = dsstne.Network(network(n_in=10, n_out=10), dsstne.DataSet("x", items()), batch=8)
    before = net.weight("Input", "Hidden").weights
    for bad, message in ((dsstne.DataSet("x", items(cols=9)), "has 9 units"),
                         ({"Input": dsstne.DataSet("x", items())}, "give layer 'Output' no data set")):
        with pytest.raises(ValueError, match=message):
            net.train(2, alpha=0.5, validation=bad)
        np.testing.assert_array_equal(net.weight("Input", "Hidden").weights, before)
        assert net.epochs_trained == 0
    history = net.train(1, alpha=0.5, validation=dsstne.DataSet("x", items(seed=3)))
    assert history[0]["validation_error"] is not None


# ---- what is not supported (yet) ------------------------------------------------------------

def test_batch_normalization_is_applied_not_ignored():
    cfg = network()
    plain = dsstne.Network(cfg, dsstne.DataSet("x", items()), seed=4)
    cfg["Layers"][1]["BatchNormalization"] = True
    normalized = dsstne.Network(cfg, dsstne.DataSet("x", items()), seed=4)
    assert normalized.layer("Hidden").batch_norm is not None
    # Same weights; the running statistics (mean 0, variance 1) still move the units by ε.
    assert not np.array_equal(plain.predict(), normalized.predict())


def test_delta_boost_leaves_marginal_cross_entropy_deltas_alone():
    def deltas(**top):
        net = dsstne.Network(network("ScaledMarginalCrossEntropy", **top),
                             dsstne.DataSet("x", items()), batch=30, seed=5)
        net.forward_batch(0, "validation")
        net.backward_batch()
        return net.layer("Output").deltas
    plain = deltas()
    np.testing.assert_array_equal(deltas(DeltaBoost={"one": 30, "zero": 0.5}), plain)
    # CrossEntropy with sparse targets still boosts, as DSSTNE's sigmoid kernels do.
    def ce(**top):
        net = dsstne.Network(network(**top), dsstne.DataSet("x", items()), batch=30, seed=5)
        net.forward_batch(0, "validation")
        net.backward_batch()
        return net.layer("Output").deltas
    assert not np.array_equal(ce(DeltaBoost={"one": 30, "zero": 0.5}), ce())


# ---- memory ------------------------------------------------------------------------------------

def test_a_network_too_big_for_memory_fails_at_once():
    wide = dsstne.DataSet("x", sp.csr_matrix((np.ones(2, np.float32), [0, 99_999], [0, 1, 2]),
                                             shape=(2, 100_000)))
    cfg = network(n_out=10)
    cfg["Layers"][1]["N"] = 16_000_000
    start = time.monotonic()
    with pytest.raises(MemoryError, match="weights Input->Hidden \\(100000 x 16000000"):
        dsstne.Network(cfg, [wide, dsstne.DataSet("y", np.zeros((2, 10), np.float32))])
    assert time.monotonic() - start < 30  # an estimate, not minutes of page faults


def test_a_batch_too_big_for_memory_names_the_layer():
    net = dsstne.Network(network(n_in=10, n_out=10), dsstne.DataSet("x", items()))
    with pytest.raises(MemoryError, match="batch 4000000000000 needs .* of (host|GPU) memory.*"
                                          "layer '(Hidden|Output)' \\(batch 4000000000000 x"):
        net.batch = 4_000_000_000_000
    assert net.batch == 512


# ---- what a config accepts round-trips ------------------------------------------------------

def test_extreme_accepted_values_save_and_load(tmp_path):
    cfg = network(RELUSlope=3.4e38, Maxout={"k": 2**31 - 1}, LRN={"n": 2**31 - 1, "k": -3e38},
                  Decay=0.0, Denoising={"p": 0.999999})
    cfg["Layers"][1].update({"Name": "h\u00e9 \u4e2d", "WeightInit": {"Scale": 1e-38,
                                                                     "Bias": -3.4e38}})
    cfg["Layers"][2]["Source"] = "h\u00e9 \u4e2d"
    net = dsstne.Network(cfg, dsstne.DataSet("x", items()))
    dsstne.save_network(net, tmp_path / "m.nc")
    back = dsstne.load_network(tmp_path / "m.nc", dsstne.DataSet("x", items()))
    assert json.loads(back.config) == json.loads(net.config)
    np.testing.assert_array_equal(back.predict(), net.predict())


def test_sizes_taken_from_data_obey_the_limits_of_written_ones():
    wide = sp.csr_matrix((np.ones(1, np.float32), [3_000_000_000], [0, 1]),
                         shape=(1, 3_000_000_001))
    ds = dsstne.DataSet("x", wide)
    with pytest.raises(ValueError, match="has 3000000001 units .* at most 2147483647"):
        dsstne.Network(network(n_out=4), ds)
