"""Numerical gradients: the independent referee for every backward pass in this library.

For a function out = f(x) and an upstream gradient dout (∂L/∂out, L the cost), the chain rule says
∂L/∂x[i] = Σ dout · ∂out/∂x[i]. Central differences estimate it with no calculus at all:

    ∂L/∂x[i] ≈ (Σ dout · f(x + h e_i) - Σ dout · f(x - h e_i)) / 2h        (error O(h²))
"""

import warnings

import numpy as np

__all__ = ["numerical_gradient", "rel_error", "check_layer", "KinkWarning"]


class KinkWarning(UserWarning):
    """The check point sits within h of a ReLU kink or a max-pool tie, where finite differences mislead."""


def numerical_gradient(f, x, dout, h=1e-5):
    """Central-difference estimate of ∂(Σ dout · f(x))/∂x.

    f: callable taking x and returning an array of dout's shape. It is called with x modified in place
    (each entry is nudged by ±h and restored), so f may also ignore its argument and read a parameter
    array directly. x: float64 array, any shape. Returns an array of x's shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs x as a float64 array (float32 is too coarse for h={h}), "
                        f"got {type(x).__name__} {getattr(x, 'dtype', '')}")
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(np.asarray(f(x)) * dout)
        x[i] = old - h
        minus = np.sum(np.asarray(f(x)) * dout)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """||a - b|| / (||a|| + ||b||), between 0 and 1: 0 when equal, 1 only when b = -a (or one is 0).

    For two unrelated arrays of the same scale, such as independent standard normals, it is about
    1/√2 ≈ 0.71 (then ||a - b|| ≈ √2·||a|| while ||a|| + ||b|| ≈ 2·||a||), so a value near 0.7 means "no
    relation", not "almost right". A correct gradient against central differences gives about 1e-10.

    The whole-array norm is used (not the worst entry) so that entries that are both nearly zero cannot
    make two correct gradients look far apart. Two all-zero arrays have error 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error expected two arrays of the same shape, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def check_layer(layer, x, dout=None, *, h=1e-5, rng=None):
    """Compare a layer's backward with numerical gradients.

    layer: any object with forward/backward/params/grads (a Layer or a Sequential); float64 parameters.
    x: its input, cast to float64. dout: the upstream gradient (random if None, from ``rng``).
    Returns {"x": rel_error of ∂L/∂x, "<param>": rel_error of ∂L/∂param for each parameter}.
    Warns (KinkWarning) when a ReLU input or a max-pool tie lies within h of x, where a large error is
    expected even for a correct backward.
    """
    x = np.array(x, dtype=np.float64)
    params = _params_of(layer)
    for name, p in params.items():
        if p.dtype != np.float64:
            raise TypeError(f"check_layer needs float64 parameters; {type(layer).__name__} has {name} of dtype "
                            f"{p.dtype}. Build the layer with dtype=np.float64.")
    rng = np.random.default_rng(0) if rng is None else rng
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape) if dout is None else np.asarray(dout, dtype=np.float64)
    _warn_about_kinks(layer, x, h)

    dx = layer.backward(dout)
    analytic = {"x": dx}
    analytic.update({name: g.copy() for name, g in _grads_of(layer).items()})

    errors = {"x": rel_error(dx, numerical_gradient(lambda v: layer.forward(v), x, dout, h))}
    for name, p in params.items():
        errors[name] = rel_error(analytic[name], numerical_gradient(lambda _: layer.forward(x), p, dout, h))
    return errors


def _params_of(layer):
    if hasattr(layer, "layers"):  # Sequential
        return {name: p for name, p, _ in layer.parameters()}
    return dict(layer.params)


def _grads_of(layer):
    if hasattr(layer, "layers"):
        return {name: g for name, _, g in layer.parameters()}
    return dict(layer.grads)


def _warn_about_kinks(layer, x, h):
    """Walk the layer (or the Sequential's layers) with x and warn about inputs near a kink or a tie."""
    from .layers import MaxPool2D, ReLU

    previous = None
    for sub in getattr(layer, "layers", [layer]):
        if isinstance(sub, ReLU):
            close = np.abs(x) <= 2 * h
            if close.any():
                warnings.warn(f"check_layer: {int(close.sum())} input(s) of ReLU lie within {2 * h:g} of the kink at 0; "
                              "a large numerical-gradient error there is a false alarm", KinkWarning, stacklevel=3)
        elif isinstance(sub, MaxPool2D) and np.prod(sub.kernel_size) > 1:
            N, C, H, W = x.shape
            H_out, W_out = (H - sub.kernel_size[0]) // sub.stride[0] + 1, (W - sub.kernel_size[1]) // sub.stride[1] + 1
            windows = sub._windows(x, H_out, W_out).reshape(N, C, H_out, W_out, -1)
            top2 = np.sort(windows, axis=-1)[..., -2:]
            gap = top2[..., 1] - top2[..., 0]
            close = gap <= 2 * h
            if isinstance(previous, ReLU):
                # ties among ReLU zeros move only if a ReLU input is near 0, which is warned about above
                close &= top2[..., 1] > 0
            if close.any():
                warnings.warn(f"check_layer: {int(close.sum())} MaxPool2D window(s) have two or more maxima within {2 * h:g} "
                              "of each other (a tie); a large numerical-gradient error there is a false alarm",
                              KinkWarning, stacklevel=3)
        x, previous = sub.forward(x), sub
