"""Training throughput: cnnlib vs PyTorch CPU on the same batches, in interleaved rounds.

    python benchmarks/throughput.py                 # from the repository root
    python benchmarks/throughput.py --threads 2 --rounds 9

For each network (the one-conv-layer net of notebook 09 and a LeNet-5-style net) both libraries start from the same weights (copied
from cnnlib into torch), use float32, batch 64 and SGD with momentum 0.9, and train on the same batches. The
rounds alternate which library goes first, so a burst of load from elsewhere hits both; the reported ratio is
the median over rounds of (cnnlib samples/s) / (PyTorch samples/s). CPU-time ratios are printed too: they are
less sensitive to other processes on a shared machine.

Targets (reported, not asserted): >= 0.6x PyTorch on the one-conv-layer net, >= 0.5x on LeNet-5.
"""

import argparse
import time

import numpy as np
from _common import NETS, describe_machine, mnist_dir, set_threads, torch, torch_copy

from cnnlib import SGD, SoftmaxCrossEntropy
from cnnlib.data import load_mnist
from cnnlib.progress import progress_bar

TARGETS = {"one-conv-layer": 0.6, "LeNet-5": 0.5}
LR, MOMENTUM = 0.01, 0.9


def load_batches(data_dir, n_batches, batch_size, rng):
    """n_batches (x, y) pairs drawn from MNIST: the full set if data_dir holds it, else the embedded sample."""
    path = mnist_dir(data_dir)
    try:
        (x, y), _ = load_mnist(path, verbose=False)
        source = f"full MNIST from {path}"
    except (FileNotFoundError, OSError, ValueError):
        (x, y), _ = load_mnist(verbose=False)
        source = "the embedded MNIST sample (full set not found)"
    idx = rng.choice(len(x), size=(n_batches, batch_size), replace=len(x) < n_batches * batch_size)
    return [(np.ascontiguousarray(x[i]), y[i]) for i in idx], source


class CnnlibTrainer:
    def __init__(self, model):
        self.model, self.loss = model, SoftmaxCrossEntropy()
        self.opt = SGD(model, lr=LR, momentum=MOMENTUM)

    def step(self, x, y):
        value = self.loss.forward(self.model.forward(x), y)
        self.model.backward(self.loss.backward())
        self.opt.step()
        return value


class TorchTrainer:
    def __init__(self, model):
        self.model, self.loss = model, torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        value = self.loss(self.model(x), y)
        value.backward()
        self.opt.step()
        return value.item()


def timed(trainer, batches):
    """Train on every batch; -> (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for x, y in batches:
        trainer.step(x, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def benchmark(name, batches, rounds, batch_size, warmup=5):
    model = NETS[name](np.random.default_rng(0))
    trainers = {"cnnlib": CnnlibTrainer(model), "torch": TorchTrainer(torch_copy(model))}
    data = {"cnnlib": batches, "torch": [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]}
    for lib in trainers:  # warm up caches and allocators, outside the timing
        timed(trainers[lib], data[lib][:warmup])
    samples = len(batches) * batch_size
    rows = []
    bar = progress_bar(rounds, desc=name, unit="round")
    for r in range(rounds):
        order = ("cnnlib", "torch") if r % 2 == 0 else ("torch", "cnnlib")
        times = {lib: timed(trainers[lib], data[lib]) for lib in order}
        rows.append({lib: (samples / t[0], samples / t[1]) for lib, t in times.items()})
        bar.update(1)
    bar.close()
    wall_c = np.array([row["cnnlib"][0] for row in rows])
    wall_t = np.array([row["torch"][0] for row in rows])
    cpu_c = np.array([row["cnnlib"][1] for row in rows])
    cpu_t = np.array([row["torch"][1] for row in rows])
    return {"cnnlib": np.median(wall_c), "torch": np.median(wall_t), "ratios": wall_c / wall_t,
            "cpu_ratio": np.median(cpu_c / cpu_t)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per network (default 9)")
    parser.add_argument("--batches", type=int, default=40, help="batches per library per round (default 40)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for PyTorch and for NumPy's BLAS alike (default 1: NumPy's elementwise "
                             "work is single-threaded anyway, and 1 thread is least disturbed on a shared machine)")
    parser.add_argument("--data-dir", default=None, help="full MNIST IDX directory (default: ../shared/mnist or "
                                                         "$CNNLIB_MNIST_DIR; falls back to the embedded sample)")
    args = parser.parse_args(argv)
    if torch is None:
        raise SystemExit("throughput.py compares against PyTorch, which is not installed: pip install torch")

    print(describe_machine())
    print(set_threads(args.threads))
    batches, source = load_batches(args.data_dir, args.batches, args.batch_size, np.random.default_rng(0))
    print(f"data: {source}; float32, batch {args.batch_size}, SGD lr {LR} momentum {MOMENTUM}; "
          f"{args.rounds} rounds x {args.batches} batches per library, alternating which goes first\n")

    results = {name: benchmark(name, batches, args.rounds, args.batch_size) for name in NETS}
    print(f"\n{'network':<10} {'cnnlib samples/s':>17} {'PyTorch samples/s':>18} {'ratio (median)':>15} "
          f"{'ratio range':>14} {'CPU-time ratio':>15}  target")
    for name, r in results.items():
        target = TARGETS[name]
        verdict = "met" if np.median(r["ratios"]) >= target else "NOT met"
        print(f"{name:<10} {r['cnnlib']:>17,.0f} {r['torch']:>18,.0f} {np.median(r['ratios']):>14.2f}x "
              f"{r['ratios'].min():>6.2f}-{r['ratios'].max():.2f}x {r['cpu_ratio']:>14.2f}x  >= {target}x {verdict}")


if __name__ == "__main__":
    main()
