"""The Layer protocol every layer follows, and the small argument checks the layers share.

See the package docstring (``cnnlib/layers/__init__.py``) for the protocol and the letters used in shapes.
"""

import sys

import numpy as np

from ..signal import _four, _pair  # noqa: F401  (re-exported: every layer module takes them from here)


class Layer:
    """Base class: holds ``params``, ``grads`` and the forward ``cache``; checks inputs with clear errors."""

    dtype = None  # layers with parameters compute in their own dtype; the others keep the input's float dtype

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.cache = None
        self._out_shape = None

    def __call__(self, x):
        return self.forward(x)

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"{self.name}()"

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def backward_params(self, dout):
        """Fill ``self.grads`` as ``backward`` does, when ∂C/∂x is not needed (the first layer of a net sees data).
        -> None. Layers for which ∂C/∂x costs real work (Conv2D) skip it; the others just run ``backward``."""
        self.backward(dout)

    # ---- input checks shared by every layer -------------------------------------------------------------
    def _as_input(self, x):
        """Return x as a float array: integer or bool input (uint8 images) is cast, never wrapped."""
        x = np.asarray(x)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise TypeError(f"{self.name} expected a numeric array, got dtype {x.dtype}")
        if np.iscomplexobj(x):
            raise TypeError(f"{self.name} expected a real array, got dtype {x.dtype}")
        if self.dtype is not None:
            return x.astype(self.dtype, copy=False)
        if not np.issubdtype(x.dtype, np.floating):
            return x.astype(np.float64)
        return x

    def _expect_ndim(self, x, ndim, layout):
        if x.ndim != ndim:
            raise ValueError(f"{self.name} expected x of shape {layout} ({ndim} dimensions), got {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{self.name} got an empty batch: x has shape {x.shape}")

    def _remember(self, out):
        self._out_shape = out.shape
        return out

    # ---- workspaces: buffers a fast path keeps between calls ----------------------------------------------
    def _workspace(self, name, shape, dtype):
        """An uninitialised buffer kept between calls under ``name``, reused while its shape and dtype stay the same.

        Reusing it spares the allocator: a large fresh array is often a fresh mmap, page-faulted and zeroed by the
        kernel on every pass. A workspace holds whatever the last call left in it, and the next call
        overwrites it: it is never returned to the caller, only copied out.
        """
        spaces = self.__dict__.setdefault("_workspaces", {})
        buf = spaces.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
            buf = _staggered_empty(shape, dtype)
            spaces[name] = buf
        return buf

    def _padded(self, name, shape, a, top, left):
        """The workspace ``name`` of ``shape``, holding a at (top, left) in its last two axes and zeros elsewhere.

        The zeros are written only when the workspace is new or a sat elsewhere last time; else only a is copied in,
        since nothing but this method writes to such a workspace (fewer calls: two parts running side by side each
        take Python's lock once per NumPy call).
        """
        buf = self._workspace(name, shape, a.dtype)
        placed = self.__dict__.setdefault("_placed", {})
        where = (top, left) + a.shape[-2:]
        last = placed.get(name)
        if last is None or last[0] is not buf or last[1] != where:  # `is`: a new buffer may reuse a freed address
            _place(buf, a, top, left)
            placed[name] = (buf, where)
        else:
            h, w = a.shape[-2:]
            buf[..., top:top + h, left:left + w] = a
        return buf

    def _returned(self, name, shape, dtype):
        """An uninitialised array for a value this layer returns (its output, dx), to be filled completely.

        It is the array returned under ``name`` last time if the caller has let go of it (nothing but this layer
        refers to it any more: no variable, list, cache or view), else a new one. A value the caller still holds
        is never touched, and a training loop that drops its arrays each step allocates nothing large: a new large
        array is often a fresh mmap whose pages the kernel must fault in and zero on every pass.
        """
        kept = self.__dict__.setdefault("_returned_arrays", {})
        prev = kept.get(name)
        if (prev is not None and prev.shape == tuple(shape) and prev.dtype == np.dtype(dtype)
                and sys.getrefcount(prev) <= _UNHELD[0] and sys.getrefcount(prev.base) <= _UNHELD[1]):
            return prev  # neither the array nor a view of it (a view refers to the buffer, prev.base) is held
        out = _staggered_empty(shape, dtype)
        kept[name] = out
        return out

    def _cached(self):
        if self.cache is None:
            raise RuntimeError(f"{self.name}.backward called before forward: run forward(x) first")
        return self.cache

    def _check_dout(self, dout):
        cache = self._cached()
        dout = np.asarray(dout)
        if dout.shape != self._out_shape:
            raise ValueError(
                f"{self.name}.backward expected dout of shape {self._out_shape} (the shape forward returned), "
                f"got {dout.shape}"
            )
        if not np.issubdtype(dout.dtype, np.floating):
            dout = dout.astype(self.dtype or np.float64)
        elif self.dtype is not None:
            dout = dout.astype(self.dtype, copy=False)
        return cache, dout




# Where a large buffer starts within a 4 KB page matters. When a load and an earlier store have addresses that agree
# in their low 12 bits, an x86 core may take the load for a read of the stored value and replay it ("4K aliasing").
# glibc gives every large array fresh pages (mmap), so all large buffers used to start at the same offset, and a
# layer streaming through two of them at once paid for it: the one-conv-layer net trained at about 48,000 samples/s
# in a fresh process and 54,000 with MALLOC_MMAP_THRESHOLD_ raised (which packs arrays on the heap instead). Each
# new workspace or returned array therefore starts 576 bytes (9 cache lines) further into the page than the last:
# 56,000 samples/s with either allocator (one core of an AMD EPYC, float32, batch 64).
_STAGGER = 576
_next_offset = 0


def _staggered_empty(shape, dtype):
    """Like np.empty(shape, dtype), starting at the next staggered offset within a 4 KB page (a multiple of 64)."""
    global _next_offset
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + 4096, dtype=np.uint8)
    start = (_next_offset - raw.ctypes.data) % 4096  # the array's address is _next_offset modulo 4096
    _next_offset = (_next_offset + _STAGGER) % 4096
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _unheld_refcount():
    """sys.getrefcount of a staggered array that only a dict refers to, and of its buffer (``.base``), seen exactly
    as Layer._returned sees them. Every view of the array refers to the buffer, not to the array itself."""
    kept = {"a": _staggered_empty((1,), np.float64)}
    prev = kept.get("a")
    return sys.getrefcount(prev), sys.getrefcount(prev.base)


_UNHELD = _unheld_refcount()  # (3, 2) on CPython 3.11


def _place(buf, a, top, left):
    """buf[..., top:top + h, left:left + w] = a (h, w = a's last two sizes), and zeros everywhere else in buf's last
    two axes: a zero-padded copy of a, written into a reused buffer without zeroing the part a covers first."""
    h, w = a.shape[-2:]
    buf[..., :top, :] = 0
    buf[..., top + h:, :] = 0
    inside = buf[..., top:top + h, :]
    inside[..., :left] = 0
    inside[..., left + w:] = 0
    inside[..., left:left + w] = a
    return buf


def _positive_int(v, name, owner):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{owner} expected {name} to be an int, got {v!r}")
    if v < 1:
        raise ValueError(f"{owner} expected {name} >= 1, got {v}")
    return int(v)


def _float_dtype(dtype, owner):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner} expected dtype float32 or float64, got {dtype}")
    return dtype
