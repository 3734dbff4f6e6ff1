"""How many threads the engine's work gets. Two cores help only where there is enough work to share:

- Matrix products. A product runs inside ``blas_threads(flops)``, which allows

      threads = min(the pool's current size, max(1, flops // FLOPS_PER_THREAD))

  since waking a second thread for a few million multiply-adds costs more than it saves. The tiniest products
  (ONE_THREAD_FLOPS) and a conv layer's sliced products (``slice_threads`` in conv.py) leave the pool alone:
  switching its size costs time too.
- Copies (im2col, col2im, the bias add) run on one core in NumPy. A large float32 conv layer therefore works on the
  two halves of the batch side by side: ``run_parts(tasks)`` runs them on two threads (NumPy and BLAS release
  Python's lock while they work), with BLAS on one thread per half.

The pool's current size is whatever the user chose (OPENBLAS_NUM_THREADS, ``threadpoolctl.threadpool_limits``);
the engine only ever lowers it, for one product or one set of parts, and puts it back. The thresholds and what they
were measured on: benchmarks/NOTES.md, "Threads".
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

__all__ = ["FLOPS_PER_THREAD", "ONE_THREAD_FLOPS", "blas_threads", "threads_for", "parallel_threads", "run_parts"]

FLOPS_PER_THREAD = 1e7  # flops (2·M·N·K) per thread before a second one is woken (benchmarks/NOTES.md)
ONE_THREAD_FLOPS = 2 ** 20  # below this OpenBLAS runs on one thread anyway: leave the pool alone (NOTES.md)

_controllers = None


def _blas():
    """The BLAS libraries loaded in this process (threadpoolctl's per-library controllers), found once (~0.5 s)."""
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
    after. A plain class rather than @contextmanager, which is slower per switch (benchmarks/NOTES.md)."""

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
    other (for tasks too short to repay waking a thread).
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
