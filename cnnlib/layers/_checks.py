"""Checks of layer constructor arguments, shared by the layer modules: whole numbers, dtypes, pairs.

``_pair`` (an int or a pair -> a pair) and ``_four`` (padding -> top, bottom, left, right) come from cnnlib.signal,
where correlate2d uses them too.
"""

import numpy as np

from ..signal import _four, _pair  # noqa: F401  (re-exported: every layer module takes them from here)


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
