"""The 2-D operations that the proofs talk about.

Every function here takes plain 2-D arrays, the way the derivations in notebooks 02-04 write them:
an input ``x`` of shape (H, W) and a kernel ``k`` of shape (KH, KW).

    correlation   (x ⋆ k)[i, j] = Σ_u Σ_v x[i + u, j + v] · k[u, v]        u = 0..KH-1, v = 0..KW-1
    convolution   (x * k)[i, j] = Σ_u Σ_v x[i - u, j - v] · k[u, v]

(x zero outside its H x W pixels). The two index formulas count from different origins: i = 0 is the first
'valid' position in the correlation, the first 'full' position in the convolution. Entry by entry,
(x * k)[i, j] = (x ⋆ rot180(k))[i - KH + 1, j - KW + 1]; as arrays of one mode,
convolve2d(x, k, mode) == correlate2d(x, rot180(k), mode).

Output sizes, for each of the three modes:

    "valid"  (H - KH + 1, W - KW + 1)   the kernel stays inside x
    "full"   (H + KH - 1, W + KW - 1)   every partial overlap, x zero-padded by KH - 1 rows and KW - 1 columns on every side
    "same"   (H, W)                     the centre of "full"

The results equal ``scipy.signal.correlate2d`` / ``convolve2d`` (boundary "fill", fillvalue 0) in every mode.
The identity x * k = x ⋆ rot180(k) holds exactly in "valid" and "full". In "same" it holds for odd kernels only:
for an even kernel the two operations keep centres one pixel apart, as scipy does (notebook 03 shows it).
Unlike scipy, "valid" never swaps its arguments: a kernel larger than x is an error.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MODES = ("valid", "full", "same")

__all__ = [
    "MODES",
    "correlate2d",
    "convolve2d",
    "rot180",
    "insert_zeros",
    "pad2d",
    "output_size",
    "correlate2d_naive",
]


def _as_2d(name, a, func):
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{func} expected {name} to be a 2-D array (H, W), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{func} expected a non-empty {name}, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{func} expected a numeric {name}, got dtype {a.dtype}")
    return a


def _check_mode(mode, func):
    if mode not in MODES:
        raise ValueError(f"{func} expected mode to be one of {MODES}, got {mode!r}")


def rot180(k):
    """Rotate a kernel by 180 degrees: rot180(k)[u, v] = k[KH-1-u, KW-1-v].

    k: (..., KH, KW), the last two axes are flipped. Returns a view of the same shape.
    This is NOT the transpose: transposing swaps k[u, v] and k[v, u]; rotating reverses both axes.
    """
    k = np.asarray(k)
    if k.ndim < 2:
        raise ValueError(f"rot180 expected an array with at least 2 dimensions (..., KH, KW), got shape {k.shape}")
    return k[..., ::-1, ::-1]


def insert_zeros(a, stride):
    """Put ``stride - 1`` zeros between neighbouring entries along the last two axes.

    a: (..., H, W)  ->  (..., (H-1)*sh + 1, (W-1)*sw + 1)
    This is how a delta from a strided layer is spread back onto the stride-1 grid (notebook 05).
    stride: an int or a pair (sh, sw), each >= 1.
    """
    a = np.asarray(a)
    sh, sw = _pair(stride, "stride", "insert_zeros")
    if a.ndim < 2:
        raise ValueError(f"insert_zeros expected an array with at least 2 dimensions (..., H, W), got shape {a.shape}")
    H, W = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + ((H - 1) * sh + 1, (W - 1) * sw + 1), dtype=a.dtype)
    out[..., ::sh, ::sw] = a
    return out


def pad2d(a, pad):
    """Zero-pad the last two axes.

    a: (..., H, W); pad: an int p, a pair (ph, pw), or four ints (top, bottom, left, right).
    Returns (..., H + top + bottom, W + left + right).
    """
    a = np.asarray(a)
    top, bottom, left, right = _four(pad, "pad2d")
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(a, widths)


def output_size(H, KH, mode):
    """Length of the output along one axis for an input of length H and a kernel of length KH."""
    _check_mode(mode, "output_size")
    return {"valid": H - KH + 1, "full": H + KH - 1, "same": H}[mode]


def _pad_for_mode(x, KH, KW, mode, same_offset):
    """Zero-pad x so that a 'valid' correlation of the result gives the requested mode.

    'same' keeps the centre of 'full'; ``same_offset(K)`` says how many rows of 'full' are dropped at the top/left.
    scipy drops K // 2 for correlation and (K - 1) // 2 for convolution; the two agree for odd K.
    """
    if mode == "valid":
        return x
    if mode == "full":
        return pad2d(x, (KH - 1, KH - 1, KW - 1, KW - 1))
    top, left = KH - 1 - same_offset(KH), KW - 1 - same_offset(KW)
    return pad2d(x, (top, KH - 1 - top, left, KW - 1 - left))


def _valid_correlate(x, k):
    """Fast 'valid' correlation through a sliding-window view: one dot product per output pixel."""
    windows = sliding_window_view(x, k.shape)  # (H_out, W_out, KH, KW), no copy
    return np.einsum("ijmn,mn->ij", windows, k)


def _prepare(x, k, mode, func):
    x = _as_2d("x", x, func)
    k = _as_2d("k", k, func)
    _check_mode(mode, func)
    if mode == "valid" and (k.shape[0] > x.shape[0] or k.shape[1] > x.shape[1]):
        raise ValueError(
            f"{func} in 'valid' mode needs a kernel no larger than x; got x of shape {x.shape} "
            f"and k of shape {k.shape}. Use mode='full' or a smaller kernel."
        )
    dtype = np.result_type(x.dtype, k.dtype, np.float64) if x.dtype == bool or k.dtype == bool else None
    if dtype is not None:
        x, k = x.astype(dtype), k.astype(dtype)
    return x, k


def correlate2d(x, k, mode="valid"):
    """Cross-correlation, what deep-learning frameworks call "convolution".

    out[i, j] = Σ_u Σ_v x_padded[i + u, j + v] · k[u, v]
    x: (H, W); k: (KH, KW); mode: "valid", "full" or "same" (sizes in the module docstring).
    """
    x, k = _prepare(x, k, mode, "correlate2d")
    xp = _pad_for_mode(x, *k.shape, mode, same_offset=lambda K: K // 2)
    return _valid_correlate(xp, k)


def convolve2d(x, k, mode="valid"):
    """True convolution: correlation with the kernel rotated by 180 degrees.

    The result equals correlate2d(x, rot180(k), mode) (for "same": with an odd kernel). Index by index, with i
    counted from the first 'full' position, (x * k)[i, j] = Σ_u Σ_v x[i - u, j - v] · k[u, v]; "valid" keeps the
    positions i >= KH - 1, j >= KW - 1 of that sum.
    x: (H, W); k: (KH, KW); mode: "valid", "full" or "same".
    """
    x, k = _prepare(x, k, mode, "convolve2d")
    xp = _pad_for_mode(x, *k.shape, mode, same_offset=lambda K: (K - 1) // 2)
    return _valid_correlate(xp, rot180(k))


def correlate2d_naive(x, k, mode="valid"):
    """The same as ``correlate2d``, written as the four nested loops of the definition.

    Slow, but every line is the equation: out[i, j] = Σ_u Σ_v x_padded[i + u, j + v] · k[u, v].
    """
    x, k = _prepare(x, k, mode, "correlate2d_naive")
    KH, KW = k.shape
    xp = _pad_for_mode(x, KH, KW, mode, same_offset=lambda K: K // 2)
    H_out, W_out = xp.shape[0] - KH + 1, xp.shape[1] - KW + 1
    out = np.zeros((H_out, W_out), dtype=np.result_type(x, k))
    for i in range(H_out):
        for j in range(W_out):
            for u in range(KH):
                for v in range(KW):
                    out[i, j] += xp[i + u, j + v] * k[u, v]
    return out


def _pair(v, name, owner):
    """Turn an int or a pair into a pair of ints >= 1, or raise naming ``owner``."""
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2 or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pair):
        raise TypeError(f"{owner} expected {name} to be an int or a pair of ints, got {v!r}")
    if min(pair) < 1:
        raise ValueError(f"{owner} expected {name} >= 1, got {v!r}")
    return int(pair[0]), int(pair[1])


def _four(pad, owner):
    """Turn an int, a pair (ph, pw) or four ints into (top, bottom, left, right), all >= 0."""
    vals = (pad,) if np.isscalar(pad) else tuple(pad)
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in vals):
        raise TypeError(f"{owner} expected padding as ints, got {pad!r}")
    if len(vals) == 1:
        vals = vals * 4
    elif len(vals) == 2:
        vals = (vals[0], vals[0], vals[1], vals[1])
    elif len(vals) != 4:
        raise ValueError(f"{owner} expected padding as an int, a pair or four ints, got {pad!r}")
    if min(vals) < 0:
        raise ValueError(f"{owner} expected padding >= 0, got {pad!r}")
    return tuple(int(p) for p in vals)
