"""Checker of notebook 12's exercise: the backward of the strided tap slices a convolution is built from.

Each named mistake is written here as a learner would write it and must be named; shortcuts are refused; honest
answers written in other ways than the notebook's pass the shown and the hidden cases."""

import numpy as np
import pytest

from cnnlib.autodiff import Tensor
from cnnlib.exercises._core import SHORTCUT
from cnnlib.exercises import check_taps_backward as check



def right(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[m:m + s * (Ho - 1) + 1:s, n:n + s * (Wo - 1) + 1:s] += grads[m, n]
    return dx


def honest_add_at(grads, x_shape, s):
    """Another way: every (tap, output pixel) pair names the entry of x it read; np.add.at adds repeats."""
    KH, KW, Ho, Wo = grads.shape
    m, n, i, j = np.meshgrid(np.arange(KH), np.arange(KW), np.arange(Ho), np.arange(Wo), indexing="ij")
    dx = np.zeros(x_shape)
    np.add.at(dx, (m + s * i, n + s * j), grads)
    return dx


def honest_pixels(grads, x_shape, s):
    """Another way: loop over the output pixels instead of the taps."""
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for i in range(Ho):
        for j in range(Wo):
            dx[i * s:i * s + KH, j * s:j * s + KW] += grads[:, :, i, j]
    return dx


@pytest.mark.parametrize("fn", [right, honest_add_at, honest_pixels])
def test_honest_answers_pass_shown_and_hidden(fn):
    assert check(fn), check(fn).message
    assert check(fn, hidden=True), check(fn, hidden=True).message


def assigned(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[m:m + s * (Ho - 1) + 1:s, n:n + s * (Wo - 1) + 1:s] = grads[m, n]
    return dx


def contiguous(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[m:m + Ho, n:n + Wo] += grads[m, n]
    return dx


def offset(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[m * s:m * s + s * (Ho - 1) + 1:s, n * s:n * s + s * (Wo - 1) + 1:s] += grads[m, n]
    return dx


def swapped(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.zeros(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[n:n + s * (Ho - 1) + 1:s, m:m + s * (Wo - 1) + 1:s] += grads[m, n]
    return dx


def ones(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    dx = np.ones(x_shape)
    for m in range(KH):
        for n in range(KW):
            dx[m:m + s * (Ho - 1) + 1:s, n:n + s * (Wo - 1) + 1:s] += grads[m, n]
    return dx


@pytest.mark.parametrize("fn, name", [(assigned, "forgot to accumulate"),
                                      (contiguous, "wrong slice: ignored the stride"),
                                      (offset, "wrong slice: offset m·s"),
                                      (swapped, "wrong slice: swapped rows and columns"),
                                      (ones, "missing zeros")])
def test_each_mistake_is_named(fn, name):
    result = check(fn)
    assert not result and name in result.mistakes, result.message
    assert not check(fn, hidden=True)


def test_random_answer_fails_without_a_name():
    result = check(lambda g, shape, s: np.full(shape, 0.5))
    assert not result and result.mistake is None


def use_engine(grads, x_shape, s):
    KH, KW, Ho, Wo = grads.shape
    x = Tensor(np.zeros(x_shape))
    for m in range(KH):
        for n in range(KW):
            x[m:m + s * (Ho - 1) + 1:s, n:n + s * (Wo - 1) + 1:s].backward(grads[m, n])
    return x.grad


def engine_by_another_name(grads, x_shape, s):
    engine = globals()["Ten" + "sor"]  # a route whose names hide the engine: its slicing is blocked while it runs
    x = engine(np.zeros(x_shape))
    return x[0:1, 0:1].data


def torch_autograd(grads, x_shape, s):
    import torch
    x = torch.zeros(x_shape, requires_grad=True)
    return x.grad


@pytest.mark.parametrize("fn", [use_engine, engine_by_another_name, torch_autograd])
def test_shortcuts_are_refused(fn):
    result = check(fn)
    assert not result and result.mistake == SHORTCUT, result.message


def test_the_private_reference_is_refused():
    from cnnlib.exercises import autodiff

    result = check(lambda g, shape, s: autodiff._reference(g, shape, s))
    assert not result and result.mistake == SHORTCUT
