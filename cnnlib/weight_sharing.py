"""A convolution layer is a fully connected layer with cut connections and tied weights (notebook 02).

One channel, stride 1, no padding. The input x has shape (H, W_in), the kernel W has shape (KH, KW), and the output
z = x ⋆ W has shape (H_out, W_out) = (H - KH + 1, W_in - KW + 1). Flatten x and z row by row; then

    z.ravel() = M @ x.ravel(),    M of shape (H_out·W_out, H·W_in),

where row i·W_out + j of M holds W[u, v] in column (i + u)·W_in + (j + v) and zeros elsewhere. Every kernel entry
W[u, v] appears H_out·W_out times in M: these are its "copies", one per output pixel.

Everything here is written as plain loops over the definition, to be read next to the notebook.
"""

import numpy as np

__all__ = [
    "kernel_taps",
    "conv_matrix",
    "receptive_field",
    "fan_out",
    "weight_copies",
    "tie_gradient",
]


def _sizes(kernel_shape, input_shape, func):
    """Check the shapes and return (H, W, KH, KW, H_out, W_out)."""
    if len(tuple(input_shape)) != 2 or len(tuple(kernel_shape)) != 2:
        raise ValueError(f"{func} expected an input shape (H, W) and a kernel shape (KH, KW), "
                         f"got {tuple(input_shape)} and {tuple(kernel_shape)}")
    H, W = (int(s) for s in input_shape)
    KH, KW = (int(s) for s in kernel_shape)
    if min(H, W, KH, KW) < 1:
        raise ValueError(f"{func} expected positive sizes, got input {(H, W)} and kernel {(KH, KW)}")
    if KH > H or KW > W:
        raise ValueError(f"{func} needs a kernel no larger than the input; got kernel {(KH, KW)} "
                         f"and input {(H, W)}")
    return H, W, KH, KW, H - KH + 1, W - KW + 1


def kernel_taps(kernel_shape, input_shape):
    """Which kernel entry each connection of the dense matrix uses.

    kernel_shape: (KH, KW); input_shape: (H, W).
    Returns T, an int array of shape (H_out·W_out, H·W): T[r, c] = u·KW + v when output pixel r = i·W_out + j
    reads input pixel c = (i + u)·W + (j + v) through W[u, v], and -1 when the connection is cut.
    """
    H, W, KH, KW, H_out, W_out = _sizes(kernel_shape, input_shape, "kernel_taps")
    T = np.full((H_out * W_out, H * W), -1, dtype=np.int64)
    for i in range(H_out):
        for j in range(W_out):
            for u in range(KH):
                for v in range(KW):
                    T[i * W_out + j, (i + u) * W + (j + v)] = u * KW + v
    return T


def conv_matrix(W, input_shape):
    """The dense matrix M with M @ x.ravel() == correlate2d(x, W, "valid").ravel().

    W: kernel (KH, KW); input_shape: (H, W) of x.
    Returns M of shape (H_out·W_out, H·W): the kernel written into every row at its window, zeros elsewhere.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"conv_matrix expected a 2-D kernel W (KH, KW), got shape {W.shape}")
    T = kernel_taps(W.shape, input_shape)
    M = np.zeros(T.shape, dtype=np.float64 if W.dtype == bool else W.dtype)
    used = T >= 0
    M[used] = W.ravel()[T[used]]  # tied weights: every copy of W[u, v] holds the same number
    return M


def receptive_field(i, j, kernel_shape, input_shape):
    """The input pixels output pixel (i, j) reads, and the weight used for each.

    Returns a list of ((p, q), (u, v)) in row-major kernel order: z[i, j] = Σ x[p, q] · W[u, v].
    """
    H, W, KH, KW, H_out, W_out = _sizes(kernel_shape, input_shape, "receptive_field")
    if not (0 <= i < H_out and 0 <= j < W_out):
        raise ValueError(f"receptive_field expected an output pixel inside {(H_out, W_out)}, got {(i, j)}")
    return [((i + u, j + v), (u, v)) for u in range(KH) for v in range(KW)]


def fan_out(p, q, kernel_shape, input_shape):
    """The output pixels that input pixel (p, q) feeds, and the weight each one multiplies it by.

    Returns a list of ((i, j), (u, v)) in row-major output order: x[p, q] enters z[i, j] through W[u, v],
    with (u, v) = (p - i, q - j). Corner pixels feed one output, central ones KH·KW outputs.
    """
    H, W, KH, KW, H_out, W_out = _sizes(kernel_shape, input_shape, "fan_out")
    if not (0 <= p < H and 0 <= q < W):
        raise ValueError(f"fan_out expected an input pixel inside {(H, W)}, got {(p, q)}")
    return [((i, j), (p - i, q - j))
            for i in range(H_out) for j in range(W_out)
            if 0 <= p - i < KH and 0 <= q - j < KW]


def weight_copies(dM, kernel_shape, input_shape):
    """The gradient of every copy of every tied weight, read out of the dense-layer gradient.

    dM: ∂L/∂M, shape (H_out·W_out, H·W) (for a dense layer that is δ xᵀ, equation BP4).
    Returns copies of shape (H_out, W_out, KH, KW): copies[i, j, u, v] is the gradient of the copy of W[u, v]
    that output pixel (i, j) uses, i.e. dM at row i·W_out + j, column (i + u)·W + (j + v).
    """
    H, W, KH, KW, H_out, W_out = _sizes(kernel_shape, input_shape, "weight_copies")
    dM = np.asarray(dM)
    if dM.shape != (H_out * W_out, H * W):
        raise ValueError(f"weight_copies expected dM of shape {(H_out * W_out, H * W)} for input {(H, W)} and "
                         f"kernel {(KH, KW)}, got {dM.shape}")
    copies = np.zeros((H_out, W_out, KH, KW), dtype=np.result_type(dM.dtype, np.float64))
    for i in range(H_out):
        for j in range(W_out):
            for u in range(KH):
                for v in range(KW):
                    copies[i, j, u, v] = dM[i * W_out + j, (i + u) * W + (j + v)]
    return copies


def tie_gradient(dM, kernel_shape, input_shape):
    """The gradient of the tied kernel: the sum of the gradients of all its copies.

    dM: ∂L/∂M, shape (H_out·W_out, H·W). Returns dW of shape (KH, KW).
    With dM = δ xᵀ this equals correlate2d(x, δ, "valid") (notebook 02).
    """
    return weight_copies(dM, kernel_shape, input_shape).sum(axis=(0, 1))
