# SPDX-License-Identifier: Apache-2.0
"""Speed of saving and loading a NetCDF model file: a network with one wide connection of about
250 MB (by default 8,000 sparse inputs x 8,000 outputs = 64 M float32 weights) is saved with
dsstne.save_network and loaded with dsstne.load_network; prints MB/s of each (file size over
the best wall time of --repeat runs). Nothing is asserted: speeds depend on the disk.

    python benchmarks/bench_save.py [--units 8000] [--repeat 3] [--dir DIR] [--keep]
"""

import argparse
import os
import tempfile
import time

import numpy as np
import scipy.sparse as sp

import dsstne


def build(units):
    data = sp.random(16, units, density=0.01, format="csr", random_state=7, dtype=np.float32)
    ds = dsstne.DataSet("input", data)
    config = {"Kind": "FeedForward", "ErrorFunction": "L2",
              "Layers": [{"Kind": "Input", "N": "auto", "DataSet": "input", "Sparse": True},
                         {"Kind": "Output", "N": "auto", "DataSet": "input",
                          "Activation": "Linear"}]}
    return dsstne.Network(config, ds, batch=16)


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--units", type=int, default=8000, help="inputs and outputs (default 8000)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", default=None, help="where the file is written (default: a "
                                               "temporary directory)")
    p.add_argument("--keep", action="store_true", help="leave the file")
    args = p.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="dsstne-bench-")
    path = os.path.join(directory, "bench_save.nc")
    net = build(args.units)
    save_s = best(lambda: dsstne.save_network(net, path, overwrite=True), args.repeat)
    size = os.path.getsize(path)
    load_s = best(lambda: dsstne.load_network(path), args.repeat)
    # The engine's share: copying the weights out of and into the network.
    get_s = best(lambda: [w.weights for w in net.weights], args.repeat)
    values = net.weights[0].weights.copy()
    set_s = best(lambda: setattr(net.weights[0], "weights", values), args.repeat)
    mb = size / 1e6
    print(f"file: {mb:.1f} MB ({args.units} x {args.units} weights)")
    print(f"save: {save_s:.3f} s = {mb / save_s:.0f} MB/s "
          f"(of which {get_s:.3f} s reading the weights out of the network)")
    print(f"load: {load_s:.3f} s = {mb / load_s:.0f} MB/s "
          f"(of which {set_s:.3f} s setting the weights of the network)")
    if not args.keep:
        os.unlink(path)
        if args.dir is None:
            os.rmdir(directory)


if __name__ == "__main__":
    main()
