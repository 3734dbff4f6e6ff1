"""cnnlib.transposed: overlap counts of a transposed convolution, checked by hand and by ConvTranspose2D itself."""

import numpy as np
import pytest

from cnnlib.layers import Conv2D, ConvTranspose2D
from cnnlib.transposed import overlap_counts, overlap_counts_1d, resize_conv_counts, upsample_nearest


def test_hand_worked_one_axis():
    # K = 3, s = 2, n = 3: copies at 0..2, 2..4, 4..6 overlap at 2 and 4
    assert overlap_counts_1d(3, 2, 3).tolist() == [1, 1, 2, 1, 2, 1, 1]
    # K = 4, s = 2: every inner pixel is reached twice
    assert overlap_counts_1d(4, 2, 3).tolist() == [1, 1, 2, 2, 2, 2, 1, 1]
    # K = 1, s = 2: gaps that no tap reaches
    assert overlap_counts_1d(1, 2, 3).tolist() == [1, 0, 1, 0, 1]


def test_two_axes_are_the_outer_product():
    c = overlap_counts((3, 2), (2, 1), (3, 4))
    assert c.shape == (7, 5)
    assert c[2, 1] == 2 * 2 and c[0, 0] == 1 and c[1, 1] == 1 * 2


@pytest.mark.parametrize("K, s, n", [(3, 2, 4), (4, 2, 4), (5, 3, 3), (2, 3, 4), (3, 1, 5), ((3, 4), (2, 3), (3, 2))])
def test_equals_a_transposed_convolution_of_ones(K, s, n):
    # an independent computation: every tap adds x · W = 1 · 1 to the pixel it lands on
    layer = ConvTranspose2D(1, 1, K, stride=s, rng=np.random.default_rng(0))
    layer.params["W"][:] = 1.0
    H, W = (n, n) if np.isscalar(n) else n
    y = layer.forward(np.ones((1, 1, H, W)))[0, 0]
    assert np.array_equal(overlap_counts(K, s, n), y)


@pytest.mark.parametrize("K, s", [(3, 2), (4, 2), (5, 3)])
def test_uneven_exactly_when_the_stride_does_not_divide_the_kernel(K, s):
    inner = overlap_counts(K, s, 6)[K:-K, K:-K]
    assert (inner.min() == inner.max()) == (K % s == 0)


@pytest.mark.parametrize("K, s", [(3, 2), (5, 2), (3, 3)])
def test_resize_then_convolve_counts(K, s):
    # independent: a Conv2D of ones with 'same' padding over the nearest-upsampled ones counts the taps
    n = 4
    conv = Conv2D(1, 1, K, padding=(K - 1) // 2, rng=np.random.default_rng(0))
    conv.params["W"][:] = 1.0
    up = upsample_nearest(np.ones((1, 1, n, n)), s)
    got = conv.forward(up)[0, 0]
    counts = resize_conv_counts(K, s, n)
    assert np.array_equal(counts, got)
    assert (counts[K:-K, K:-K] == K * K).all()


def test_upsample_nearest():
    x = np.array([[1, 2], [3, 4]])
    assert upsample_nearest(x, 2).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert upsample_nearest(np.zeros((2, 3, 4, 5)), (2, 3)).shape == (2, 3, 8, 15)
    with pytest.raises(ValueError):
        upsample_nearest(np.zeros(3), 2)
    with pytest.raises(ValueError):
        overlap_counts(0, 2, 3)
