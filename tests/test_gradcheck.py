"""The gradient checker must catch wrong backward passes, and warn about the classic false alarms."""

import warnings

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.gradcheck import KinkWarning, check_layer, numerical_gradient


class ConvForgotRotation(layers.Conv2D):
    """A deliberately wrong backward: dx uses the kernel without the 180-degree rotation."""

    def backward(self, dout):
        dx = super().backward(dout)
        from cnnlib.signal import correlate2d
        W = self.params["W"]
        wrong = np.zeros_like(dx)
        for n in range(dout.shape[0]):
            for c in range(W.shape[1]):
                for f in range(W.shape[0]):
                    wrong[n, c] += correlate2d(dout[n, f], W[f, c], "full")  # should be rot180(W[f, c])
        return wrong


class DenseForgotBias(layers.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = np.zeros_like(self.grads["b"])
        return dx


class ReLUWrongSide(layers.ReLU):
    def backward(self, dout):
        mask, dout = self._check_dout(dout)
        return dout * ~mask


def test_check_layer_flags_conv_without_rotation():
    rng = np.random.default_rng(0)
    layer = ConvForgotRotation(2, 2, (2, 3), rng=rng)
    errors = check_layer(layer, rng.standard_normal((2, 2, 5, 6)), rng=rng)
    assert errors["x"] > 0.1  # caught
    assert errors["W"] < 1e-7  # the parts that are right stay right


def test_check_layer_flags_a_missing_bias_gradient():
    rng = np.random.default_rng(1)
    layer = DenseForgotBias(3, 2, rng=rng)
    errors = check_layer(layer, rng.standard_normal((4, 3)), rng=rng)
    assert errors["b"] > 0.5 and errors["x"] < 1e-7 and errors["W"] < 1e-7


def test_check_layer_flags_a_wrong_relu():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4)) + np.sign(rng.standard_normal((3, 4)))  # well away from 0
    assert check_layer(ReLUWrongSide(), x, rng=rng)["x"] > 0.5


def test_check_layer_warns_near_a_relu_kink():
    x = np.array([[1.0, -0.5, 3e-6]])
    with pytest.warns(KinkWarning, match="ReLU"):
        errors = check_layer(layers.ReLU(), x, dout=np.ones((1, 3)))
    assert errors["x"] > 1e-3  # the false alarm the warning announces


def test_check_layer_warns_on_a_maxpool_tie():
    x = np.array([[[[1.0, 2.0], [2.0, 0.0]]]])
    with pytest.warns(KinkWarning, match="tie"):
        check_layer(layers.MaxPool2D(2), x)


def test_no_warning_away_from_kinks():
    rng = np.random.default_rng(3)
    x = rng.permutation(16).reshape(1, 1, 4, 4) + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinkWarning)
        check_layer(layers.MaxPool2D(2), x)
        check_layer(layers.ReLU(), x)


def test_check_layer_refuses_float32_parameters():
    layer = layers.Dense(2, 2, rng=np.random.default_rng(0), dtype=np.float32)
    with pytest.raises(TypeError, match="dtype=np.float64"):
        check_layer(layer, np.ones((1, 2)))


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: v, np.ones(3, dtype=np.float32), np.ones(3))


def test_rel_error_of_unrelated_arrays_is_about_0_71_as_documented():
    """The docstring's numbers: 0 for equal arrays, 1 for b = -a, about 1/√2 for independent normals."""
    import numpy as np
    from cnnlib.gradcheck import rel_error

    rng = np.random.default_rng(0)
    a = rng.standard_normal(10_000)
    assert rel_error(a, a) == 0.0 and abs(rel_error(a, -a) - 1.0) < 1e-12
    values = [rel_error(rng.standard_normal((100, 100)), rng.standard_normal((100, 100))) for _ in range(20)]
    assert all(abs(v - 2 ** -0.5) < 0.02 for v in values), values
    assert all(v < 0.9 for v in values)        # not "about 1", which the old docstring said
