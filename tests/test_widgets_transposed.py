"""The overlap widget of notebook 11: its state follows the sliders; its figure and alt text say what it shows."""

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


def test_live_widget_redraws_into_its_output():
    w = overlap_explorer(show=False)
    w.live = True
    w.stride_slider.value = 1
    (out,) = w.out.outputs
    assert "image/png" in out["data"] and "stride 1" in out["metadata"]["image/png"]["alt"]
