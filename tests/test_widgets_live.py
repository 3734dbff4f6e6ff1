"""The machinery every widget shares (cnnlib/widgets/_draw.py): one kept figure whose artists are updated in
place, readout and figure sent together in one message, rapid changes coalesced so that the last state wins, and
a frame that failed saying so. Pixels are compared with a second widget made from scratch and moved straight to
the final state."""

import asyncio
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from cnnlib import Dense, Sequential, Sigmoid  # noqa: E402
from cnnlib import widgets  # noqa: E402
from cnnlib.widgets._draw import MatrixPanel, new_figure  # noqa: E402

X = np.array([[1.0, 0.0, 2.0, -1.0, 3.0], [0.0, 1.0, -2.0, 1.0, 0.0], [2.0, 1.0, 0.0, 1.0, -1.0],
              [-1.0, 3.0, 1.0, 0.0, 2.0]])
K = np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]])


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def sliding(step=1):
    w = widgets.sliding_window(X, K, show=False)
    w._live = True
    w.step_slider.value = step
    return w


def test_a_frame_updates_the_kept_figure_in_place():
    w = sliding()
    w.frame()
    (fig, parts), = w._canvases.values()
    artists = {id(a) for panel in parts[0] for a in [panel.image, *panel.texts, *panel.boxes]}
    w.step_slider.value = 5
    w.frame()
    (fig2, parts2), = w._canvases.values()
    assert fig2 is fig
    assert {id(a) for panel in parts2[0] for a in [panel.image, *panel.texts, *panel.boxes]} == artists
    # the products panel now shows window 5, (1, 1): x[1:3, 1:4] * k
    shown = [t.get_text() for t in parts2[0][2].texts]
    expected = [f"{v:.2g}" for v in (X[1:3, 1:4] * K + 0.0).ravel()]
    assert shown == [e[1:] if e.startswith("-") and float(e) == 0 else e for e in expected]


def test_the_frame_after_many_changes_equals_a_fresh_widget_moved_once():
    w = sliding()
    for step in [2, 3, 4, 5, 6, 5, 4, 3, 6, 4]:
        w.step_slider.value = step
        w.flip_toggle.value = not w.flip_toggle.value
        w.frame()
    fresh = widgets.sliding_window(X, K, show=False)
    fresh.step_slider.value, fresh.flip_toggle.value = 4, w.flipped
    np.testing.assert_array_equal(pixels(w.frame()), pixels(fresh.frame()))
    other = widgets.sliding_window(X, K, show=False)
    other.step_slider.value = 3  # a negative check: another state gives other pixels
    assert not np.array_equal(pixels(w.frame()), pixels(other.frame()))


def test_readout_and_figure_travel_in_one_message():
    w = sliding()
    sent = []
    w.view.send_state = lambda key=None: sent.append(set(key) if key else None)
    w.step_slider.value = 3
    assert sent == [{"png", "readout", "alt", "frame"}]
    assert "position (0, 2)" in w.view.readout and "(0, 2)" in w.view.alt


def test_rapid_changes_in_a_kernel_make_one_frame_of_the_last_state():
    async def moves():
        w = sliding()
        start = w.view.frame
        for step in [2, 3, 4, 5, 6, 2, 3]:
            w.step_slider.value = step  # as comm messages would, inside the kernel's running loop
        assert w.view.frame == start  # nothing drawn yet: the changes are still coming
        assert w.readout_text.startswith("<b>correlation") and "step 3 of 9" in w.readout_text  # state is current
        await asyncio.sleep(0.2)
        return w, start

    w, start = asyncio.run(moves())
    assert w.view.frame == start + 1
    assert "step 3 of 9" in w.view.readout
    fresh = widgets.sliding_window(X, K, show=False)
    fresh.step_slider.value = 3
    np.testing.assert_array_equal(pixels(w.view.png), pixels(fresh.frame()))


def test_a_frame_that_cannot_be_drawn_says_so(monkeypatch):
    errors = []

    async def broken():
        w = sliding()
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        monkeypatch.setattr(type(w), "_paint", lambda self, parts: 1 / 0)
        w.step_slider.value = 2
        await asyncio.sleep(0.2)
        return w

    w = asyncio.run(broken())
    assert "could not be drawn" in w.view.readout and "ZeroDivisionError" in w.view.readout
    assert errors  # and the error is raised, not swallowed


def test_matrix_panel_writes_values_and_outlines_in_place():
    fig = new_figure((3, 3))
    panel = MatrixPanel(fig.subplots(), fmt="{:.1f}")
    a = np.array([[1.0, -2.0], [0.04, -0.04]])
    panel.draw(a, highlight=np.array([[True, False], [False, True]]), title="t")
    assert [t.get_text() for t in panel.texts] == ["1.0", "-2.0", "0.0", "0.0"]  # no "-0.0"
    assert [b.get_xy() for b in panel.boxes if b.get_visible()] == [(-0.5, -0.5), (0.5, 0.5)]
    texts = list(panel.texts)
    panel.draw(a[::-1], highlight=np.zeros((2, 2), bool))
    assert panel.texts == texts and not any(b.get_visible() for b in panel.boxes)
    assert [t.get_text() for t in panel.texts] == ["0.0", "0.0", "1.0", "-2.0"]
    with pytest.raises(ValueError, match="2-D"):
        panel.draw(np.ones(3))


# ------------------------------------------------------------------------------------------- every widget
def _mlp():
    rng = np.random.default_rng(0)
    net = Sequential(Dense(2, 3, rng=rng), Sigmoid(), Dense(3, 2, rng=rng), Sigmoid())
    return net, np.array([0.5, -1.0]), np.array([1.0, 0.0])


def _all():
    rng = np.random.default_rng(4)
    x, W, delta = rng.standard_normal((5, 6)), rng.standard_normal((2, 3)), rng.standard_normal((4, 4))
    yield "delta_rule", lambda: widgets.delta_rule(*_mlp(), show=False), lambda w: w.neuron_dropdown, 2
    yield "weight_sharing", lambda: widgets.weight_sharing(show=False), None, None
    yield "delta_flow", lambda: widgets.delta_flow(x, W, delta, show=False), lambda w: w.row_slider, 0
    yield "flip_or_not", lambda: widgets.flip_or_not(x, W, delta, show=False), lambda w: w.toggle, False
    yield "stride", lambda: widgets.stride_padding(show=False), lambda w: w.padding_slider, 2
    yield "pooling", lambda: widgets.pooling_routing(show=False), None, None
    yield "softmax", lambda: widgets.softmax_explorer(show=False), lambda w: w.temperature_slider, 0.3
    yield "overlap", lambda: widgets.overlap_explorer(show=False), lambda w: w.kernel_slider, 4


@pytest.mark.parametrize("name,make,control,value", list(_all()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_widget_frame_matches_a_fresh_one_and_its_own_figure_size(name, make, control, value):
    live, fresh = make(), make()
    live._live = True
    for _ in range(3):
        live.frame()  # drawn a few times at the start, as on screen
    fresh.frame()  # shown once, at the start
    for w in (live, fresh):
        if control is None:
            (w.select("out", 2, 1) if name == "weight_sharing" else w.select(1, 1))
        else:
            control(w).value = value
    png = live.frame()
    np.testing.assert_array_equal(pixels(png), pixels(fresh.frame()))
    fig = fresh.figure()
    try:
        assert pixels(png).shape[:2] == (round(fig.get_figheight() * 100), round(fig.get_figwidth() * 100))
    finally:
        plt.close(fig)
