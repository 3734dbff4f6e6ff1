"""How many BLAS threads a matrix product gets: one for small products, more only when each thread has enough work.

A BLAS thread pool splits every product over all its threads. For the small GEMMs of an MNIST net (a few
million multiply-adds) waking a second thread and waiting for it costs more than the product itself, so two
cores made cnnlib slower than one. The layers therefore run each product inside ``blas_threads(flops)``:

    threads = min(the pool's current size, max(1, flops // FLOPS_PER_THREAD))

The pool's current size is whatever the user chose (OPENBLAS_NUM_THREADS, ``threadpoolctl.threadpool_limits``);
cnnlib only ever lowers it, for the duration of one product, and puts it back. The controller is found once
(``threadpoolctl.ThreadpoolController``, about 0.5 s) and cached; switching costs a few microseconds, and nothing
at all when the pool already has the right size.
"""

from contextlib import contextmanager

__all__ = ["FLOPS_PER_THREAD", "blas_threads", "threads_for"]

# Flops (2·M·N·K) each thread must get before a second one is woken. Measured on a quiet 2-core AMD EPYC (training
# at batch 64, float32, with 2 BLAS threads allowed): at 1e7, the products of LeNet-5's second conv layer (4.3e7
# flops each) take the second thread, and LeNet-5 trained 4-10 % faster than on one thread; the smaller products
# (its first conv layer, 1.7e7; the one-conv-layer net, at most 6.5e6; the dense layers) stay on one. Lower
# thresholds, which also split those, gained nothing reliable. On a machine whose other core is busy, a second
# thread can only wait for it: set OPENBLAS_NUM_THREADS=1 (or threadpoolctl) there, and cnnlib never raises it.
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


@contextmanager
def blas_threads(flops):
    """Inside this block, BLAS uses ``threads_for(flops, current size)`` threads; the size is restored after."""
    changed = []
    for lib in _blas():
        current = lib.get_num_threads()
        if current is None:
            continue
        wanted = threads_for(flops, current)
        if wanted != current:
            lib.set_num_threads(wanted)
            changed.append((lib, current))
    try:
        yield
    finally:
        for lib, current in changed:
            lib.set_num_threads(current)
