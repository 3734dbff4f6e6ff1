"""Every public entry point rejects bad input with an error that names the layer and says expected vs got."""

import re

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.losses import MeanSquaredError, SoftmaxCrossEntropy
from cnnlib.model import Sequential
from cnnlib.optim import SGD

rng = np.random.default_rng(0)


def conv(*args, **kw):
    return layers.Conv2D(*args, rng=np.random.default_rng(0), **kw)


def tconv(*args, **kw):
    return layers.ConvTranspose2D(*args, rng=np.random.default_rng(0), **kw)


@pytest.mark.parametrize("make,x,exc,match", [
    (lambda: conv(3, 2, 3), np.ones((2, 2, 8, 8)), ValueError, r"Conv2D expected x of shape \(N, 3, H, W\), got \(2, 2, 8, 8\)"),
    (lambda: conv(1, 2, 3), np.ones((8, 8)), ValueError, r"Conv2D expected x of shape \(N, 1, H, W\) \(4 dimensions\), got \(8, 8\)"),
    (lambda: conv(1, 2, 5), np.ones((1, 1, 4, 4)), ValueError, r"Conv2D kernel 5x5 .* larger than the padded input 4x4"),
    (lambda: conv(1, 2, 3, dilation=3), np.ones((1, 1, 6, 6)), ValueError, r"dilated footprint 7x7"),
    (lambda: conv(1, 2, 3), np.ones((0, 1, 8, 8)), ValueError, r"Conv2D got an empty batch"),
    (lambda: tconv(3, 2, 3), np.ones((2, 2, 4, 4)), ValueError, r"ConvTranspose2D expected x of shape \(N, 3, H, W\), got \(2, 2, 4, 4\)"),
    (lambda: tconv(1, 2, 3), np.ones((4, 4)), ValueError, r"ConvTranspose2D expected x of shape \(N, 1, H, W\) \(4 dimensions\), got \(4, 4\)"),
    (lambda: tconv(1, 2, 3), np.ones((0, 1, 4, 4)), ValueError, r"ConvTranspose2D got an empty batch"),
    (lambda: tconv(1, 2, 3), np.ones((1, 1, 0, 4)), ValueError, r"ConvTranspose2D expected x with H, W >= 1, got shape \(1, 1, 0, 4\)"),
    (lambda: tconv(1, 2, 2, padding=2), np.ones((1, 1, 2, 5)), ValueError,
     r"ConvTranspose2D expected an output of at least 1x1, got -1x2: x has H, W = 2, 5, which gives 3x6 before padding=\(2, 2\)"),
    (lambda: tconv(1, 2, 3), np.array([["a"]]), TypeError, r"ConvTranspose2D expected a numeric array"),
    (lambda: layers.Dense(4, 2), np.ones((3, 5)), ValueError, r"Dense expected x of shape \(N, 4\), got \(3, 5\)"),
    (lambda: layers.Dense(4, 2), np.ones((3, 2, 2)), ValueError, r"Dense expected x of shape \(N, 4\) \(2 dimensions\)"),
    (lambda: layers.MaxPool2D(3), np.ones((1, 1, 2, 5)), ValueError, r"MaxPool2D window 3x3 is larger than the input 2x5"),
    (lambda: layers.AvgPool2D(2), np.ones((1, 4, 4)), ValueError, r"AvgPool2D expected x of shape \(N, C, H, W\)"),
    (lambda: layers.Flatten(), np.ones(5), ValueError, r"Flatten expected x of shape \(N, \.\.\.\)"),
    (lambda: layers.ReLU(), np.array(["a"]), TypeError, r"ReLU expected a numeric array"),
])
def test_forward_rejects_bad_x(make, x, exc, match):
    with pytest.raises(exc, match=match):
        make().forward(x)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: conv(1, 2, 0), ValueError, r"Conv2D expected kernel_size >= 1, got 0"),
    (lambda: conv(1, 2, 3, stride=0), ValueError, r"Conv2D expected stride >= 1"),
    (lambda: conv(1, 2, 3, stride=(1, -2)), ValueError, r"Conv2D expected stride >= 1, got \(1, -2\)"),
    (lambda: conv(1, 2, 3, dilation=0), ValueError, r"Conv2D expected dilation >= 1"),
    (lambda: conv(1, 2, 3, padding=-1), ValueError, r"Conv2D expected padding >= 0, got -1"),
    (lambda: conv(1, 2, 3, padding="half"), ValueError, r"Conv2D expected padding to be .*'same'.* got 'half'"),
    (lambda: conv(1, 2, 3, padding=(1, 2, 3)), ValueError, r"Conv2D expected padding as an int or a pair"),
    (lambda: conv(1, 2, 3, stride=2, padding="same"), ValueError, r"Conv2D padding='same' needs stride 1, got stride=\(2, 2\)"),
    (lambda: conv(1, 2, 2.5), TypeError, r"Conv2D expected kernel_size to be an int or a pair of ints, got 2.5"),
    (lambda: conv(0, 2, 3), ValueError, r"Conv2D expected in_channels >= 1, got 0"),
    (lambda: conv(1, 2, 3, dtype=np.int32), TypeError, r"Conv2D expected dtype float32 or float64, got int32"),
    (lambda: tconv(0, 2, 3), ValueError, r"ConvTranspose2D expected in_channels >= 1, got 0"),
    (lambda: tconv(1, 0, 3), ValueError, r"ConvTranspose2D expected out_channels >= 1, got 0"),
    (lambda: tconv(1, 2, 0), ValueError, r"ConvTranspose2D expected kernel_size >= 1, got 0"),
    (lambda: tconv(1, 2, 2.5), TypeError, r"ConvTranspose2D expected kernel_size to be an int or a pair of ints, got 2.5"),
    (lambda: tconv(1, 2, 3, stride=(1, -2)), ValueError, r"ConvTranspose2D expected stride >= 1, got \(1, -2\)"),
    (lambda: tconv(1, 2, 3, dilation=0), ValueError, r"ConvTranspose2D expected dilation >= 1"),
    (lambda: tconv(1, 2, 3, padding=-1), ValueError, r"ConvTranspose2D expected padding >= 0, got -1"),
    (lambda: tconv(1, 2, 3, padding="same"), ValueError, r"ConvTranspose2D expected padding as an int or a pair of ints >= 0, got 'same'"),
    (lambda: tconv(1, 2, 3, padding=(1, 2, 3)), ValueError, r"ConvTranspose2D expected padding as an int or a pair"),
    (lambda: tconv(1, 2, 3, output_padding=-1), ValueError, r"ConvTranspose2D expected output_padding >= 0, got -1"),
    (lambda: tconv(1, 2, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose2D expected output_padding smaller than the stride or the dilation \(each axis\), "
     r"got output_padding=\(2, 2\) with stride=\(2, 2\), dilation=\(1, 1\)"),
    (lambda: tconv(1, 2, 3, output_padding=1), ValueError, r"ConvTranspose2D expected output_padding smaller than the stride"),
    (lambda: tconv(1, 2, 3, stride=(2, 1), output_padding=(1, 1)), ValueError, r"output_padding=\(1, 1\) with stride=\(2, 1\)"),
    (lambda: tconv(1, 2, 3, output_padding=1.0), TypeError, r"ConvTranspose2D expected output_padding to be an int or a pair of ints"),
    (lambda: tconv(1, 2, 3, dtype=np.int32), TypeError, r"ConvTranspose2D expected dtype float32 or float64, got int32"),
    (lambda: layers.Dense(0, 3), ValueError, r"Dense expected in_features >= 1, got 0"),
    (lambda: layers.MaxPool2D(0), ValueError, r"MaxPool2D expected kernel_size >= 1"),
    (lambda: layers.AvgPool2D(2, stride=0), ValueError, r"AvgPool2D expected stride >= 1"),
    (lambda: Sequential(layers.ReLU(), "relu"), TypeError, r"Sequential expected Layer objects, got str at position 1"),
    (lambda: SGD(Sequential(), lr=0), ValueError, r"SGD expected a learning rate lr > 0, got 0"),
    (lambda: SGD(Sequential(), lr=0.1, momentum=1.0), ValueError, r"SGD expected 0 <= momentum < 1"),
])
def test_constructors_reject_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("make,x", [
    (lambda: conv(1, 2, 3), np.ones((2, 1, 6, 6))),
    (lambda: tconv(1, 2, 3, stride=2, output_padding=1), np.ones((2, 1, 3, 4))),
    (lambda: layers.Dense(3, 2), np.ones((2, 3))),
    (layers.ReLU, np.ones((2, 3))),
    (layers.Sigmoid, np.ones((2, 3))),
    (layers.Tanh, np.ones((2, 3))),
    (layers.Flatten, np.ones((2, 3, 2))),
    (lambda: layers.MaxPool2D(2), np.ones((1, 1, 4, 4))),
    (lambda: layers.AvgPool2D(2), np.ones((1, 1, 4, 4))),
])
def test_backward_before_forward_and_wrong_dout(make, x):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
        layer.backward(np.ones((1, 1)))
    out = layer.forward(x)
    wrong = np.ones(out.shape[:-1] + (out.shape[-1] + 1,))
    with pytest.raises(ValueError, match=re.escape(f"{name}.backward expected dout of shape {out.shape}")):
        layer.backward(wrong)


@pytest.mark.parametrize("logits,labels,exc,match", [
    (np.zeros((3, 4)), np.array([0, 1, 4]), ValueError, r"labels in 0\.\.3 for 4 classes, got values from 0 to 4"),
    (np.zeros((3, 4)), np.array([0, -1, 2]), ValueError, r"labels in 0\.\.3"),
    (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), TypeError, r"integer class labels, got dtype float64"),
    (np.zeros((3, 4)), np.array([0, 1]), ValueError, r"labels of shape \(3,\) to match the logits, got \(2,\)"),
    (np.zeros((0, 4)), np.array([], dtype=int), ValueError, r"empty batch"),
    (np.array([[0.0, np.nan]]), np.array([0]), ValueError, r"NaN logits \(first at row 0, column 1\)"),
    (np.zeros(4), np.array([0]), ValueError, r"logits of shape \(N, Q\), got \(4,\)"),
])
def test_softmax_ce_rejects_bad_labels_and_logits(logits, labels, exc, match):
    with pytest.raises(exc, match=match):
        SoftmaxCrossEntropy().forward(logits, labels)


def test_loss_backward_before_forward():
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy.backward called before forward"):
        SoftmaxCrossEntropy().backward()
    with pytest.raises(RuntimeError, match="MeanSquaredError.backward called before forward"):
        MeanSquaredError().backward()


def test_mse_rejects_mismatched_shapes_and_nan():
    with pytest.raises(ValueError, match=r"same shape as the predictions \(2, 3\), got \(2, 2\)"):
        MeanSquaredError().forward(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        MeanSquaredError().forward(np.array([[np.nan]]), np.zeros((1, 1)))


def test_sgd_step_before_backward_names_the_parameter():
    net = Sequential(layers.Dense(2, 2, rng=rng))
    with pytest.raises(RuntimeError, match="parameter 0.W has no gradient yet"):
        SGD(net, 0.1).step()
