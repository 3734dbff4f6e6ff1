"""Checker for the exercise of notebook 09: the δ of the conv layer in the one-conv-layer net of a Data Science
Stack Exchange question, carried back by hand from the dense layer.

After its conv layer the net computes a = ReLU(z) -> p = maxpool 2x2 (a) -> f = flatten(p) -> z_out = f (W2)ᵀ + b2
(notebook 09's dense layer W², b²). The learner writes ``fn(z, W_fc, delta_fc) -> delta``: from z (N, F, H_out, W_out)
with H_out and W_out even, the dense weight W_fc = W2 (Q, F·H_out/2·W_out/2) and delta_fc = ∂L/∂z_out (N, Q) (z_out:
the logits), it returns δ = ∂L/∂z (N, F, H_out, W_out), the 3×24×24 δ of the reader's question, without the layers'
own backward passes.
"""

import numpy as np

from ..layers import Dense, Flatten, MaxPool2D, ReLU
from . import _shortcuts
from ._core import Exercise, Mistake, self_check

__all__ = ["check_conv_delta"]


def _conv_delta_reference(z, W_fc, delta_fc):
    relu, pool, flat, dense = ReLU(), MaxPool2D(2, 2), Flatten(), Dense(W_fc.shape[1], W_fc.shape[0])
    dense.params["W"] = W_fc
    dense.forward(flat.forward(pool.forward(relu.forward(z))))
    return relu.backward(pool.backward(flat.backward(dense.backward(delta_fc))))


def _pool_winners(a):
    """1 at the first maximum of every 2x2 window of a (N, F, H, W), in row-major order; 0 elsewhere."""
    N, F, H, W = a.shape
    windows = a.reshape(N, F, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, F, H // 2, W // 2, 4)
    onehot = np.eye(4)[np.argmax(windows, axis=-1)]
    return onehot.reshape(N, F, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, F, H, W)


def _upsample(d_pool):
    return np.repeat(np.repeat(d_pool, 2, axis=2), 2, axis=3)


def _conv_delta_variant(z, W_fc, delta_fc, mask=True, route="first", order="C"):
    N, F, H, W = z.shape
    d_flat = delta_fc @ W_fc
    if order == "C":
        d_pool = d_flat.reshape(N, F, H // 2, W // 2)
    else:  # channels last: (N, H_out/2, W_out/2, F), as if the maps had been flattened pixel by pixel
        d_pool = d_flat.reshape(N, H // 2, W // 2, F).transpose(0, 3, 1, 2)
    a = np.maximum(z, 0)
    routing = _pool_winners(a) if route == "first" else np.full(z.shape, 0.25)
    d = _upsample(d_pool) * routing
    return d * (z > 0) if mask else d


MAP_MISTAKES = [
    Mistake("forgot the ReLU mask",
            "the entries where z ≤ 0 should get δ = 0: ReLU passed nothing forward there, so nothing flows back. "
            "Multiply by (z > 0) after routing through the pool.",
            lambda z, W, d: _conv_delta_variant(z, W, d, mask=False)),
    Mistake("spread the gradient like average pooling",
            "you gave each of the 4 entries of a window a quarter of its gradient. Max pooling passes the whole "
            "gradient to the one entry that won the window (the first maximum) and 0 to the other three.",
            lambda z, W, d: _conv_delta_variant(z, W, d, route="average")),
    Mistake("unflattened in the wrong order",
            "Flatten laid the maps out map by map (C order: all of map 0, then map 1, ...). Undo it with "
            "reshape(N, F, H_out/2, W_out/2); you unflattened pixel by pixel, which mixes the maps.",
            lambda z, W, d: _conv_delta_variant(z, W, d, order="channels last")),
    Mistake("used the pooled δ without routing",
            "you repeated each pooled δ over its 2x2 window (np.repeat) and masked with ReLU, but sent it to all "
            "four entries. Only the window's maximum gets it.",
            lambda z, W, d: _upsample((d @ W).reshape(z.shape[0], z.shape[1], z.shape[2] // 2, z.shape[3] // 2))
            * (z > 0)),
]


def _map_cases(seed=880, shapes=None):
    """(z, W_fc, delta_fc): N digits, F maps of H x W (even), Q classes. No ties inside a window."""
    rng = np.random.default_rng(seed)
    shapes = shapes or [(2, 3, 24, 24, 10),  # the one-conv-layer net: 3x24x24 -> 3x12x12 -> 432 -> 10
                        (3, 2, 6, 8, 4),
                        (1, 3, 4, 6, 5)]
    cases = []
    for N, F, H, W, K in shapes:
        z = rng.standard_normal((N, F, H, W))
        cases.append((z, rng.standard_normal((K, F * H * W // 4)), rng.standard_normal((N, K))))
    return cases


MAP_CASES = _map_cases()


def _draw(rng):
    """New cases at grading time: N ≥ 1 digits, F ≥ 2 maps (so the flatten order shows), even H and W."""
    shapes = [(int(rng.integers(1, 4)), int(rng.integers(2, 5)), 2 * int(rng.integers(2, 6)),
               2 * int(rng.integers(2, 6)), int(rng.integers(2, 8))) for _ in range(2)]
    return _map_cases(int(rng.integers(2**31)), shapes)


def _shortcut_list():
    return [_shortcuts.layer(cls) for cls in (ReLU, MaxPool2D, Flatten, Dense)] + [_shortcuts.model(),
                                                                                    _shortcuts.numerical()]


# Check ``conv_delta(z, W_fc, delta_fc) -> delta`` (N, F, H, W): δ carried from the dense layer back through
# Flatten, 2x2 max pooling and ReLU to the conv layer's output z. Names: "forgot the ReLU mask", "spread the
# gradient like average pooling", "unflattened in the wrong order", "used the pooled δ without routing". Refuses
# cnnlib's layers' backward passes and numerical gradients.
EXERCISE = Exercise("conv_delta", "check_conv_delta", "δ back to the conv layer", "09_mnist_training",
                    _conv_delta_reference, MAP_CASES, _draw, MAP_MISTAKES, shortcuts=_shortcut_list)
check_conv_delta = self_check(EXERCISE)
