"""The overlap widget of notebook 11: its state follows the sliders; its figure and alt text say what it shows."""

import io
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cnnlib.transposed import overlap_counts, resize_conv_counts  # noqa: E402
from cnnlib.widgets import overlap_explorer  # noqa: E402


def test_moving_a_slider_changes_the_count_map():
    w = overlap_explorer(4, kernel_size=3, stride=2, show=False)
    assert np.array_equal(w.counts, overlap_counts(3, 2, 4))
    assert w.inner_values == (1, 2, 4) and "1, 2, 4 taps" in w.readout_text and "checkerboard" in w.readout_text
    before = w.counts.copy()
    w.kernel_slider.value = 4
    assert w.kernel_size == 4 and not np.array_equal(w.counts, before)
    assert np.array_equal(w.counts, overlap_counts(4, 2, 4))
    assert w.inner_values == (4,) and "even" in w.readout_text
    w.stride_slider.value = 3
    assert np.array_equal(w.counts, overlap_counts(4, 3, 4)) and w.counts.shape == (13, 13)
    assert np.array_equal(w.resize_counts, resize_conv_counts(4, 3, 4))


def test_kernel_smaller_than_stride_leaves_holes():
    w = overlap_explorer(4, kernel_size=1, stride=2, show=False)
    assert w.inner_range[0] == 0 and "holes" in w.readout_text


def test_controls_are_tagged_and_labelled():
    w = overlap_explorer(show=False)
    assert "cnnlib-overlap-kernel" in w.kernel_slider._dom_classes
    assert "cnnlib-overlap-stride" in w.stride_slider._dom_classes
    assert "kernel size" in w.kernel_slider.description and "stride" in w.stride_slider.description


def test_figure_is_legible_and_described():
    w = overlap_explorer(show=False)
    fig = w.figure()
    try:
        assert fig.get_size_inches()[0] <= 9
        sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts + [ax.title]]
        assert min(sizes) >= 8
        # numbers are black or white, whichever contrasts with their cell
        assert {t.get_color() for t in fig.axes[0].texts} <= {"black", "white"}
    finally:
        plt.close(fig)
    assert "kernel size 3 and stride 2" in w.alt_text()


def test_live_widget_sends_its_figure_and_readout_together():
    from PIL import Image

    w = overlap_explorer(show=False)
    w._live = True
    frame = w.view.frame
    w.stride_slider.value = 1
    assert w.view.frame == frame + 1 and "stride 1" in w.view.alt and "s = 1" in w.view.readout
    assert Image.open(io.BytesIO(w.view.png)).size == (900, 440)  # 9 x 4.4 in at 100 dpi


def test_readout_explains_the_uneven_border_at_K_4():
    w = overlap_explorer(4, kernel_size=4, stride=2, show=False)
    counts = w.counts
    # hand-worked, one axis: output row r is reached by the copies of input rows a with 2a <= r <= 2a + 3;
    # rows 0-1 and 8-9 by one copy, rows 2-7 by two: the corners get 1 tap, the edges 2, the inside 4
    per_axis = np.array([1, 1, 2, 2, 2, 2, 2, 2, 1, 1])
    np.testing.assert_array_equal(counts, np.outer(per_axis, per_axis))
    assert w.inner_values == (4,)
    assert "outer 2 row(s) and column(s)" in w.readout_text and "down to 1 in the corners" in w.readout_text
    w.stride_slider.value = 4  # K = s: no overlap, no border band
    assert "Border" not in w.readout_text


def test_the_verdict_is_even_exactly_when_s_divides_K_even_for_a_small_input():
    # hand-worked for K = 6, s = 2 on a 4x4 input, one axis: copies of input rows a cover rows 2a..2a+5, so
    # rows 0-1 get 1 copy, 2-3 get 2, 4-7 get 3, then back down: inside the 4-row border band every pixel gets 9
    per_axis = np.array([1, 1, 2, 2, 3, 3, 3, 3, 2, 2, 1, 1])
    w = overlap_explorer(4, kernel_size=6, stride=2, show=False)
    np.testing.assert_array_equal(w.counts, np.outer(per_axis, per_axis))
    assert w.inner_values == (9,) and "even" in w.readout_text
    for K in range(1, 7):
        for s in range(1, 5):
            w.kernel_slider.value, w.stride_slider.value = K, s
            # the border band, K - s wide on each side, leaves an inside when 2 (K - s) < (4 - 1) s + K
            assert w.has_inner == (2 * max(K - s, 0) < 3 * s + K)
            if w.has_inner:
                assert (len(w.inner_values) == 1) == (K % s == 0), (K, s, w.inner_values)
            else:
                assert "border effects" in w.readout_text
