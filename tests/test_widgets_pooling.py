"""Headless tests of widgets.pooling_routing: click outputs, switch modes, and compare the state with
loops written here (and with torch where it is installed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlib import widgets  # noqa: E402


def first_max(window):
    """(r, c) of the first maximum in row-major order, by hand."""
    best = (0, 0)
    for r in range(window.shape[0]):
        for c in range(window.shape[1]):
            if window[r, c] > window[best]:
                best = (r, c)
    return best


def classes(widget):
    return set(widget._dom_classes)


def test_controls_have_stable_css_classes():
    w = widgets.pooling_routing(show=False)
    assert "cnnlib-pooling-mode" in classes(w.mode_toggle)
    assert w.view.name == "pooling"  # its readout: cnnlib-pooling-readout
    assert set(w.buttons) == {(i, j) for i in range(3) for j in range(3)}  # 6x6 input, 2x2 windows
    for (i, j), b in w.buttons.items():
        assert f"cnnlib-pooling-out-{i}-{j}" in classes(b)


def test_max_mode_click_routes_to_the_winner():
    x = np.array([[0.1, 0.5, 0.3, 0.2],
                  [0.4, 0.2, 0.9, 0.1],
                  [0.7, 0.6, 0.0, 0.8],
                  [0.3, 0.93, 0.5, 0.6]])
    w = widgets.pooling_routing(x, show=False)
    for (i, j), button in w.buttons.items():
        button.click()
        window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        r, c = first_max(window)
        r, c = 2 * i + r, 2 * j + c
        assert w.selected == (i, j)
        assert w.winner == (r, c)
        expected = np.zeros_like(x)
        expected[r, c] = 1.0
        np.testing.assert_array_equal(w.dx, expected)
        assert w.window.sum() == 4 and w.window[2 * i:2 * i + 2, 2 * j:2 * j + 2].all()
        assert button.description == f"{window.max():.2f}"
        assert button.button_style == "warning"
    w.buttons[(1, 0)].click()
    assert w.readout_text == "max pool: out[1,0] = 0.93 comes from x[3,1]; gradient 1.0 goes to x[3,1]"
    assert w.readout_text in w.view.readout
    assert w.buttons[(0, 0)].button_style == ""


def test_average_mode_spreads_a_quarter():
    x = np.arange(24, dtype=float).reshape(4, 6) / 10
    w = widgets.pooling_routing(x, show=False)
    w.buttons[(1, 2)].click()
    w.mode_toggle.value = "average"
    expected = np.zeros_like(x)
    expected[2:4, 4:6] = 0.25
    np.testing.assert_allclose(w.dx, expected)
    assert w.winner is None
    mean = x[2:4, 4:6].mean()
    assert w.readout_text == f"average pool: out[1,2] = {mean:.2f} is the mean of x[2:4, 4:6]; each of the 4 inputs gets 0.25"
    assert w.buttons[(0, 0)].description == f"{x[0:2, 0:2].mean():.2f}"
    w.mode_toggle.value = "max"  # back to max: the selection is kept
    assert w.selected == (1, 2) and w.winner == (3, 5)


def test_overlapping_windows_3x3_stride_2():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7))
    w = widgets.pooling_routing(x, kernel_size=3, stride=2, show=False)
    assert set(w.buttons) == {(i, j) for i in range(2) for j in range(3)}
    w.buttons[(1, 2)].click()
    r, c = first_max(x[2:5, 4:7])
    assert w.winner == (2 + r, 4 + c)
    w.mode_toggle.value = "average"
    assert np.isclose(w.dx[2:5, 4:7], 1 / 9).all() and w.dx.sum() == pytest.approx(1.0)
    assert "each of the 9 inputs gets 0.1111" in w.readout_text


def test_a_tie_goes_to_the_first_maximum_like_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[0.2, 0.7, 0.5, 0.5],
                  [0.7, 0.1, 0.5, 0.5]])
    w = widgets.pooling_routing(x, show=False)
    for (i, j), button in w.buttons.items():
        button.click()
        xt = torch.tensor(x[None, None], requires_grad=True)
        out = torch.nn.functional.max_pool2d(xt, 2)
        out[0, 0, i, j].backward()
        np.testing.assert_array_equal(w.dx, xt.grad[0, 0].numpy())
    w.buttons[(0, 0)].click()
    assert w.winner == (0, 1)  # (0, 1) and (1, 0) tie; the first in row-major order wins
    w.buttons[(0, 1)].click()
    assert w.winner == (0, 2)


def test_figure_and_display(capsys):
    w = widgets.pooling_routing(show=False)
    fig = w.figure()
    assert len(fig.axes) == 3
    plt.close(fig)
    shown = widgets.pooling_routing(mode="average", show=True)  # outside a kernel display() just prints
    assert shown._live and shown.mode == "average"
    shown.buttons[(2, 2)].click()
    assert shown.selected == (2, 2)
    plt.close("all")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="shape"):
        widgets.pooling_routing(np.zeros((1, 4, 4)), show=False)
    with pytest.raises(ValueError, match="mode"):
        widgets.pooling_routing(mode="min", show=False)
