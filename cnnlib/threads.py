"""How many threads cnnlib's work gets. Two cores help only where there is enough work to share:

- Matrix products. A BLAS pool may split a product over its threads. A product runs inside
  ``blas_threads(flops)``, which allows

      threads = min(the pool's current size, max(1, flops // FLOPS_PER_THREAD))

  because waking a second thread for a few million multiply-adds costs more than it saves. Two kinds of product
  leave the pool alone, since switching its size costs time too: the tiniest (ONE_THREAD_FLOPS), and a conv layer's
  products when it computes them in slices of small-matrix size (``_slice_threads`` in cnnlib/layers/conv.py).
- Copies: im2col, col2im, the bias add. NumPy runs them on one core, and they take most of a conv layer's time. A
  large float32 conv layer therefore works on the two halves of the batch side by side: ``run_parts(tasks)`` runs
  them on two threads (NumPy and BLAS release Python's lock while they work), with BLAS on one thread per half.
  Waking the second thread and handing Python's lock between the two costs 50-100 µs per layer call on the 2-core VM
  cnnlib is tuned on, so only layers with enough work do it (PART_MIN_MULTIPLY_ADDS in cnnlib/layers/conv.py).

The pool's current size is whatever the user chose (OPENBLAS_NUM_THREADS, ``threadpoolctl.threadpool_limits``);
cnnlib only ever lowers it, for the duration of one product or one set of parts, and puts it back. The controller
is found once (``threadpoolctl.ThreadpoolController``, about 0.5 s) and cached. On a machine whose other core is
busy a second thread can only wait for it: set OPENBLAS_NUM_THREADS=1 there, and cnnlib uses one.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

__all__ = ["FLOPS_PER_THREAD", "ONE_THREAD_FLOPS", "blas_threads", "threads_for", "parallel_threads", "run_parts"]

# Flops (2·M·N·K) each thread must get before a second one is woken, for a product above the small-matrix size
# (a dense layer's, a conv layer's unsliced products, float64). Chosen on a quiet 2-core AMD EPYC, training LeNet-5 at
# batch 64 in float32: lower thresholds gained nothing reliable over a whole training step.
FLOPS_PER_THREAD = 1e7

_controllers = None


def _blas():
    """The BLAS libraries loaded in this process (threadpoolctl's per-library controllers), found once."""
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController

            _controllers = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # no threadpoolctl, or a BLAS it does not know: leave the threads alone
            _controllers = []
    return _controllers


def threads_for(flops, available):
    """The number of threads for a product of ``flops`` floating-point operations, at most ``available``."""
    return max(1, min(int(available), int(flops // FLOPS_PER_THREAD)))


class _Limit:
    """Context manager: each BLAS library uses ``wanted(its current size)`` threads inside, its size is restored
    after. A plain class rather than @contextmanager, which took 3.4 µs instead of 2.4 for a switch and back."""

    __slots__ = ("wanted", "changed")

    def __init__(self, wanted):
        self.wanted, self.changed = wanted, []

    def __enter__(self):
        for lib in _blas():
            current = lib.get_num_threads()
            if current is None:
                continue
            wanted = self.wanted(current)
            if wanted != current:
                lib.set_num_threads(wanted)
                self.changed.append((lib, current))
        return self

    def __exit__(self, *exc):
        for lib, current in self.changed:
            lib.set_num_threads(current)
        return False


# Below this many flops (M·N·K below 2^19) cnnlib leaves the pool alone: OpenBLAS runs such a product on one thread
# whatever the pool's size (Dense(432, 10) at batch 64, 5.5e5 flops, took 9.1 µs with a pool of 1 or of 2), and
# switching the pool's size costs about 2.4 µs. Not much above it, leaving the pool alone cost far more than that:
# with Dense(120, 84) at batch 64 (1.3e6 flops) left alone, LeNet-5 on 2 threads trained at 8,300 samples/s instead
# of 11,000 (presumably BLAS threads woken for it took the second core from the conv layers' halves).
ONE_THREAD_FLOPS = 2 ** 20

_UNCHANGED = nullcontext()


def blas_threads(flops):
    """Inside this block, BLAS uses ``threads_for(flops, current size)`` threads; the size is restored after."""
    if flops < ONE_THREAD_FLOPS:
        return _UNCHANGED
    return _Limit(lambda current: threads_for(flops, current))


# ---- batch parts side by side ----------------------------------------------------------------------------------
_pool = None
_pool_lock = threading.Lock()


def parallel_threads():
    """How many parts may run at once: the BLAS pool's current size, or 1 where that is unknown or where threads
    set their own BLAS limits (an OpenMP build of OpenBLAS, other BLAS libraries)."""
    libs = _blas()
    if not libs or any(lib.internal_api != "openblas" or lib.threading_layer != "pthreads" for lib in libs):
        return 1
    return max(1, min(lib.get_num_threads() or 1 for lib in libs))


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(thread_name_prefix="cnnlib-part")
        return _pool


def run_parts(tasks, side_by_side=True):
    """Call every task (a function of no arguments) and return their results, in order.

    With more than one thread available the tasks run side by side, in as many groups as there are threads (the
    first group in this thread, the others on worker threads), and BLAS uses threads // groups threads meanwhile.
    The tasks must write to disjoint memory; what each computes does not depend on how many ran at once. An
    exception in any task is raised here, once every group has ended. side_by_side=False runs them one after the
    other (for tasks too short to repay waking a thread: about 60 µs on the 2-core VM that cnnlib is tuned on).
    """
    threads = min(len(tasks), parallel_threads()) if side_by_side else 1
    if threads <= 1:
        return [task() for task in tasks]
    groups = [range(len(tasks) * g // threads, len(tasks) * (g + 1) // threads) for g in range(threads)]
    results = [None] * len(tasks)

    def run(group):
        for i in group:
            results[i] = tasks[i]()

    with _Limit(lambda current: max(1, current // threads)):
        futures = [_executor().submit(run, group) for group in groups[1:]]
        try:
            run(groups[0])
        finally:
            errors = [f.exception() for f in futures]  # waits for each group to end
        for e in errors:
            if e is not None:
                raise e
    return results
