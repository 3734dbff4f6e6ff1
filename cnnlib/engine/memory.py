"""Buffers the engine keeps between calls, and the arrays it hands back.

Each layer (and each batch part of a conv layer) owns one ``Memory``:

- ``workspace(name, shape, dtype)``: an uninitialised buffer reused while its shape and dtype stay the same. It holds
  whatever the last call left in it; it is never returned to the caller, only copied out.
- ``padded(name, shape, a, top, left)``: a workspace holding a at (top, left) in its last two axes and zeros
  elsewhere; the zeros are written only when the placement changes.
- ``returned(name, shape, dtype)``: the array for a value handed to the caller (an output, dx). It is last call's
  array if the caller has let go of it (nothing but the engine refers to it: no variable, list, cache or view),
  else a new one. A value the caller still holds is never touched.

Why: a fresh large array is often a fresh mmap that the kernel page-faults and zeroes on every pass, and arrays
that all start at the same offset within a 4 KB page slow each other down ("4K aliasing"), so every new buffer
starts ``STAGGER`` bytes further into the page than the last. Measurements: benchmarks/NOTES.md, "Memory".
"""

import sys

import numpy as np

STAGGER = 576  # bytes (9 cache lines) between the page offsets of consecutive new buffers (NOTES.md)
_next_offset = 0


def staggered_empty(shape, dtype):
    """Like np.empty(shape, dtype), starting at the next staggered offset within a 4 KB page (a multiple of 64)."""
    global _next_offset
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + 4096, dtype=np.uint8)
    start = (_next_offset - raw.ctypes.data) % 4096  # the array's address is _next_offset modulo 4096
    _next_offset = (_next_offset + STAGGER) % 4096
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _unheld_refcount():
    """sys.getrefcount of a staggered array that only a dict refers to, and of its buffer (``.base``), seen exactly
    as Memory.returned sees them. Every view of the array refers to the buffer, not to the array itself."""
    kept = {"a": staggered_empty((1,), np.float64)}
    prev = kept.get("a")
    return sys.getrefcount(prev), sys.getrefcount(prev.base)


_UNHELD = _unheld_refcount()  # (3, 2) on CPython 3.11


def place(buf, a, top, left):
    """buf[..., top:top + h, left:left + w] = a (h, w = a's last two sizes), and zeros everywhere else in buf's last
    two axes, without zeroing the part a covers first."""
    h, w = a.shape[-2:]
    buf[..., :top, :] = 0
    buf[..., top + h:, :] = 0
    inside = buf[..., top:top + h, :]
    inside[..., :left] = 0
    inside[..., left + w:] = 0
    inside[..., left:left + w] = a
    return buf


class Memory:
    """The workspaces and returned arrays of one layer, or of one batch part of a layer (see the module docstring)."""

    __slots__ = ("workspaces", "placed", "returned_arrays")

    def __init__(self):
        self.workspaces, self.placed, self.returned_arrays = {}, {}, {}

    def workspace(self, name, shape, dtype):
        buf = self.workspaces.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
            buf = staggered_empty(shape, dtype)
            self.workspaces[name] = buf
        return buf

    def padded(self, name, shape, a, top, left):
        """Only this method writes to such a workspace, so when a sits where it sat last time only a is copied in."""
        buf = self.workspace(name, shape, a.dtype)
        where = (top, left) + a.shape[-2:]
        last = self.placed.get(name)
        if last is None or last[0] is not buf or last[1] != where:  # `is`: a new buffer may reuse a freed address
            place(buf, a, top, left)
            self.placed[name] = (buf, where)
        else:
            h, w = a.shape[-2:]
            buf[..., top:top + h, left:left + w] = a
        return buf

    def returned(self, name, shape, dtype):
        kept = self.returned_arrays
        prev = kept.get(name)
        if (prev is not None and prev.shape == tuple(shape) and prev.dtype == np.dtype(dtype)
                and sys.getrefcount(prev) <= _UNHELD[0] and sys.getrefcount(prev.base) <= _UNHELD[1]):
            return prev  # neither the array nor a view of it (a view refers to the buffer, prev.base) is held
        out = staggered_empty(shape, dtype)
        kept[name] = out
        return out


def memory_of(layer):
    """The Memory the engine keeps on ``layer`` (created on first use)."""
    mem = layer.__dict__.get("_engine_memory")
    if mem is None:
        mem = layer.__dict__["_engine_memory"] = Memory()
    return mem
