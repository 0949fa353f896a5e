# SPDX-License-Identifier: Apache-2.0
"""One rank of the model-parallel tests (test_model_parallel.py runs it under mpirun).

    mp_worker.py train OUT_DIR CASE...   train each case of mp_cases.py; rank 0 writes
                                         OUT_DIR/CASE.npz, every rank checks it holds the same
    mp_worker.py resave IN OUT           load model IN on every rank and save it as OUT
    mp_worker.py predict IN OUT_NPZ      load model IN and write its predictions (rank 0)
    mp_worker.py kill                    rank 1 dies (SIGKILL) in the middle of training
    mp_worker.py stall                   rank 1 stops taking part; rank 0 must raise
                                         CommunicationError (DSSTNE_COMM_TIMEOUT is short)
    mp_worker.py transports              Context's choice and checks of its transport

$DSSTNE_TRANSPORT ("mpi" or "nccl") picks the transport of the contexts; unset, Context chooses.
"""

import hashlib
import os
import signal
import sys
import time

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dsstne  # noqa: E402
import mp_cases  # noqa: E402

COMM = MPI.COMM_WORLD


def context():
    # The device of the tests' run: on the GPU machine the ranks share its one GPU.
    transport = os.environ.get("DSSTNE_TRANSPORT") or None
    ctx = dsstne.Context(os.environ.get("DSSTNE_DEVICE", "cpu"), seed=7, comm=COMM,
                         transport=transport)
    assert ctx.ranks == COMM.Get_size() and ctx.rank == COMM.Get_rank()
    assert transport is None or ctx.transport == transport, (ctx.transport, transport)
    return ctx


def digest(results):
    h = hashlib.sha256()
    for key in sorted(results):
        h.update(key.encode() + np.ascontiguousarray(results[key]).tobytes())
    return h.hexdigest()


def train(out_dir, *names):
    ctx = context()
    for name in names:
        results = mp_cases.run_case(name, ctx)
        if len(set(COMM.allgather(digest(results)))) != 1:
            raise AssertionError(f"{name}: the ranks hold different results")
        if COMM.Get_rank() == 0:
            np.savez(os.path.join(out_dir, f"{name}.npz"), **results)


def resave(source, target):
    net = dsstne.load_network(source, mp_cases.data_for("autoencoder"), batch=16,
                              context=context())
    dsstne.save_network(net, target, overwrite=True)


def predict(source, target):
    net = dsstne.load_network(source, mp_cases.data_for("autoencoder"), batch=16,
                              context=context())
    scores = net.predict()
    if COMM.Get_rank() == 0:
        np.save(target, scores)


def kill():
    def die(stats):
        if COMM.Get_rank() == 1:
            os.kill(os.getpid(), signal.SIGKILL)
    net = dsstne.Network(mp_cases.CASES["autoencoder"], mp_cases.data_for("autoencoder"),
                         batch=16, context=context())
    net.train(50, alpha=0.05, callback=die)


def stall():
    net = dsstne.Network(mp_cases.CASES["autoencoder"], mp_cases.data_for("autoencoder"),
                         batch=16, context=context())
    if COMM.Get_rank() == 1:
        time.sleep(8)  # never joins: rank 0 must give up on its own
        os._exit(0)
    try:
        net.train(1, alpha=0.05)
    except dsstne.CommunicationError as e:
        print(f"rank 0: CommunicationError: {e}", flush=True)
        os._exit(3)
    os._exit(0)


def transports():
    def refused(message, **keys):
        try:
            dsstne.Context(**keys)
        except ValueError as e:
            assert message in str(e), (message, str(e))
        else:
            raise AssertionError(f"Context({keys}) was accepted")
    assert dsstne.Context("cpu").transport == "local"
    assert dsstne.Context("cpu", comm=COMM).transport == "mpi"  # NCCL moves only GPU memory
    assert dsstne.Context("cpu", comm=COMM, transport="mpi").transport == "mpi"
    refused("give comm", device="cpu", transport="mpi")
    refused("must be None, 'mpi' or 'nccl'", device="cpu", comm=COMM, transport="gloo")
    refused("needs a CUDA device", device="cpu", comm=COMM, transport="nccl")
    if dsstne.cuda_device_count() and dsstne.nccl_built():
        gpu = dsstne.Context("cuda", comm=COMM, transport="nccl")
        assert gpu.transport == "nccl" and gpu.device == "cuda:0"
        # One rank per GPU of its own: NCCL unless asked otherwise.
        auto = dsstne.Context("cuda", comm=COMM)
        assert auto.transport == ("nccl" if COMM.Get_size() > 1 else "mpi"), auto.transport
    print("transports ok", flush=True)


if __name__ == "__main__":
    {"train": train, "resave": resave, "predict": predict, "kill": kill,
     "stall": stall, "transports": transports}[sys.argv[1]](*sys.argv[2:])
