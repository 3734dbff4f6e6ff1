"""A warning for inputs that were never scaled: integer images (0..255) or values far outside [0, 1].

The layers' initial weights are drawn for inputs of order 1, so raw pixel values make the first pre-activations a
few hundred times too large: training then stalls or diverges instead of failing. ``fit`` and the first forward
pass of a ``Sequential`` call ``warn_if_unscaled`` once; nothing is changed, the user is told how to scale.
"""

import warnings

import numpy as np

__all__ = ["InputScaleWarning", "warn_if_unscaled", "FAR_OUTSIDE"]

# standardised images ((x - mean) / std) stay within a few units of 0; raw pixels reach 255
FAR_OUTSIDE = 10.0


class InputScaleWarning(UserWarning):
    """The input looks unscaled (integers, or values far outside [0, 1])."""


def warn_if_unscaled(x, owner, stacklevel=3):
    """Warn (InputScaleWarning) if ``x`` (an array of any shape) holds integers or values beyond ±FAR_OUTSIDE,
    saying how to scale it. Returns True if it warned."""
    x = np.asarray(x)
    if x.size == 0 or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        return False  # empty, boolean or not numeric: the layers say what they expect
    lo, hi = x.min(), x.max()
    if np.issubdtype(x.dtype, np.integer):
        top = 255 if 0 <= lo and hi <= 255 else max(abs(int(lo)), abs(int(hi)), 1)
        message = (f"{owner} got integer inputs ({x.dtype}, values {lo} to {hi}); the layers expect floats of "
                   f"order 1: scale them first, e.g. x = x.astype(np.float32) / {top}")
    elif np.isfinite(lo) and np.isfinite(hi) and max(-lo, hi) > FAR_OUTSIDE:
        message = (f"{owner} got inputs from {lo:g} to {hi:g}, far outside [0, 1]; scale them first, e.g. "
                   f"x = x / {max(-lo, hi):g}, or standardise: x = (x - x.mean()) / x.std()")
    else:
        return False
    warnings.warn(message, InputScaleWarning, stacklevel=stacklevel)
    return True
