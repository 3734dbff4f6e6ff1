"""Layer configurations shared by the gradient-check, naive-vs-fast and PyTorch tests."""

# (N, C, H, W, F, kernel_size, stride, padding, dilation)
CONV_CONFIGS = [
    (2, 1, 5, 5, 1, 3, 1, 0, 1),
    (1, 1, 6, 6, 2, 2, 1, 0, 1),
    (2, 3, 7, 7, 4, 3, 1, 1, 1),
    (2, 2, 8, 6, 3, (3, 2), 1, 0, 1),
    (1, 2, 9, 9, 2, 3, 2, 0, 1),
    (2, 2, 9, 8, 2, 3, 2, 1, 1),
    (1, 3, 10, 10, 2, 4, 3, 2, 1),
    (2, 1, 7, 9, 3, (2, 3), (2, 1), (1, 0), 1),
    (1, 2, 8, 8, 2, 3, 1, 0, 2),
    (2, 2, 9, 9, 3, 3, 2, 2, 2),
    (1, 1, 11, 10, 2, (3, 2), 1, 1, (2, 3)),
    (2, 2, 6, 6, 2, 3, 1, "same", 1),
    (1, 2, 7, 6, 2, 4, 1, "same", 1),
    (1, 1, 7, 8, 2, (2, 3), 1, "same", 1),
    (2, 2, 8, 8, 1, 3, 1, "same", 2),
    (1, 2, 6, 7, 2, 2, 1, "same", 3),
    (2, 1, 5, 5, 2, 3, 1, "full", 1),
    (1, 2, 5, 6, 2, (2, 3), 1, "full", 1),
    (1, 1, 6, 6, 1, 2, 2, "full", 1),
    (2, 2, 6, 6, 2, 3, 1, "valid", 1),
    (1, 2, 4, 4, 3, 1, 1, 0, 1),
    (3, 1, 4, 5, 2, 1, 2, 1, 1),
    (1, 1, 5, 5, 1, 5, 1, 0, 1),
    (1, 2, 3, 3, 2, 5, 1, 1, 1),
    (2, 3, 12, 12, 2, 5, 3, 1, 1),
    (1, 2, 10, 7, 3, 3, (3, 2), (2, 1), (1, 2)),
    (2, 1, 13, 13, 2, 3, 4, 0, 3),
    (1, 4, 6, 6, 5, 2, 2, 1, 1),
    (2, 1, 28, 28, 3, 5, 1, 0, 1),  # the conv layer of the one-conv-layer net
    (1, 6, 14, 14, 4, 5, 1, 0, 1),  # a LeNet-5 layer, fewer filters
    (1, 1, 8, 8, 2, 3, 1, (3, 3), 1),
    (2, 2, 7, 7, 2, 2, 3, 0, 2),
]

# (N, C, H, W, kernel_size, stride)
POOL_CONFIGS = [
    (2, 1, 4, 4, 2, None),
    (1, 2, 6, 6, 3, None),
    (2, 2, 5, 5, 2, None),       # the last row/column is dropped
    (1, 2, 6, 6, 3, 1),          # overlapping windows
    (2, 1, 7, 7, 3, 2),          # overlapping windows
    (1, 3, 6, 8, (2, 3), None),
    (1, 1, 5, 7, (3, 2), (1, 2)),
    (2, 2, 8, 8, 2, 3),          # gaps between windows
    (1, 1, 3, 3, 3, None),
    (2, 2, 24, 24, 2, None),     # the pool of the one-conv-layer net
]


def conv_id(c):
    N, C, H, W, F, k, s, p, d = c
    return f"N{N}C{C}H{H}W{W}F{F}-k{k}-s{s}-p{p}-d{d}"


def pool_id(c):
    N, C, H, W, k, s = c
    return f"N{N}C{C}H{H}W{W}-k{k}-s{s}"
