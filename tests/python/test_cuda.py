# SPDX-License-Identifier: Apache-2.0
"""The CUDA backend against the CPU reference on whole networks, and GPU-only behaviour. Every
test here needs a GPU: it skips without one, and fails under DSSTNE_REQUIRE_GPU=1."""

import os

import numpy as np
import pytest

import dsstne
from dsstne import synthetic

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def need_gpu():
    if dsstne.cuda_built() and dsstne.cuda_device_count() > 0:
        return
    reason = ("this build has no CUDA backend" if not dsstne.cuda_built()
              else "no CUDA device is visible")
    if os.environ.get("DSSTNE_REQUIRE_GPU") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def benchmark_3x1024(width):
    """DSSTNE's benchmark_movielens_3x1024 network with a smaller catalogue."""
    return {
        "Version": 0.8, "Name": "3x1024", "ShuffleIndices": True,
        "ScaledMarginalCrossEntropy": {"oneTarget": 1.0, "zeroTarget": 0.0, "oneScale": 1.0,
                                       "zeroScale": 1.0},
        "Layers": [
            {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "gl_input",
             "Sparse": True},
            *[{"Name": f"Hidden{i}", "Kind": "Hidden", "N": 1024, "Activation": "Sigmoid",
               "pDropout": 0.5, "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01}}
              for i in (1, 2, 3)],
            {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "gl_output",
             "Activation": "Sigmoid", "Sparse": True,
             "WeightInit": {"Scheme": "Gaussian", "Scale": 0.01, "Bias": -10.2}},
        ],
        "ErrorFunction": "ScaledMarginalCrossEntropy",
    }


def train(device, matrix, epochs=3):
    ctx = dsstne.Context(device, seed=2026)
    data = [dsstne.DataSet("gl_input", matrix, context=ctx),
            dsstne.DataSet("gl_output", matrix, context=ctx)]
    net = dsstne.Network(benchmark_3x1024(matrix.shape[1]), data, batch=64, context=ctx)
    history = net.train(epochs, alpha=0.001, mu=0.9, lambda_=0.0, optimizer="rmsprop")
    return net, [h["error"] for h in history]


def test_three_epochs_of_the_benchmark_network_agree_with_the_cpu():
    matrix = synthetic.interactions(320, 600, per_user=20, groups=8, zipf=0.8, seed=11)
    cpu, cpu_errors = train("cpu", matrix)
    gpu, gpu_errors = train("cuda", matrix)
    np.testing.assert_allclose(gpu_errors, cpu_errors, rtol=1e-4)
    for wc, wg in zip(cpu.weights, gpu.weights):
        scale = np.abs(wc.weights).max()
        np.testing.assert_allclose(wg.weights, wc.weights, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=f"{wc.input}->{wc.output}")
        np.testing.assert_allclose(wg.bias, wc.bias, rtol=1e-4, atol=1e-4 * np.abs(wc.bias).max(),
                                   err_msg=f"{wc.input}->{wc.output} bias")


def test_two_gpu_runs_are_bitwise_identical():
    matrix = synthetic.interactions(200, 300, per_user=15, seed=5)
    first, first_errors = train("cuda", matrix, epochs=2)
    second, second_errors = train("cuda", matrix, epochs=2)
    assert first_errors == second_errors
    for a, b in zip(first.weights, second.weights):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)


def test_gpu_out_of_memory_names_the_weights_and_size():
    ctx = dsstne.Context("cuda")
    data = dsstne.DataSet("x", synthetic.interactions(4, 1000, per_user=3), context=ctx)
    config = {"Version": 0.8, "Name": "huge", "ErrorFunction": "L2", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "N": 4_000_000_000 // 1000 * 100},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x"}]}
    # The estimate made before allocating refuses it at once, naming the largest part.
    with pytest.raises(MemoryError, match=r"network 'huge' with batch 2 needs .* of GPU memory "
                                          r".* weights Input->Hidden \(1000 x 400000000 floats"):
        dsstne.Network(config, data, batch=2, context=ctx)
    # the device is still usable afterwards
    small = dict(config, Layers=[config["Layers"][0], dict(config["Layers"][1], N=8),
                                 config["Layers"][2]])
    dsstne.Network(small, data, batch=2, context=ctx).train(1)


def test_data_sets_follow_the_network_to_the_gpu():
    matrix = synthetic.interactions(50, 40, per_user=5, seed=2)
    cpu_data = dsstne.DataSet("gl_input", matrix, context=dsstne.Context("cpu"))
    net = dsstne.Network({"Version": 0.8, "Name": "n", "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "gl_input", "Sparse": True},
        {"Name": "Output", "Kind": "Output", "N": 40, "DataSet": "gl_input"}]},
        cpu_data, batch=16, device="cuda")
    assert net.context.is_cuda
    assert net.predict().shape == (50, 40)


def test_tf32_is_an_opt_in_of_the_context():
    assert not dsstne.Context("cuda").tf32
    matrix = synthetic.interactions(64, 300, per_user=10, seed=4)
    exact, _ = train("cuda", matrix, epochs=1)
    ctx = dsstne.Context("cuda", seed=2026, tf32=True)
    assert ctx.tf32
    data = [dsstne.DataSet("gl_input", matrix, context=ctx),
            dsstne.DataSet("gl_output", matrix, context=ctx)]
    fast = dsstne.Network(benchmark_3x1024(300), data, batch=64, context=ctx)
    fast.train(1, alpha=0.001, mu=0.9, lambda_=0.0, optimizer="rmsprop")
    # TF32 rounds products to a 10-bit mantissa: close to, but not equal to, float32
    w_exact, w_fast = exact.weight("Hidden1", "Hidden2").weights, \
        fast.weight("Hidden1", "Hidden2").weights
    assert not np.array_equal(w_exact, w_fast)
    np.testing.assert_allclose(w_fast, w_exact, atol=1e-3)
    # a float32 context after a TF32 one is exact float32 again
    again, _ = train("cuda", matrix, epochs=1)
    assert np.array_equal(again.weight("Hidden1", "Hidden2").weights, w_exact)


def test_wide_sparse_input_steps_listed_rows_like_the_cpu():
    """A wide sparse input under SGD without decay (the gradient cleared and stepped row by row,
    test_wide_sparse_rows.py): with a linear L2 output every kernel of the step is bitwise the
    CPU's, and so are the weights after two epochs."""
    matrix = synthetic.interactions(64, 4000, per_user=6, seed=9)
    cfg = {"Version": 0.8, "Name": "wide", "Kind": "FeedForward", "ShuffleIndices": True,
           "ErrorFunction": "L2",
           "Layers": [{"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x",
                       "Sparse": True},
                      {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x",
                       "Activation": "Linear", "Sparse": True}]}
    finals = []
    for device in ("cpu", "cuda"):
        ctx = dsstne.Context(device, seed=4)
        net = dsstne.Network(cfg, [dsstne.DataSet("x", matrix, context=ctx)], batch=8,
                             context=ctx)
        net.train(2, alpha=0.5, lambda_=0.0, lambda1=0.0, optimizer="sgd")
        finals.append(net.weight("Input", "Output").weights)
    np.testing.assert_array_equal(finals[0].view(np.uint32), finals[1].view(np.uint32))
