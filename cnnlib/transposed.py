"""How evenly a transposed convolution covers its output (notebook 11).

A transposed convolution stamps one copy of the kernel per input pixel, the copies ``stride`` pixels apart.
When the kernel size is not a multiple of the stride, neighbouring copies overlap unevenly: some output pixels are
reached by more kernel taps than others, and a network has to fight that pattern (the "checkerboard artifacts"
of Odena, Dumoulin and Olah, Distill, 2016). Resizing first (nearest-neighbour) and then convolving with stride 1
reaches every inner pixel with the same number of taps.

    overlap_counts(K, s, n)[i, j]   = the number of (input pixel, kernel tap) pairs that land on output (i, j)
    along one axis:  count[t] = #{(i, u) : i·s + u = t, 0 <= i < n, 0 <= u < K},  output length (n - 1)·s + K
"""

import numpy as np

from .signal import _pair

__all__ = ["overlap_counts", "overlap_counts_1d", "resize_conv_counts", "upsample_nearest"]


def overlap_counts_1d(kernel_size, stride, input_size):
    """Along one axis: count[t] for t = 0 .. (n - 1)·s + K - 1, as a 1-D int array. See the module docstring."""
    K, s, n = (_pair(v, name, "overlap_counts_1d")[0]
               for v, name in ((kernel_size, "kernel_size"), (stride, "stride"), (input_size, "input_size")))
    counts = np.zeros((n - 1) * s + K, dtype=int)
    for i in range(n):  # input pixel i stamps the kernel onto t = i·s .. i·s + K - 1
        counts[i * s:i * s + K] += 1
    return counts


def overlap_counts(kernel_size, stride, input_size):
    """How many kernel taps reach each output pixel of a transposed convolution (no padding, dilation 1).

    kernel_size, stride, input_size: an int or a pair (rows, columns), each >= 1.
    Returns an int array (H_out, W_out) = ((H - 1)·sh + KH, (W - 1)·sw + KW). It is the outer product of the
    per-axis counts, because a tap (u, v) from pixel (i, j) lands on (i·sh + u, j·sw + v).
    With KH a multiple of sh, every row away from the borders gets the same count KH / sh; otherwise the counts
    alternate, which is the checkerboard.
    """
    (KH, KW), (sh, sw), (H, W) = (_pair(v, name, "overlap_counts") for v, name in
                                  ((kernel_size, "kernel_size"), (stride, "stride"), (input_size, "input_size")))
    return np.outer(overlap_counts_1d(KH, sh, H), overlap_counts_1d(KW, sw, W))


def upsample_nearest(x, factor):
    """Nearest-neighbour upsampling: every pixel becomes a factor x factor block.

    x: (..., H, W) -> (..., H·fh, W·fw); factor: an int or a pair, each >= 1.
    """
    fh, fw = _pair(factor, "factor", "upsample_nearest")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"upsample_nearest expected an array (..., H, W), got shape {x.shape}")
    return np.repeat(np.repeat(x, fh, axis=-2), fw, axis=-1)


def resize_conv_counts(kernel_size, stride, input_size):
    """The same count for resize-then-convolve: upsample by ``stride`` (nearest neighbour), then a stride-1
    correlation with a KH x KW kernel and zero padding that keeps the size ('same': (KH - 1) // 2 on top).

    Returns an int array (H·sh, W·sw): the number of kernel taps that read a pixel of the upsampled image
    (not a padding zero) for each output pixel. Away from the borders it is KH·KW everywhere: no pattern.
    """
    (KH, KW), (sh, sw), (H, W) = (_pair(v, name, "resize_conv_counts") for v, name in
                                  ((kernel_size, "kernel_size"), (stride, "stride"), (input_size, "input_size")))

    def axis(K, n):
        top = (K - 1) // 2
        t = np.arange(n)[:, None] + np.arange(K)[None, :] - top  # the rows of the upsampled image each tap reads
        return ((t >= 0) & (t < n)).sum(axis=1)

    return np.outer(axis(KH, H * sh), axis(KW, W * sw))
