"""The autoencoder of notebook 11: shapes, even overlap on the way up, and a short training run that learns."""

import numpy as np

from cnnlib.autoencoder import conv_autoencoder, reconstruction_error, train_autoencoder
from cnnlib.layers import ConvTranspose2D
from cnnlib.transposed import overlap_counts


def test_shapes_round_trip_and_float32():
    model = conv_autoencoder(rng=np.random.default_rng(0))
    x = np.random.default_rng(1).random((3, 1, 28, 28)).astype(np.float32)
    out = model.forward(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert ((out > 0) & (out < 1)).all()


def test_up_path_has_even_overlap():
    model = conv_autoencoder(rng=np.random.default_rng(0))
    ups = [layer for layer in model if isinstance(layer, ConvTranspose2D)]
    assert len(ups) == 2
    for layer in ups:
        K, s = layer.kernel_size[0], layer.stride[0]
        inner = overlap_counts(K, s, 7)[K:-K, K:-K]
        assert inner.min() == inner.max()


def test_short_training_reduces_the_error():
    rng = np.random.default_rng(0)
    # blurry blobs: structured enough to be learned from a few hundred examples in a second
    yy, xx = np.mgrid[:28, :28]
    centres = rng.uniform(8, 20, size=(256, 2))
    x = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 20.0)
    x = x[:, None].astype(np.float32)
    model = conv_autoencoder(rng=np.random.default_rng(0))
    before = reconstruction_error(model, x)
    history = train_autoencoder(model, x, epochs=3, lr=0.005, rng=np.random.default_rng(0))
    after = reconstruction_error(model, x)
    assert len(history) == 3 and all(np.isfinite(history))
    assert after < 0.5 * before
