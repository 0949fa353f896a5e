# SPDX-License-Identifier: Apache-2.0
"""One rank of the model-parallel tests of convolutional networks (test_model_parallel_conv.py
runs it under mpirun).

    mp_conv_worker.py train OUT_DIR CASE...   train each case of mp_conv_cases.py; rank 0 writes
                                              OUT_DIR/CASE.npz, every rank checks it holds the
                                              same
    mp_conv_worker.py roundtrip OUT_DIR       train "convnet", save it, load it back on these
                                              ranks: predictions and parameters must not change;
                                              rank 0 writes OUT_DIR/saved.nc and predicted.npy
    mp_conv_worker.py predict IN OUT_DIR      load model IN, write the predictions of its layers
                                              (OUT_DIR/predicted.npz) and save it again
                                              (OUT_DIR/resaved.nc)
    mp_conv_worker.py refused                 every configuration several ranks refuse raises
                                              NotImplementedError naming the layers, on every rank
"""

import hashlib
import os
import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dsstne  # noqa: E402
import mp_conv_cases  # noqa: E402

COMM = MPI.COMM_WORLD


def context():
    return dsstne.Context(os.environ.get("DSSTNE_DEVICE", "cpu"), seed=7, comm=COMM)


def digest(results):
    h = hashlib.sha256()
    for key in sorted(results):
        h.update(key.encode() + np.ascontiguousarray(results[key]).tobytes())
    return h.hexdigest()


def agreed(what, results):
    if len(set(COMM.allgather(digest(results)))) != 1:
        raise AssertionError(f"{what}: the ranks hold different results")


def train(out_dir, *names):
    ctx = context()
    for name in names:
        results = mp_conv_cases.run_case(name, ctx)
        agreed(name, results)
        if COMM.Get_rank() == 0:
            np.savez(os.path.join(out_dir, f"{name}.npz"), **results)


def parameters(net):
    out = {}
    for w in net.weights:
        out[f"w:{w.input}->{w.output}"] = w.weights
        out[f"b:{w.input}->{w.output}"] = w.bias
        for name, values in w.optimizer_state.items():
            out[f"s:{w.input}->{w.output}:{name}"] = values
    for lyr in net.layers:
        for name, values in (lyr.batch_norm or {}).items():
            out[f"bn:{lyr.name}:{name}"] = values
    return out


def roundtrip(out_dir):
    data = mp_conv_cases.data_for("convnet")
    net = dsstne.Network(mp_conv_cases.CASES["convnet"], data, batch=16, context=context())
    net.train(2, alpha=0.02, optimizer="adam", mu=0.9)
    path = os.path.join(out_dir, "saved.nc")
    dsstne.save_network(net, path, overwrite=True)
    loaded = dsstne.load_network(path, data, batch=16, context=context())
    before, after = parameters(net), parameters(loaded)
    assert sorted(before) == sorted(after)
    for key, values in before.items():
        assert np.array_equal(after[key], values), key
    predicted = net.predict()
    assert np.array_equal(loaded.predict(), predicted)
    assert np.array_equal(loaded.predict(layer="lrn"), net.predict(layer="lrn"))
    scores, top = net.predict_topk(2)
    loaded_scores, loaded_top = loaded.predict_topk(2)
    assert np.array_equal(scores, loaded_scores) and np.array_equal(top, loaded_top)
    # Training goes on from the file as from the network it was saved from.
    net.train(1, alpha=0.02, optimizer="adam", mu=0.9)
    loaded.train(1, alpha=0.02, optimizer="adam", mu=0.9)
    assert np.array_equal(loaded.predict(), net.predict())
    agreed("roundtrip", {"predicted": predicted, **before})
    if COMM.Get_rank() == 0:
        np.save(os.path.join(out_dir, "predicted.npy"), predicted)


def predict(source, out_dir):
    net = dsstne.load_network(source, mp_conv_cases.data_for("convnet"), batch=16,
                              context=context())
    predicted = {name: net.predict(layer=name) for name in ("c1", "p1", "lrn", "fc", "bn", "out")}
    predicted["topk_scores"], predicted["topk_items"] = net.predict_topk(2)
    agreed("predict", predicted)
    dsstne.save_network(net, os.path.join(out_dir, "resaved.nc"), overwrite=True)
    if COMM.Get_rank() == 0:
        np.savez(os.path.join(out_dir, "predicted.npz"), **predicted)


def refused():
    for name, (config, _, expected) in mp_conv_cases.REFUSED.items():
        try:
            dsstne.Network(config, mp_conv_cases.refused_data(name), batch=8, context=context())
        except NotImplementedError as e:
            message = str(e)
            assert "not supported yet" in message, (name, message)
            for part in expected + [f"{COMM.Get_size()} ranks"]:
                assert part in message, (name, part, message)
        else:
            raise AssertionError(f"{name}: {COMM.Get_size()} ranks accepted it")
    print(f"rank {COMM.Get_rank()}: refused ok", flush=True)


if __name__ == "__main__":
    {"train": train, "roundtrip": roundtrip, "predict": predict,
     "refused": refused}[sys.argv[1]](*sys.argv[2:])
