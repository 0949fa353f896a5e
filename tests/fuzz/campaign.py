# SPDX-License-Identifier: Apache-2.0
"""A long fuzz campaign over the file readers: every seed file of tests/fuzz/corpus.py is
damaged byte by byte (zeroed, inverted, one bit flipped, cut short at every length) and then at
random (random bytes, runs of bytes, cuts), and each damaged file is read in a forked child with
a time limit. A hang, a crash (signal) or an unclean exception (see corpus.clean) is a finding:
the file is kept under --out and the campaign goes on. Exit status 1 when there are findings.

    python tests/fuzz/campaign.py [--target data|model|text] [--seconds 600] [--cases N]
        [--seed 1] [--timeout 10] [--systematic/--no-systematic] [--out DIR]
"""

import argparse
import multiprocessing
import os
import pickle
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus  # noqa: E402


def systematic(blob, rng):
    """Every single-byte damage of `blob`, then every cut."""
    for offset in range(len(blob)):
        old = blob[offset]
        for new in {0, old ^ 0xFF, old ^ (1 << rng.randrange(8))} - {old}:
            yield f"byte {offset}: {old:#04x} -> {new:#04x}", \
                blob[:offset] + bytes([new]) + blob[offset + 1:]
    for cut in range(len(blob)):
        yield f"cut at {cut}", blob[:cut]


def random_damage(blob, rng):
    """An endless stream of random damage to `blob`."""
    while True:
        b = bytearray(blob)
        steps = []
        for _ in range(rng.choice((1, 1, 2, 3, 8))):
            kind = rng.random()
            at = rng.randrange(len(b)) if b else 0
            if kind < 0.5 and b:
                b[at] = rng.randrange(256)
                steps.append(f"byte {at}={b[at]:#04x}")
            elif kind < 0.8 and b:
                run = rng.randrange(1, 17)
                b[at:at + run] = bytes(rng.randrange(256) for _ in range(run))
                steps.append(f"run {at}+{run}")
            elif kind < 0.9:
                del b[at:]
                steps.append(f"cut {at}")
            else:
                b[at:at] = b[at:at + rng.randrange(1, 64)]
                steps.append(f"repeat at {at}")
        yield "; ".join(steps), bytes(b)


def run_case(target, path, timeout):
    """'ok', 'clean' or a finding ('hang', 'crash: signal N', 'unclean: …')."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, report, exit without cleanup
        os.close(r)
        try:
            corpus.run_target(target, path)
            verdict = "ok"
        except BaseException as e:  # noqa: BLE001 - judged here, reported to the parent
            verdict = "clean" if corpus.clean(e, path) else \
                f"unclean: {type(e).__name__}: {str(e)[:500]}"
        os.write(w, pickle.dumps(verdict))
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return "hang"
        time.sleep(0.002)
    data = os.read(r, 1 << 16)
    os.close(r)
    if os.WIFSIGNALED(status):
        return f"crash: signal {os.WTERMSIG(status)}"
    return pickle.loads(data) if data else f"crash: exit status {os.WEXITSTATUS(status)}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=sorted(corpus.SEEDS), action="append")
    p.add_argument("--seconds", type=float, default=600.0, help="time budget (default 600)")
    p.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    p.add_argument("--no-systematic", dest="systematic", action="store_false",
                   help="random damage only")
    p.add_argument("--out", default="fuzz-findings", help="where findings are kept")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="dsstne-fuzz-")
    # The seeds train a network, which starts the engine's OpenMP threads; a fork made after
    # that hangs in its first parallel loop, so they are made in a process of their own.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seeds = pool.apply(corpus.make_seeds, (work,))
    targets = args.target or sorted(seeds)
    streams = []
    for target in targets:
        for name, blob in seeds[target]:
            gens = ([systematic(blob, rng)] if args.systematic else []) + \
                [random_damage(blob, rng)]
            streams.append((target, name, gens))
    start, cases, findings, counts = time.monotonic(), 0, 0, {}
    path = os.path.join(work, "case.bin")
    while streams and time.monotonic() - start < args.seconds and \
            (args.cases is None or cases < args.cases):
        for target, name, gens in streams:  # round robin over the seeds
            what, blob = next(gens[0], (None, None))
            if what is None:
                gens.pop(0)
                continue
            with open(path, "wb") as fh:
                fh.write(blob)
            verdict = run_case(target, path, args.timeout)
            cases += 1
            kind = verdict.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
            if kind not in ("ok", "clean"):
                findings += 1
                os.makedirs(args.out, exist_ok=True)
                keep = os.path.join(args.out, f"{target}_{name}_{findings}.bin")
                with open(keep, "wb") as fh:
                    fh.write(blob)
                print(f"FINDING {verdict} ({target}/{name}, {what}) -> {keep}", flush=True)
    print(f"{cases} cases in {time.monotonic() - start:.0f} s: " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
