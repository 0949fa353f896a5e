# SPDX-License-Identifier: Apache-2.0
"""Convolutional networks on several ranks (CPU, N processes under mpirun): a Convolutional
layer's output channels are divided (each rank holds its channels' filters and biases and computes
their maps, which the ranks gather), Pooling and batch-normalized layers are replicated (every rank
computes them whole), the other fully-connected layers divided, and N ranks train to
what one rank reaches (1e-5 relative), bitwise alike run after run; N = 1 through MPI is bitwise
the one-process path; a saved network predicts on N ranks what it predicts on one (the replicated
layers bitwise) and saves back to the same file; a network saved on N ranks loads back unchanged;
what several ranks cannot run is refused naming the layers."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dsstne

pytest.importorskip("mpi4py", reason="the model-parallel tests need mpi4py (pip install "
                                     "'.[test]')")
netCDF4 = pytest.importorskip("netCDF4")
if not dsstne.mpi_built():
    pytest.skip("this libdsstne has no MPI communicator (no MPI at build time)",
                allow_module_level=True)
MPIRUN = shutil.which("mpirun") or shutil.which("mpiexec")
if MPIRUN is None:
    pytest.skip("mpirun is not installed (Debian: openmpi-bin)", allow_module_level=True)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mp_conv_cases  # noqa: E402

TOLERANCE = 1e-5
# The bias of a connection into a batch-normalized layer has a zero gradient but for rounding
# (the normalization subtracts the batch mean): it stays within this of zero on any rank count.
NOISE = 1e-6
DEVICE = os.environ.get("DSSTNE_DEVICE", "cpu")


def mpirun(ranks, *args, timeout=180):
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1")
    return subprocess.run([MPIRUN, "-np", str(ranks), sys.executable,
                           str(HERE / "mp_conv_worker.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=environment)


def relative(reference, got):
    scale = max(float(np.max(np.abs(reference))), 1e-30) if reference.size else 1.0
    return float(np.max(np.abs(reference - got))) / scale if reference.size else 0.0


@pytest.fixture(scope="module")
def one_rank():
    return {name: mp_conv_cases.run_case(name, dsstne.Context(DEVICE, seed=7))
            for name in mp_conv_cases.CASES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpconv")
    out = {}
    for ranks, attempt in ((1, 0), (2, 0), (3, 0), (3, 1)):
        directory = root / f"n{ranks}_{attempt}"
        directory.mkdir()
        run = mpirun(ranks, "train", directory, *mp_conv_cases.CASES)
        assert run.returncode == 0, run.stdout + run.stderr
        out[(ranks, attempt)] = {name: dict(np.load(directory / f"{name}.npz"))
                                 for name in mp_conv_cases.CASES}
    return out


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("case", sorted(mp_conv_cases.CASES))
def test_n_ranks_train_to_the_weights_of_one(one_rank, runs, ranks, case):
    reference, got = one_rank[case], runs[(ranks, 0)][case]
    assert sorted(got) == sorted(reference)
    assert any(key.startswith("bn:") for key in reference)
    for key, values in reference.items():
        if key == "topk_items":
            continue
        assert got[key].shape == values.shape, key
        if key in mp_conv_cases.BIAS_BEFORE_NORMALIZATION[case]:
            assert np.max(np.abs(got[key] - values)) <= NOISE, key
            continue
        assert relative(values, got[key]) <= TOLERANCE, (key, relative(values, got[key]))
    same = got["topk_items"] == reference["topk_items"]
    assert np.all(same | (np.abs(got["topk_scores"] - reference["topk_scores"]) <= 1e-5))


def test_one_rank_through_mpi_is_bitwise_the_local_path(one_rank, runs):
    for case, reference in one_rank.items():
        for key, values in reference.items():
            np.testing.assert_array_equal(runs[(1, 0)][case][key], values, err_msg=case + key)


def test_two_runs_on_three_ranks_are_bitwise_identical(runs):
    for case, first in runs[(3, 0)].items():
        for key, values in first.items():
            np.testing.assert_array_equal(runs[(3, 1)][case][key], values, err_msg=case + key)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The convnet trained two epochs on one rank and saved."""
    path = tmp_path_factory.mktemp("mpconv_saved") / "one.nc"
    net = dsstne.Network(mp_conv_cases.CASES["convnet"], mp_conv_cases.data_for("convnet"),
                         batch=16, context=dsstne.Context(DEVICE, seed=7))
    net.train(2, alpha=0.02, optimizer="adam", mu=0.9)
    dsstne.save_network(net, path)
    return path, net


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_saved_network_predicts_on_n_ranks_as_on_one_and_saves_back_unchanged(
        saved, tmp_path, ranks):
    path, net = saved
    run = mpirun(ranks, "predict", path, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    got = np.load(tmp_path / "predicted.npz")
    # Replicated layers compute what one rank computes, bit for bit; the divided ones add their
    # ranks' parts (the SoftMax's normalizer) in another order.
    for name in ("c1", "p1", "lrn"):
        np.testing.assert_array_equal(got[name], net.predict(layer=name), err_msg=name)
    for name in ("fc", "bn", "out"):
        np.testing.assert_allclose(got[name], net.predict(layer=name), rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    scores, top = net.predict_topk(2)
    np.testing.assert_allclose(got["topk_scores"], scores, rtol=1e-6, atol=1e-7)
    assert np.all((got["topk_items"] == top) | (np.abs(got["topk_scores"] - scores) <= 1e-6))
    with netCDF4.Dataset(path) as a, netCDF4.Dataset(tmp_path / "resaved.nc") as b:
        assert set(a.ncattrs()) == set(b.ncattrs())
        for k in a.ncattrs():
            assert np.array_equal(np.asarray(a.getncattr(k)), np.asarray(b.getncattr(k))), k
        assert set(a.variables) == set(b.variables)
        for name, variable in a.variables.items():
            np.testing.assert_array_equal(variable[:], b.variables[name][:], err_msg=name)


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_network_saved_on_n_ranks_loads_back_unchanged(tmp_path, ranks):
    # The worker loads its save back on the same ranks and checks parameters, optimizer state,
    # batch-norm buffers, predictions, top-K and a further epoch against the network it saved.
    run = mpirun(ranks, "roundtrip", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    loaded = dsstne.load_network(tmp_path / "saved.nc", mp_conv_cases.data_for("convnet"),
                                 batch=16, context=dsstne.Context(DEVICE, seed=7))
    np.testing.assert_allclose(loaded.predict(), np.load(tmp_path / "predicted.npy"), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("ranks", [2, 3])
def test_what_several_ranks_cannot_run_is_refused_naming_the_layers(ranks):
    run = mpirun(ranks, "refused")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("refused ok") == ranks, run.stdout


@pytest.mark.parametrize("name", sorted(mp_conv_cases.REFUSED))
def test_one_rank_runs_what_several_refuse(name):
    config = mp_conv_cases.REFUSED[name][0]
    net = dsstne.Network(config, mp_conv_cases.refused_data(name), batch=8,
                         context=dsstne.Context(DEVICE, seed=7))
    assert np.isfinite(net.train(1, alpha=0.01)[0]["error"])
