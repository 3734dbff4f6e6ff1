"""Headless tests of the sliding-window widget (notebook 03): set the controls, check the state against
scipy.signal and against arrays worked by hand."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.signal  # noqa: E402

from cnnlib.widgets import sliding_window  # noqa: E402

X = np.arange(12.0).reshape(3, 4)
K = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_hand_worked_first_window():
    w = sliding_window(X, K, show=False)
    assert w.position == (0, 0) and w.operation == "correlation"
    assert w.total == 0 * 1 + 1 * 2 + 4 * 3 + 5 * 4  # 34
    expected_mask = np.zeros((3, 4), dtype=bool)
    expected_mask[:2, :2] = True
    np.testing.assert_array_equal(w.window_mask, expected_mask)
    np.testing.assert_array_equal(w.products, [[0.0, 2.0], [12.0, 20.0]])
    assert "sum = 34.0000" in w.view.readout and "correlation" in w.view.readout

    w.flip_toggle.value = True  # the kernel becomes [[4, 3], [2, 1]]
    assert w.operation == "convolution"
    np.testing.assert_array_equal(w.kernel, [[4.0, 3.0], [2.0, 1.0]])
    assert w.total == 0 * 4 + 1 * 3 + 4 * 2 + 5 * 1  # 16
    assert "sum = 16.0000" in w.view.readout and "convolution" in w.view.readout


def test_hand_worked_later_step():
    w = sliding_window(X, K, show=False)
    w.step_slider.value = 6  # valid output is 2 x 3: the 6th step (index 5) is position (1, 2)
    assert w.position == (1, 2)
    np.testing.assert_array_equal(w.window, [[6.0, 7.0], [10.0, 11.0]])
    assert w.total == 6 + 14 + 30 + 44
    assert w.window_mask.sum() == 4 and w.window_mask[1:3, 2:4].all()
    assert "position (1, 2)" in w.view.readout


def test_full_mode_pads_by_kernel_size_minus_one():
    w = sliding_window(X, K, mode="full", show=False)
    assert w.pad == (1, 1, 1, 1)
    np.testing.assert_array_equal(w.x_pad, np.pad(X, 1))
    assert w.step_slider.min == 1 and w.step_slider.max == 4 * 5
    # the first window holds only x[0, 0], meeting the kernel's bottom-right entry
    assert w.total == X[0, 0] * K[1, 1]


@pytest.mark.parametrize("x_shape,k_shape", [((4, 5), (2, 3)), ((5, 4), (3, 3)), ((4, 4), (2, 2)), ((5, 6), (3, 2))])
@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize("flip", [False, True])
def test_every_position_matches_scipy(x_shape, k_shape, mode, flip):
    rng = np.random.default_rng(3)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    reference = (scipy.signal.convolve2d if flip else scipy.signal.correlate2d)(x, k, mode)
    w = sliding_window(x, k, show=False)
    w.mode_dropdown.value = mode
    w.flip_toggle.value = flip
    assert w.out.shape == reference.shape
    np.testing.assert_allclose(w.out, reference, atol=1e-12)
    assert w.step_slider.max == reference.size
    for step in range(reference.size):
        w.step_slider.value = step + 1  # the slider counts from 1
        i, j = divmod(step, reference.shape[1])
        assert w.position == (i, j)
        assert w.total == pytest.approx(reference[i, j], abs=1e-12)
        assert f"sum = {reference[i, j]:.4f}" in w.view.readout
        assert w.window_mask.sum() == k.size
        np.testing.assert_array_equal(w.x_pad[w.window_mask].reshape(k.shape), w.window)


def test_same_mode_even_kernel_pads_differently_for_the_two_operations():
    # scipy keeps the centre of 'full'; for an even kernel correlation and convolution pick different centres
    w = sliding_window(X, K, mode="same", show=False)
    assert w.pad == (0, 1, 0, 1)
    w.flip_toggle.value = True
    assert w.pad == (1, 0, 1, 0)
    np.testing.assert_allclose(w.out, scipy.signal.convolve2d(X, K, "same"))


def test_changing_mode_keeps_the_step_in_range():
    w = sliding_window(X, K, mode="full", show=False)
    w.step_slider.value = w.step_slider.max  # (3, 4) in the 4 x 5 full output
    w.mode_dropdown.value = "valid"
    assert w.step_slider.max == 6 and w.step <= 5
    i, j = w.position
    assert w.total == pytest.approx(scipy.signal.correlate2d(X, K, "valid")[i, j])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="mode"):
        sliding_window(X, K, mode="middle", show=False)
    with pytest.raises(ValueError, match="does not fit"):
        sliding_window(X, np.ones((4, 4)), show=False)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        sliding_window(np.ones(5), K, show=False)


def test_css_classes():
    w = sliding_window(X, K, show=False)
    assert "cnnlib-sliding-step" in w.step_slider._dom_classes
    assert "cnnlib-sliding-mode" in w.mode_dropdown._dom_classes
    assert "cnnlib-sliding-flip" in w.flip_toggle._dom_classes
    assert w.view.name == "sliding"  # the view gives its readout the class cnnlib-sliding-readout


def test_figures_and_display_run():
    w = sliding_window(X, K, show=True)  # outside a kernel, display() prints a text repr
    assert w._live
    w.flip_toggle.value = True
    fig = w.figure(both=True)
    assert len(fig.axes) == 8
    matplotlib.pyplot.close(fig)


def test_kernel_larger_than_input_offers_full_and_same_only():
    big = np.arange(12.0).reshape(3, 4)
    w = sliding_window(np.ones((2, 2)), big, mode="full", show=False)
    assert list(w.mode_dropdown.options) == ["full", "same"]
    np.testing.assert_allclose(w.out, scipy.signal.correlate2d(np.ones((2, 2)), big, "full"))


def test_the_slider_and_the_readout_count_steps_the_same_way():
    w = sliding_window(X, K, show=False)
    for shown in (1, 4, 6):
        w.step_slider.value = shown
        assert f"step {shown} of 6" in w.view.readout
