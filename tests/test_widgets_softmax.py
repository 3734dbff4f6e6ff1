"""Headless tests of widgets.softmax_explorer: move the sliders and the dropdown, and compare the state with
scipy's softmax, a numerical gradient and torch autograd."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.special import softmax as sp_softmax  # noqa: E402

from cnnlib import widgets  # noqa: E402


def cost(z, label, T):
    """-log softmax(z / T)[label], written with scipy's logsumexp."""
    from scipy.special import logsumexp

    return -(z[label] / T - logsumexp(z / T))


def numerical_grad(z, label, T, h=1e-6):
    g = np.zeros_like(z)
    for k in range(z.size):
        e = np.zeros_like(z)
        e[k] = h
        g[k] = (cost(z + e, label, T) - cost(z - e, label, T)) / (2 * h)
    return g


def classes(widget):
    return set(widget._dom_classes)


def test_controls_have_stable_css_classes():
    w = widgets.softmax_explorer(show=False)
    for k, s in enumerate(w.logit_sliders):
        assert f"cnnlib-softmax-logit-{k}" in classes(s)
    assert "cnnlib-softmax-temperature" in classes(w.temperature_slider)
    assert "cnnlib-softmax-label" in classes(w.label_dropdown)
    assert w.view.name == "softmax"  # its readout: cnnlib-softmax-readout


def test_default_state_matches_scipy():
    w = widgets.softmax_explorer(show=False)
    z = np.array([1.0, 2.5, -0.5, 0.0])
    np.testing.assert_allclose(w.probs, sp_softmax(z), rtol=1e-12)
    np.testing.assert_allclose(w.grad, numerical_grad(z, 0, 1.0), atol=1e-8)
    assert w.loss == pytest.approx(cost(z, 0, 1.0))


def test_sliders_and_label_drive_probabilities_and_gradient():
    w = widgets.softmax_explorer(show=False)
    w.logit_sliders[2].value = 3.0
    w.logit_sliders[0].value = -1.2
    w.label_dropdown.value = 3
    z = np.array([-1.2, 2.5, 3.0, 0.0])
    np.testing.assert_allclose(w.logits, z)
    np.testing.assert_allclose(w.probs, sp_softmax(z), rtol=1e-12)
    np.testing.assert_allclose(w.grad, numerical_grad(z, 3, 1.0), atol=1e-8)
    assert w.grad[3] < 0 and (np.delete(w.grad, 3) > 0).all()  # push the true class up, the others down
    p = sp_softmax(z)
    expected = ("p = [" + ", ".join(f"{v:.3f}" for v in p) + "]; ∂L/∂z = ["
                + ", ".join(f"{v:.3f}" for v in p - np.eye(4)[3]) + "]; "
                + f"loss L = -log p[3] = {-np.log(p[3]):.3f} (T = 1.0)")
    assert w.readout_text == expected
    assert expected in w.view.readout


def test_temperature_scales_logits_and_gradient():
    torch = pytest.importorskip("torch")
    w = widgets.softmax_explorer(show=False)
    w.temperature_slider.value = 2.5
    w.label_dropdown.value = 1
    z = np.array([1.0, 2.5, -0.5, 0.0])
    np.testing.assert_allclose(w.probs, sp_softmax(z / 2.5), rtol=1e-12)
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy((zt / 2.5)[None], torch.tensor([1])).backward()
    np.testing.assert_allclose(w.grad, zt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(w.grad, numerical_grad(z, 1, 2.5), atol=1e-8)
    assert "(T = 2.5)" in w.readout_text


def test_low_temperature_sharpens():
    w = widgets.softmax_explorer(show=False)
    w.temperature_slider.value = 0.1
    assert w.probs[1] > 0.999  # z[1] = 2.5 is the largest logit
    w.temperature_slider.value = 5.0
    assert w.probs.max() - w.probs.min() < 0.25  # nearly uniform


def test_readout_changes_with_every_control():
    w = widgets.softmax_explorer(show=False)
    seen = {w.view.readout}
    w.logit_sliders[3].value = 1.7
    seen.add(w.view.readout)
    w.temperature_slider.value = 0.7
    seen.add(w.view.readout)
    w.label_dropdown.value = 2
    seen.add(w.view.readout)
    assert len(seen) == 4


def test_figure_and_display(capsys):
    w = widgets.softmax_explorer(logits=(0.0, 9.0, -3.0), label=2, show=False)
    assert w.logit_sliders[1].max >= 9.0 and w.logit_sliders[1].value == 9.0  # range widened, not clipped
    fig = w.figure()
    assert len(fig.axes) == 2
    plt.close(fig)
    shown = widgets.softmax_explorer(show=True)  # outside a kernel display() just prints
    shown.logit_sliders[0].value = 4.0
    assert shown._live and shown.probs.argmax() == 0
    plt.close("all")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="label"):
        widgets.softmax_explorer(label=7, show=False)
    with pytest.raises(ValueError, match="logits"):
        widgets.softmax_explorer(logits=[1.0], show=False)
    with pytest.raises(ValueError, match="temperature"):
        widgets.softmax_explorer(temperature=0.0, show=False)


def test_low_temperature_widens_the_gradient_axis_and_says_so():
    w = widgets.softmax_explorer(logits=(1.0, 2.5, -0.5, 0.0), label=2, show=False)
    assert w.grad_axis == 1.0 and "axis is now" not in w.view.readout
    w.temperature_slider.value = 0.3
    p = np.exp(np.array([1.0, 2.5, -0.5, 0.0]) / 0.3)
    p /= p.sum()
    assert p[2] < 1e-3  # the true class: its probability bar would be invisible
    assert abs((p[2] - 1) / 0.3) > 1  # and its gradient outside ±1
    assert w.grad_axis == 5.0 and "±5, not ±1" in w.view.readout
    fig = w.figure()
    try:
        ax_p, ax_g = fig.axes
        assert ax_g.get_ylim() == pytest.approx((-5.25, 5.25)) and "widened" in ax_g.get_title()
        marker = [t for t in ax_p.texts if "true" in t.get_text()]
        assert len(marker) == 1 and marker[0].get_position()[0] == 2 and marker[0].get_visible()
        assert "(true)" in ax_p.get_xticklabels()[2].get_text()
    finally:
        plt.close(fig)
