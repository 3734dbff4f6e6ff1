"""Every widget figure is legible by measure: no text smaller than 9 px on screen, and no figure so wide that
JupyterLab shrinks it below 0.9x in a 1440 px window.

On screen, a text of s points in a PNG saved at ``DPI`` is s * DPI / 72 px tall, times the factor by which the
front end scales the image: min(1, column / width). JupyterLab 4 at 1440x900 with the file browser open gives a
notebook output column of about 1000 px (measured in Chromium: 1004-1008 px); we use 980 px to leave a margin."""

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, Sigmoid  # noqa: E402
from cnnlib.widgets import _draw  # noqa: E402
from cnnlib import widgets  # noqa: E402

COLUMN_PX = 980
MIN_PX = 9.0
MIN_SCALE = 0.9


def _mlp():
    rng = np.random.default_rng(0)
    net = Sequential(Dense(3, 4, rng=rng), Sigmoid(), Dense(4, 2, rng=rng), Sigmoid())
    return net, rng.standard_normal(3), np.array([0.0, 1.0])


def _cnn():
    rng = np.random.default_rng(1)
    model = Sequential(Conv2D(1, 3, 5, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Dense(3 * 12 * 12, 10, rng=rng))
    x = rng.random((12, 1, 28, 28))
    return model, x, rng.integers(0, 10, 12)


def _figures():
    rng = np.random.default_rng(4)
    x, W = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
    delta = rng.standard_normal((4, 4))
    yield "delta_rule", widgets.delta_rule(*_mlp(), show=False)
    yield "weight_sharing", widgets.weight_sharing(show=False)
    yield "sliding_window", widgets.sliding_window(rng.standard_normal((5, 5)), rng.standard_normal((3, 3)),
                                                   "full", show=False)
    yield "delta_flow", widgets.delta_flow(x, W, delta, show=False)
    yield "flip_or_not", widgets.flip_or_not(x, W, delta, show=False)
    for s, p, d in [(2, 0, 1), (1, 2, 1), (3, 2, 3)]:
        yield f"stride_padding s={s} p={p} d={d}", widgets.stride_padding(stride=s, padding=p, dilation=d, show=False)
    yield "pooling_routing", widgets.pooling_routing(show=False)
    yield "softmax_explorer", widgets.softmax_explorer(show=False)
    yield "digit_explorer", widgets.digit_explorer(*_cnn(), show=False)
    for K, s in [(3, 2), (6, 4), (1, 4)]:
        yield f"overlap_explorer K={K} s={s}", widgets.overlap_explorer(kernel_size=K, stride=s, show=False)


def measure(fig):
    """(png width px, smallest text px on screen, its text) for ``fig`` saved as the widgets save it."""
    from PIL import Image

    png = base64.b64decode(_draw.png_base64(fig))
    width = Image.open(io.BytesIO(png)).size[0]
    scale = min(1.0, COLUMN_PX / width)
    fig.canvas.draw()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    smallest = min(texts, key=lambda t: t.get_fontsize())
    return width, smallest.get_fontsize() * _draw.DPI / 72 * scale, smallest.get_text()


@pytest.mark.parametrize("name,obj", list(_figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_widget_figure_text_is_at_least_9px_and_not_shrunk(name, obj):
    fig = obj.figure()
    try:
        width, px, text = measure(fig)
    finally:
        plt.close(fig)
    assert COLUMN_PX / width >= MIN_SCALE, f"{name}: {width} px wide, shrunk to {COLUMN_PX / width:.2f}x"
    assert px >= MIN_PX, f"{name}: text {text!r} is {px:.1f} px on screen"


def test_cell_numbers_contrast_with_their_cell():
    assert _draw.text_color((0.02, 0.1, 0.4, 1)) == "white"  # dark blue
    assert _draw.text_color((0.4, 0.0, 0.05, 1)) == "white"  # dark red
    assert _draw.text_color((0.97, 0.97, 0.97, 1)) == "black"  # near white
    fig, ax = plt.subplots()
    _draw.draw_matrix(ax, np.array([[-1.0, 0.0, 1.0]]))
    colours = [t.get_color() for t in ax.texts]
    plt.close(fig)
    assert colours == ["white", "black", "white"]


def test_a_number_that_rounds_to_zero_is_written_without_a_minus_sign():
    fig, ax = plt.subplots()
    try:
        _draw.draw_matrix(ax, np.array([[-0.001, -0.0, -0.5], [0.004, 1.0, -2.25]]), fmt="{:.2f}")
        texts = [t.get_text() for t in ax.texts]
    finally:
        plt.close(fig)
    assert texts == ["0.00", "0.00", "-0.50", "0.00", "1.00", "-2.25"]
