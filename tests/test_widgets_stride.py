"""The stride/padding/dilation widget (notebook 05), driven headless through its sliders.

References are independent of cnnlib: the size formula written out, PyTorch's autograd, and central differences
through a forward pass built from scipy.signal.correlate2d."""

import matplotlib

matplotlib.use("Agg")

import itertools  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.signal  # noqa: E402

from cnnlib import widgets  # noqa: E402
from cnnlib.widgets.stride import DEFAULT_KERNEL  # noqa: E402

COMBOS = list(itertools.product([1, 2, 3], [0, 1, 2], [1, 2, 3]))  # every (stride, padding, dilation) on the sliders


def set_sliders(w, s, p, d):
    w.stride_slider.value, w.padding_slider.value, w.dilation_slider.value = s, p, d


def out_len(n, k, s, p, d):
    """1 + (n + 2p - d(k - 1) - 1) // s, the cs231n/PyTorch size formula."""
    return 1 + (n + 2 * p - d * (k - 1) - 1) // s


def dilate(k, d):
    out = np.zeros((d * (k.shape[0] - 1) + 1, d * (k.shape[1] - 1) + 1))
    for m in range(k.shape[0]):
        for n in range(k.shape[1]):
            out[m * d, n * d] = k[m, n]
    return out


def forward_scipy(x, k, s, p, d):
    return scipy.signal.correlate2d(np.pad(x, p), dilate(k, d), "valid")[::s, ::s]


def numerical_dx(x_shape, k, delta, s, p, d, h=1e-5):
    """Central differences of Σ delta · z with respect to every x, the forward pass from scipy."""
    x = np.zeros(x_shape)
    g = np.zeros(x_shape)
    for idx in np.ndindex(*x_shape):
        x[idx] = h
        plus = np.sum(forward_scipy(x, k, s, p, d) * delta)
        x[idx] = -h
        minus = np.sum(forward_scipy(x, k, s, p, d) * delta)
        x[idx] = 0.0
        g[idx] = (plus - minus) / (2 * h)
    return g


@pytest.fixture(scope="module")
def widget():
    return widgets.stride_padding(show=False)


def test_controls_and_readout_carry_css_classes(widget):
    for control, part in [(widget.stride_slider, "stride"), (widget.padding_slider, "padding"),
                          (widget.dilation_slider, "dilation")]:
        assert f"cnnlib-stride-{part}" in control._dom_classes
    assert widget.view.name == "stride"  # its readout: cnnlib-stride-readout


def test_default_state_matches_the_worked_example(widget):
    set_sliders(widget, 2, 0, 1)
    assert widget.out_shape == (3, 3)
    assert widget.readout_text.startswith("output 3x3, δ after zero insertion 5x5, dx 7x7")
    np.testing.assert_array_equal(widget.delta, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(widget.delta_spread, [[1, 0, 2, 0, 3], [0] * 5, [4, 0, 5, 0, 6], [0] * 5,
                                                        [7, 0, 8, 0, 9]])


@pytest.mark.parametrize("s,p,d", COMBOS)
def test_shapes_follow_the_size_formula(widget, s, p, d):
    set_sliders(widget, s, p, d)
    H, W = 7, 7
    Ho, Wo = out_len(H, 3, s, p, d), out_len(W, 3, s, p, d)
    assert widget.out_shape == (Ho, Wo) == widget.delta.shape
    assert widget.delta_spread.shape == ((Ho - 1) * s + 1, (Wo - 1) * s + 1)
    assert widget.spread_mask.sum() == Ho * Wo and widget.spread_mask[::s, ::s].all()
    assert np.all(widget.delta_spread[~widget.spread_mask] == 0)
    assert widget.kernel_dilated.shape == (2 * d + 1, 2 * d + 1)
    assert widget.dx_padded.shape == (H + 2 * p, W + 2 * p)
    assert widget.dx.shape == (H, W)
    assert widget.readout_text.startswith(
        f"output {Ho}x{Wo}, δ after zero insertion {(Ho - 1) * s + 1}x{(Wo - 1) * s + 1}, dx {H}x{W}")
    if p:
        assert f"crop {p} on every side" in widget.readout_text


@pytest.mark.parametrize("s,p,d", COMBOS)
def test_dx_equals_torch_autograd(widget, s, p, d):
    torch = pytest.importorskip("torch")
    set_sliders(widget, s, p, d)
    x = torch.zeros((1, 1, 7, 7), dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(x, torch.tensor(DEFAULT_KERNEL)[None, None], stride=s, padding=p, dilation=d)
    z.backward(torch.tensor(widget.delta)[None, None])
    np.testing.assert_allclose(widget.dx, x.grad[0, 0].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("s,p,d", [(2, 0, 1), (3, 0, 1), (2, 1, 2), (3, 2, 1), (1, 1, 3)])
def test_dx_equals_numerical_gradient(widget, s, p, d):
    set_sliders(widget, s, p, d)
    num = numerical_dx((7, 7), DEFAULT_KERNEL, widget.delta, s, p, d)
    np.testing.assert_allclose(widget.dx, num, rtol=1e-7, atol=1e-7)


def test_rows_no_window_reaches_get_zero_gradient(widget):
    # stride 3 on 7 rows with a 3x3 kernel: windows start at rows 0 and 3, so row 6 is never read
    set_sliders(widget, 3, 0, 1)
    assert widget.out_shape == (2, 2)
    np.testing.assert_array_equal(widget.dx[6, :], 0)
    np.testing.assert_array_equal(widget.dx[:, 6], 0)
    assert "1 row(s) and 1 column(s) no window reaches" in widget.readout_text


def test_readout_changes_with_the_sliders():
    w = widgets.stride_padding(show=False)
    before = w.view.readout
    w.stride_slider.value = 1
    assert w.view.readout != before and "output 5x5" in w.view.readout
    w.padding_slider.value = 2
    assert "output 9x9" in w.view.readout
    w.dilation_slider.value = 3
    assert "output 5x5" in w.view.readout


def test_non_square_input_and_kernel_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    k = rng.standard_normal((2, 3))
    w = widgets.stride_padding((6, 9), k, stride=2, padding=1, dilation=2, show=False)
    assert w.out_shape == (out_len(6, 2, 2, 1, 2), out_len(9, 3, 2, 1, 2))
    x = torch.zeros((1, 1, 6, 9), dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(x, torch.tensor(k)[None, None], stride=2, padding=1, dilation=2)
    z.backward(torch.tensor(w.delta)[None, None])
    np.testing.assert_allclose(w.dx, x.grad[0, 0].numpy(), rtol=1e-12, atol=1e-12)


def test_dilation_slider_stops_where_the_kernel_still_fits():
    w = widgets.stride_padding((5, 5), np.ones((3, 3)), show=False)
    assert w.dilation_slider.max == 2  # a 3x3 kernel dilated by 3 spans 7 > 5 pixels


def test_figure_and_display_run():
    w = widgets.stride_padding(show=False)
    fig = w.figure()
    assert len(fig.axes) == 5
    matplotlib.pyplot.close(fig)
    shown = widgets.stride_padding(stride=1, padding=1, show=True)
    assert shown._live and shown.out_shape == (7, 7)
