"""Checker of notebook 11's exercise: a transposed convolution from zero insertion and a full correlation.

Each named mistake is written here as a learner would write it and must be named; shortcuts are refused; an honest
answer written another way than the notebook's passes the shown and the hidden cases."""

import numpy as np
import pytest

from cnnlib.exercises._core import SHORTCUT
from cnnlib.exercises import check_conv_transpose_from_zeros as check
from cnnlib.layers import Conv2D, ConvTranspose2D
from cnnlib.signal import convolve2d, correlate2d, insert_zeros, rot180



def right(x, W, s, p):
    y = correlate2d(insert_zeros(x, s), rot180(W), "full")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def honest_stamping(x, W, s, p):
    """Another way: stamp a weighted copy of W per input pixel, then crop."""
    KH, KW = W.shape
    y = np.zeros(((x.shape[0] - 1) * s + KH, (x.shape[1] - 1) * s + KW))
    for (i, j), v in np.ndenumerate(x):
        y[i * s:i * s + KH, j * s:j * s + KW] += v * W
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def honest_convolve(x, W, s, p):
    """Another way: a full CONVOLUTION with W is the full correlation with rot180(W)."""
    y = convolve2d(insert_zeros(x, s), W, "full")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


@pytest.mark.parametrize("fn", [right, honest_stamping, honest_convolve])
def test_honest_answers_pass_shown_and_hidden(fn):
    assert check(fn), check(fn).message
    assert check(fn, hidden=True), check(fn, hidden=True).message


def no_rotation(x, W, s, p):
    y = correlate2d(insert_zeros(x, s), W, "full")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def no_zeros(x, W, s, p):
    y = correlate2d(x, rot180(W), "full")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def s_zeros(x, W, s, p):
    y = correlate2d(insert_zeros(x, s + 1), rot180(W), "full")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def valid(x, W, s, p):
    y = correlate2d(insert_zeros(x, s), rot180(W), "valid")
    return y[p:y.shape[0] - p, p:y.shape[1] - p]


def no_crop(x, W, s, p):
    return correlate2d(insert_zeros(x, s), rot180(W), "full")


def one_side(x, W, s, p):
    return correlate2d(insert_zeros(x, s), rot180(W), "full")[2 * p:, 2 * p:]


@pytest.mark.parametrize("fn, name", [(no_rotation, "forgot the rotation"), (no_zeros, "forgot zero insertion"),
                                      (s_zeros, "wrong number of zeros"), (valid, "valid instead of full"),
                                      (no_crop, "did not crop the padding"), (one_side, "cropped one side only")])
def test_each_mistake_is_named(fn, name):
    result = check(fn)
    assert not result and name in result.mistakes, result.message
    assert not check(fn, hidden=True)


def test_random_answer_fails_without_a_name():
    result = check(lambda x, W, s, p: np.zeros(right(x, W, s, p).shape) + 1.0)
    assert not result and result.mistake is None and "differs first at" in result.message


def use_layer(x, W, s, p):
    layer = ConvTranspose2D(1, 1, W.shape, stride=s, padding=p)
    layer.params["W"] = W[None, None]
    return layer.forward(x[None, None])[0, 0]


def use_conv_backward(x, W, s, p):
    KH, KW = W.shape
    H, Wd = (x.shape[0] - 1) * s + KH - 2 * p, (x.shape[1] - 1) * s + KW - 2 * p
    conv = Conv2D(1, 1, W.shape, stride=s, padding=p)
    conv.params["W"] = W[None, None]
    conv.forward(np.zeros((1, 1, H, Wd)))
    return conv.backward(x[None, None])[0, 0]


def hidden_route(x, W, s, p):
    cls = globals()["ConvTranspose" + "2D"]  # a route whose names hide the layer: blocked while it runs
    layer = cls(1, 1, W.shape, stride=s, padding=p)
    layer.params["W"] = W[None, None]
    return layer.forward(x[None, None])[0, 0]


@pytest.mark.parametrize("fn", [use_layer, use_conv_backward, hidden_route])
def test_shortcuts_are_refused(fn):
    result = check(fn)
    assert not result and result.mistake == SHORTCUT, result.message
    assert "refused" in result.message


def test_the_private_reference_is_refused():
    from cnnlib.exercises import transposed

    result = check(lambda x, W, s, p: transposed._reference(x, W, s, p))
    assert not result and result.mistake == SHORTCUT


def test_unfinished_stub_says_so():
    def stub(x, W, s, p):
        raise NotImplementedError()
    assert "not done yet" in check(stub).message
