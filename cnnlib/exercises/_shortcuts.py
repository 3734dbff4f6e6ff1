"""The shortcuts the checkers refuse: library code that would compute an exercise's answer for the learner.

Each function returns ``Shortcut`` objects (see ``_core``); the imports happen here, late, so that importing
``cnnlib.exercises`` stays cheap and scipy stays optional.
"""

from ._core import Shortcut

_WHY = "computes this for you; the exercise asks you to derive it"


def _methods(cls, *names):
    return tuple(getattr(cls, n) for n in names if hasattr(cls, n))


def layer(cls, *extra_names):
    """A layer class whose backward pass is the exercise: refuse the class, block its backward methods."""
    return Shortcut(f"`{cls.__name__}.backward`", targets=_methods(cls, "backward", "backward_naive"),
                    names=(cls.__name__,) + extra_names, why=_WHY)


def numerical():
    from ..gradcheck import check_layer, numerical_gradient

    return Shortcut("`numerical_gradient`", targets=(numerical_gradient, check_layer),
                    names=("numerical_gradient", "check_layer"),
                    why="estimates this gradient for you; the exercise asks you to derive it")


def model():
    from ..model import Sequential

    return layer(Sequential)


def conv_layers():
    """Everything in cnnlib that computes a convolution layer's gradients."""
    from .. import speed
    from ..layers import Conv2D

    return [layer(Conv2D),
            Shortcut("`cnnlib.speed.conv2d_einsum_backward`", targets=(speed.conv2d_einsum_backward,),
                     names=("conv2d_einsum_backward", "torch_conv2d"), why=_WHY),
            model(), numerical()]


def two_d_operations(*names):
    """cnnlib's and scipy's 2-D correlation/convolution functions named ``names`` ("correlate2d", ...)."""
    from .. import signal

    targets = [getattr(signal, n) for n in names if hasattr(signal, n)]
    if "correlate2d" in names:
        targets.append(signal.correlate2d_naive)
    scipy_names = []
    try:
        import scipy.signal as ss
    except ImportError:  # scipy is only a test dependency
        ss = None
    for n in names:
        for alias in {"correlate2d": ("correlate2d", "correlate", "fftconvolve", "oaconvolve"),
                      "convolve2d": ("convolve2d", "convolve", "fftconvolve", "oaconvolve")}.get(n, (n,)):
            scipy_names.append(alias)
            # scipy's n-d correlate calls its convolve: refuse those two by name only, block the 2-D ones
            if ss is not None and alias.endswith("2d") and hasattr(ss, alias):
                targets.append(getattr(ss, alias))
    labels = " / ".join(f"`{n}`" for n in names)
    return Shortcut(labels, targets=tuple(targets),
                    names=tuple(dict.fromkeys(list(names) + scipy_names
                                              + ["correlate2d_naive"] * ("correlate2d" in names))),
                    why="is what the exercise asks you to build without")
