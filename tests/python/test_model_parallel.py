# SPDX-License-Identifier: Apache-2.0
"""Model parallelism over MPI on the CPU: N processes under mpirun share each network (every
layer's units and every weight matrix split across the ranks) and train it to the weights one
process reaches (1e-5 relative), bitwise alike run after run; N = 1 through MPI is bitwise the
one-process path; predictions and top-K equal one rank's; a network saved from 3 ranks is the
one-rank file and loads on 2; a rank that dies or stops answering ends the job with an error."""

import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import dsstne

pytest.importorskip("mpi4py", reason="the model-parallel tests need mpi4py (pip install "
                                     "'.[test]')")
pytest.importorskip("netCDF4")
if not dsstne.mpi_built():
    pytest.skip("this libdsstne has no MPI communicator (no MPI at build time)",
                allow_module_level=True)
MPIRUN = shutil.which("mpirun") or shutil.which("mpiexec")
if MPIRUN is None:
    pytest.skip("mpirun is not installed (Debian: openmpi-bin)", allow_module_level=True)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mp_cases  # noqa: E402

TOLERANCE = 1e-5
# With DSSTNE_DEVICE=cuda (the GPU machine) every rank runs on the GPU, all sharing one when
# there is one, through the MPI communicator's host staging.
DEVICE = os.environ.get("DSSTNE_DEVICE", "cpu")


def mpirun(ranks, *args, timeout=120, env=None):
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1", **(env or {}))
    return subprocess.run([MPIRUN, "-np", str(ranks), sys.executable, str(HERE / "mp_worker.py"),
                           *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment)


def trained(ranks, directory, env=None):
    directory.mkdir(parents=True, exist_ok=True)
    run = mpirun(ranks, "train", directory, *mp_cases.CASES, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return {name: dict(np.load(directory / f"{name}.npz")) for name in mp_cases.CASES}


@pytest.fixture(scope="module")
def one_rank():
    return {name: mp_cases.run_case(name, dsstne.Context(DEVICE, seed=7))
            for name in mp_cases.CASES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mp")
    return {(ranks, attempt): trained(ranks, root / f"n{ranks}_{attempt}")
            for ranks, attempt in ((1, 0), (2, 0), (3, 0), (3, 1))}


def relative(reference, got):
    scale = max(float(np.max(np.abs(reference))), 1e-30) if reference.size else 1.0
    return float(np.max(np.abs(reference - got))) / scale if reference.size else 0.0


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("case", sorted(mp_cases.CASES))
def test_n_ranks_train_to_the_weights_of_one(one_rank, runs, ranks, case):
    reference, got = one_rank[case], runs[(ranks, 0)][case]
    assert sorted(got) == sorted(reference)
    for key, values in reference.items():
        if key == "topk_items" or key.startswith("split:"):
            continue
        assert got[key].shape == values.shape, key
        assert relative(values, got[key]) <= TOLERANCE, (key, relative(values, got[key]))
    # Top-K: the same items, but for scores that tie to rounding.
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


def test_weights_are_split_by_the_three_to_two_rule(one_rank, runs):
    rows = {key[6:] for case in runs[(3, 0)].values() for key, v in case.items()
            if key.startswith("split:") and v[0]}
    # 16 → 6 and 15 → 5 reduce a partial product (3·out ≤ 2·in); the rest gather their input.
    assert rows == {"H1->H2", "H0->H1", "H2->Output"}
    assert not any(v[0] for case in one_rank.values() for key, v in case.items()
                   if key.startswith("split:"))


def test_context_chooses_and_checks_its_transport():
    run = mpirun(1, "transports")
    assert run.returncode == 0 and "transports ok" in run.stdout, run.stdout + run.stderr


GPUS = dsstne.cuda_device_count() if DEVICE.startswith("cuda") else 0


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_nccl_trains_to_the_bits_of_mpi(runs, tmp_path, ranks):
    if not DEVICE.startswith("cuda"):
        pytest.skip("NCCL moves GPU memory: these tests run on the CPU (DSSTNE_DEVICE=cuda runs "
                    "them on GPUs)")
    if not dsstne.nccl_built():
        if os.environ.get("DSSTNE_REQUIRE_GPU") == "1":
            pytest.fail("DSSTNE_REQUIRE_GPU=1 but this libdsstne has no NCCL communicator")
        pytest.skip("this libdsstne has no NCCL communicator (no NCCL at build time)")
    if GPUS < ranks:
        pytest.skip(f"NCCL needs one GPU per rank: {GPUS} GPUs for {ranks} ranks")
    # Both transports add the ranks' parts in rank order: the same bits.
    got = trained(ranks, tmp_path, env={"DSSTNE_TRANSPORT": "nccl"})
    for case, reference in runs[(ranks, 0)].items():
        for key, values in reference.items():
            np.testing.assert_array_equal(got[case][key], values, err_msg=case + key)


def test_a_save_from_three_ranks_is_the_one_rank_file_and_loads_on_two(tmp_path):
    import netCDF4
    net = dsstne.Network(mp_cases.CASES["autoencoder"], mp_cases.data_for("autoencoder"),
                         batch=16, seed=7)
    net.train(2, alpha=0.05, optimizer="adam", mu=0.9)
    original = tmp_path / "one.nc"
    dsstne.save_network(net, original)
    run = mpirun(3, "resave", original, tmp_path / "three.nc")
    assert run.returncode == 0, run.stdout + run.stderr
    with netCDF4.Dataset(original) as a, netCDF4.Dataset(tmp_path / "three.nc") as b:
        assert {k: a.getncattr(k) for k in a.ncattrs()}.keys() == set(b.ncattrs())
        for k in a.ncattrs():
            assert np.array_equal(np.asarray(a.getncattr(k)), np.asarray(b.getncattr(k))), k
        assert set(a.variables) == set(b.variables)
        for name, variable in a.variables.items():
            np.testing.assert_array_equal(variable[:], b.variables[name][:], err_msg=name)
    run = mpirun(2, "predict", tmp_path / "three.nc", tmp_path / "predicted.npy")
    assert run.returncode == 0, run.stdout + run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "predicted.npy"), net.predict(), rtol=1e-6,
                               atol=1e-7)


def test_a_killed_rank_ends_the_job_with_an_error():
    start = time.monotonic()
    run = mpirun(2, "kill", timeout=120)
    assert run.returncode != 0
    assert time.monotonic() - start < 60


def test_a_rank_that_stops_answering_raises_communication_error_on_the_others():
    start = time.monotonic()
    run = mpirun(2, "stall", env={"DSSTNE_COMM_TIMEOUT": "2"}, timeout=120)
    assert "rank 0: CommunicationError" in run.stdout, run.stdout + run.stderr
    assert "waited 2 s for the other ranks" in run.stdout
    assert time.monotonic() - start < 60


def tool(ranks, folder, *args):
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1", DSSTNE_DEVICE="cpu")
    command = [sys.executable, "-m", "dsstne", *map(str, args)]
    if ranks > 1:
        command = [MPIRUN, "-np", str(ranks), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder,
                          env=environment)


def test_the_tools_under_mpirun_equal_one_process(tmp_path):
    from cli_helpers import make_job
    rng = np.random.default_rng(5)
    make_job(tmp_path, [f"u{u}\t" + ":".join(f"i{i}" for i in {u % 30, *rng.choice(30, 4)})
                        for u in range(60)])
    for ranks in (1, 3):
        train = tool(ranks, tmp_path, "train", "-c", "ae.json", "-i", "in.nc", "-o", "out.nc",
                     "-n", f"n{ranks}.nc", "-e", 3, "-b", 16, "--optimizer", "adam",
                     "-alpha", 0.01, "--force")
        assert train.returncode == 0, train.stdout + train.stderr
        # rank 0 alone prints: one summary line, not one per rank
        assert train.stdout.count(f"n{ranks}.nc: 3 epochs trained") == 1, train.stdout
        predict = tool(ranks, tmp_path, "predict", "-n", f"n{ranks}.nc", "-r", "data.txt", "-i",
                       "features", "-o", "features", "-s", f"recs{ranks}", "-k", 5, "--force")
        assert predict.returncode == 0, predict.stdout + predict.stderr
    one = dsstne.load_network(tmp_path / "n1.nc", batch=16)
    three = dsstne.load_network(tmp_path / "n3.nc", batch=16)
    for a, b in zip(one.weights, three.weights):
        assert relative(a.weights, b.weights) <= TOLERANCE
    assert (tmp_path / "recs1").read_text().count("\n") == (tmp_path / "recs3").read_text().count("\n")


def test_tools_that_do_not_share_their_work_refuse_mpirun(tmp_path):
    run = tool(2, tmp_path, "evaluate", "-r", "missing.txt", "-k", 5)
    assert run.returncode != 0
    assert "runs in one process; start it without mpirun" in run.stderr
    assert run.stderr.count("error") == 1  # rank 0 alone reports it
