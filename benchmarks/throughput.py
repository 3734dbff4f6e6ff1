"""Training throughput, measured cold: cnnlib vs PyTorch CPU, each run in its own fresh process.

    python benchmarks/throughput.py                         # from the repository root (about 6 minutes)
    python benchmarks/throughput.py --rounds 9 --allocators default --threads 1

Both libraries train the same nets (the one-conv-layer net and a LeNet-5-style net, benchmarks/_common.py) from the
same weights (copied from cnnlib into torch), in float32, batch 64, SGD with momentum 0.9, ``input_grad=False`` as
``fit`` uses it, on the same batches of the MNIST digits that cnnlib.data.load_mnist() finds (the embedded 10,000
unless a full set is configured).

Every measurement is a fresh ``python throughput.py --worker LIB ...`` (two libraries in one process disturb each
other: spinning BLAS threads, the allocator's state, caches). The worker loads the batches from .npy files, trains
on ``--warmup`` batches untimed, then makes ``--passes`` timed passes over the ``--batches`` batches. Two numbers
come out of each worker:

- **one training pass**: the first timed pass, which is what a user's run of one pass after a short warm-up gets;
- **best pass**: the fastest of the passes, the steady state once the process has settled.

The threads are pinned the way a user pins them, before the process starts: ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` all set to the thread count (PyTorch's CPU threads follow OpenMP's
setting, NumPy's BLAS follows OpenBLAS's). ``--thread-control api`` sets them from inside the worker instead
(threadpoolctl and torch.set_num_threads); ``--thread-control openblas`` sets only OPENBLAS_NUM_THREADS, as a user
who knows only NumPy would, and PyTorch then keeps its own default (every core). The header prints what each
library actually used. See benchmarks/NOTES.md for what these choices changed, measured.

Each round runs every combination of network x threads x allocator (glibc's default, and tuned with
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_) x library, alternating which library goes first, then cnnlib's
1-thread run once more: two identical measurements show how much any one ratio moves by chance. Reported: the
median over rounds of the paired ratios, with their range.

Targets, default allocator, 1 thread, both for one training pass and for the best pass: cnnlib >= 1.0x PyTorch on
the one-conv-layer net and >= 0.8x on LeNet-5; cnnlib with 2 threads no slower than with 1. The last is judged on
the per-round ratios 2 threads / 1 thread (the thread order alternates from round to round): ok when their median
is at least 1.0, or when it is less than RESOLUTION (3 %) below 1.0 and the rounds fall either side of 1.0, which is
what a net gets that runs the same code on 2 threads as on 1 (the one-conv-layer net: its layer has too little work
to share); NOT ok when the median is further below, or when nearly every round is slower (a one-sided sign test at
5 %).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from math import comb
from pathlib import Path

import numpy as np
from _common import NETS, describe_machine, describe_threads, set_threads, torch_copy, torch_version

TARGETS = {"one-conv-layer net": 1.0, "LeNet-5": 0.8}
LR, MOMENTUM = 0.01, 0.9
TUNED_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "67108864", "MALLOC_TRIM_THRESHOLD_": "268435456"}
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LIBS = ("cnnlib", "torch")
KINDS = {"first": "one training pass (the first timed pass after the warm-up)",
         "best": "best pass (the fastest of the timed passes)"}


# ---- the worker: one library, one net, one thread count, in a fresh process ---------------------------------
def worker(args):
    """Train on the saved batches; print one JSON line: samples/s of every timed pass (wall clock and CPU time) and
    the threads each library used."""
    x_all = np.load(Path(args.data) / "x.npy")  # (B, batch, 1, 28, 28) float32, read straight into a new array
    y_all = np.load(Path(args.data) / "y.npy")  # (B, batch) int64
    if args.worker == "torch":
        import torch  # noqa: F401  (set_threads sets torch's threads once it is imported)
    if args.thread_control == "api":
        set_threads(args.threads)
    model = NETS[args.net](np.random.default_rng(0))
    if args.worker == "cnnlib":
        step, batches = cnnlib_trainer(model), list(zip(x_all, y_all))
    else:
        import torch

        step = torch_trainer(torch_copy(model))
        batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(x_all, y_all)]
    for i in range(args.warmup):
        step(*batches[i % len(batches)])
    samples = len(batches) * len(y_all[0])
    wall, cpu = [], []
    for _ in range(args.passes):
        w0, c0 = time.perf_counter(), time.process_time()
        for x, y in batches:
            step(x, y)
        wall.append(samples / (time.perf_counter() - w0))
        cpu.append(samples / max(time.process_time() - c0, 1e-9))
    print(json.dumps({"wall": wall, "cpu": cpu, "threads": describe_threads()}))


def cnnlib_trainer(model):
    from cnnlib import SGD, SoftmaxCrossEntropy

    loss, opt = SoftmaxCrossEntropy(), SGD(model, lr=LR, momentum=MOMENTUM)

    def step(x, y):
        value = loss.forward(model.forward(x), y)
        model.backward(loss.backward(), input_grad=False)  # no ∂L/∂x for the data, as in PyTorch and fit
        opt.step()
        return value

    return step


def torch_trainer(model):
    import torch

    loss, opt = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        value = loss(model(x), y)
        value.backward()
        opt.step()
        return value.item()

    return step


# ---- the driver: rounds of fresh workers ------------------------------------------------------------------
def worker_env(threads, allocator, thread_control):
    env = {k: v for k, v in os.environ.items() if k not in TUNED_ALLOCATOR and k not in THREAD_VARIABLES}
    if allocator == "tuned":
        env.update(TUNED_ALLOCATOR)
    if thread_control == "env":
        env.update({k: str(threads) for k in THREAD_VARIABLES})
    elif thread_control == "openblas":
        env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def run_worker(lib, net, threads, allocator, args, data_dir):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lib, "--net", net, "--threads", str(threads),
           "--data", str(data_dir), "--passes", str(args.passes), "--warmup", str(args.warmup),
           "--thread-control", args.thread_control]
    done = subprocess.run(cmd, env=worker_env(threads, allocator, args.thread_control), capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"worker {lib} {net} threads={threads} failed:\n{done.stderr}")
    res = json.loads(done.stdout.strip().splitlines()[-1])
    return {"first": res["wall"][0], "best": max(res["wall"]), "cpu": max(res["cpu"]), "threads": res["threads"]}


def save_batches(directory, n_batches, batch_size):
    from cnnlib.data import load_mnist_with_source

    ((x, y), _), source = load_mnist_with_source()
    idx = np.random.default_rng(0).choice(len(x), size=(n_batches, batch_size), replace=len(x) < n_batches * batch_size)
    np.save(Path(directory) / "x.npy", np.ascontiguousarray(x[idx], dtype=np.float32))
    np.save(Path(directory) / "y.npy", y[idx].astype(np.int64))
    return f"{source.kind} MNIST digits ({source.location})"


def median_ratio(num, den):
    """Median over rounds of num / den (two lists, one value per round), and the range."""
    r = np.array(num) / np.array(den)
    return float(np.median(r)), float(r.min()), float(r.max())


# differences below 3 % are within what these measurements can tell apart (NOTES.md, "Two threads for the one-conv-layer
# net")
RESOLUTION = 0.03


def chance_of_so_many_below(ratios):
    """The sign test, one-sided: if two threads and one were equally fast (each round's ratio as likely above 1.0 as
    below), the probability that at least this many rounds would come out below 1.0."""
    n, below = len(ratios), int(np.sum(np.asarray(ratios) < 1.0))
    return sum(comb(n, k) for k in range(below, n + 1)) / 2 ** n


def not_slower(ratios):
    """The verdict on "2 threads never slower than 1" from the per-round ratios (2 threads / 1 thread), and the
    sign test's probability (chance_of_so_many_below):

    - "ok": the median is at least 1.0;
    - "NOT ok": the median is more than RESOLUTION below 1.0, or nearly every round was slower (the sign test's
      probability is below 5 %: a consistent slowdown, even one smaller than RESOLUTION);
    - "ok, not measurably slower" otherwise: the median is below 1.0 by less than the measurement can resolve, and
      the rounds fall either side of 1.0 as they do for two measurements of the same speed.
    """
    m, p = float(np.median(ratios)), chance_of_so_many_below(ratios)
    if m >= 1.0:
        return "ok", p
    if m < 1.0 - RESOLUTION or p < 0.05:
        return "NOT ok", p
    return "ok, not measurably slower", p


def load():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def openblas_environment():
    """OpenBLAS settings inherited from the environment (OPENBLAS_CORETYPE picks the kernels, OPENBLAS_L2_SIZE the
    blocking): they change the speed of NumPy's products, so the header prints them."""
    found = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") and k != "OPENBLAS_NUM_THREADS"}
    return " ".join(f"{k}={v}" for k, v in sorted(found.items())) or "none"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds of fresh workers (default 7)")
    parser.add_argument("--warmup-rounds", type=int, default=1,
                        help="rounds run first and not counted (default 1): the first round on a machine that was idle "
                             "ran slower than the rest, for both libraries")
    parser.add_argument("--batches", type=int, default=60, help="batches per timed pass (default 60)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per worker (default 3)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches per worker first (default 5)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", default="1,2", help="thread counts to compare (default 1,2)")
    parser.add_argument("--thread-control", choices=("env", "api", "openblas"), default="env",
                        help="env: OPENBLAS/OMP/MKL_NUM_THREADS set for the worker (default); api: threadpoolctl and "
                             "torch.set_num_threads inside it; openblas: only OPENBLAS_NUM_THREADS (torch keeps its "
                             "default)")
    parser.add_argument("--allocators", default="default,tuned", help="default and/or tuned (default both)")
    parser.add_argument("--nets", default=",".join(NETS), help=f"comma-separated, of: {', '.join(NETS)}")
    parser.add_argument("--libs", default=",".join(LIBS), help="cnnlib and/or torch (default both)")
    parser.add_argument("--json", default=None, help="also write every measurement to this file")
    # worker mode (used by the driver itself)
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--net", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.threads = int(args.threads)
        return worker(args)

    nets, libs = args.nets.split(","), args.libs.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    allocators = args.allocators.split(",")
    if "torch" in libs and torch_version() is None:
        raise SystemExit("throughput.py compares against PyTorch, which is not installed: pip install torch")
    print(describe_machine())
    print(f"OpenBLAS settings from the environment: {openblas_environment()}")
    print("tuned allocator: " + " ".join(f"{k}={v}" for k, v in TUNED_ALLOCATOR.items()))
    results = {}  # (kind, net, threads, allocator, lib[, "again"]) -> [samples/s per round]
    seen_threads = {}  # (lib, threads) -> what the worker reported
    with tempfile.TemporaryDirectory() as data_dir:
        source = save_batches(data_dir, args.batches, args.batch_size)
        print(f"data: {source}; float32, batch {args.batch_size}, SGD lr {LR} momentum {MOMENTUM}, input_grad=False; "
              f"{args.warmup_rounds} warm-up round(s) not counted, then {args.rounds} rounds; each worker a fresh "
              f"process: {args.warmup} warm-up batches, then {args.passes} timed passes over {args.batches} batches; "
              f"threads set by: {args.thread_control}\n")

        def record(key, res):
            for kind in ("first", "best", "cpu"):
                results.setdefault((kind,) + key, []).append(res[kind])

        for r in range(-args.warmup_rounds, args.rounds):
            start = time.perf_counter()
            if r == 0:  # the warm-up rounds are not counted
                results.clear()
            k = 0
            for net in nets:
                for t in (threads if r % 2 == 0 else threads[::-1]):  # alternate: drift within a round cancels
                    for alloc in allocators:
                        order = libs if (r + k) % 2 == 0 else libs[::-1]
                        k += 1
                        for lib in order:
                            res = run_worker(lib, net, t, alloc, args, data_dir)
                            record((net, t, alloc, lib), res)
                            seen_threads[(lib, t)] = res["threads"]
                if "cnnlib" in libs and 1 in threads:
                    # the same configuration once more, in its own fresh process: how far two identical
                    # measurements differ (the noise that any ratio above carries)
                    record((net, 1, allocators[0], "cnnlib", "again"),
                           run_worker("cnnlib", net, 1, allocators[0], args, data_dir))
            name = f"round {r + 1}/{args.rounds}" if r >= 0 else "warm-up round (not counted)"
            print(f"{name} done in {time.perf_counter() - start:.0f} s, load average {load()}", flush=True)
    print("\nthreads as the workers saw them:")
    for (lib, t), desc in sorted(seen_threads.items()):
        print(f"  {lib}, {t} thread(s) asked: {desc}")
    if args.json:
        Path(args.json).write_text(json.dumps({" | ".join(map(str, k)): v for k, v in results.items()}, indent=1))
    for kind in ("first", "best"):
        report(results, kind, nets, threads, allocators, libs)


def report(results, kind, nets, threads, allocators, libs):
    def get(*key):
        return results[(kind,) + key]

    print(f"\n== {KINDS[kind]}: samples/s, median over rounds (load average now {load()})")
    print(f"{'network':<19} {'threads':>7} {'allocator':>9} " + " ".join(f"{lib:>10}" for lib in libs)
          + ("   cnnlib/torch (median, range)   CPU-time ratio" if len(libs) == 2 else ""))
    for net in nets:
        for t in threads:
            for alloc in allocators:
                row = f"{net:<19} {t:>7} {alloc:>9} " + " ".join(f"{np.median(get(net, t, alloc, lib)):>10,.0f}"
                                                               for lib in libs)
                if len(libs) == 2:
                    m, lo, hi = median_ratio(get(net, t, alloc, "cnnlib"), get(net, t, alloc, "torch"))
                    c, _, _ = median_ratio(results[("cpu", net, t, alloc, "cnnlib")],
                                           results[("cpu", net, t, alloc, "torch")])
                    row += f"   {m:.2f}x ({lo:.2f}-{hi:.2f}){'':>10}{c:.2f}x"
                print(row)
    if len(libs) == 2:
        print("  (CPU-time ratio: samples per second of the worker's CPU time, best pass; on a busy machine it moves\n"
              "   less than the wall-clock ratio, but with 2 threads it counts both)")
    print(f"checks, {KINDS[kind]} (medians of paired per-round ratios):")
    for net in nets:
        for lib in libs:
            if "default" in allocators and "tuned" in allocators:
                for t in threads:
                    m, lo, hi = median_ratio(get(net, t, "default", lib), get(net, t, "tuned", lib))
                    print(f"  {net}, {lib}, {t} thread(s): default / tuned allocator {m:.2f}x ({lo:.2f}-{hi:.2f})")
            if 1 in threads and 2 in threads:
                a = allocators[0]
                two, one = get(net, 2, a, lib), get(net, 1, a, lib)
                m, lo, hi = median_ratio(two, one)
                line = f"  {net}, {lib}, {a} allocator: 2 threads / 1 thread {m:.3f}x ({lo:.2f}-{hi:.2f})"
                if lib == "cnnlib":
                    ratios = np.array(two) / np.array(one)
                    verdict, p = not_slower(ratios)
                    line += (f", {int(np.sum(ratios < 1))} of {len(ratios)} rounds below 1 (sign test p = {p:.2f})"
                             f"  [not slower: {verdict}]")
                print(line)
            again = results.get((kind, net, 1, allocators[0], lib, "again"))
            if again:
                m, lo, hi = median_ratio(again, get(net, 1, allocators[0], lib))
                print(f"  {net}, {lib}, {allocators[0]} allocator: 1 thread measured twice, second / first "
                      f"{m:.3f}x ({lo:.2f}-{hi:.2f})  [the noise of one ratio]")
        if len(libs) == 2 and 1 in threads:
            a = allocators[0]
            m, _, _ = median_ratio(get(net, 1, a, "cnnlib"), get(net, 1, a, "torch"))
            target = TARGETS.get(net)
            if target is not None:
                print(f"  {net}: cnnlib / torch, 1 thread, {a} allocator {m:.2f}x  "
                      f"[target >= {target}x: {'met' if m >= target else 'NOT met'}]")


if __name__ == "__main__":
    main()
