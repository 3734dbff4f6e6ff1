"""delta_rule widget: the terms, sums and deltas it shows, checked against hand-written NumPy and finite differences."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlib import Dense, Sequential, Sigmoid, Tanh  # noqa: E402
from cnnlib.widgets import delta_rule  # noqa: E402

W1 = np.array([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.2]])
b1 = np.array([0.1, 0.0, -0.1])
W2 = np.array([[0.3, -0.1, 0.5], [-0.4, 0.2, 0.6]])
b2 = np.array([0.0, 0.2])
X, Y = np.array([1.0, 0.5]), np.array([1.0, 0.0])


def tiny_net():
    d1, d2 = Dense(2, 3), Dense(3, 2)
    d1.params["W"][...], d1.params["b"][...] = W1, b1
    d2.params["W"][...], d2.params["b"][...] = W2, b2
    return Sequential(d1, Sigmoid(), d2, Sigmoid())


def sig(z):
    return 1 / (1 + np.exp(-z))


def hand_deltas():
    z1 = W1 @ X + b1
    a1 = sig(z1)
    z2 = W2 @ a1 + b2
    a2 = sig(z2)
    d2 = (a2 - Y) * a2 * (1 - a2)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    return z1, d1, d2


def cost_with_hidden_bias(j, h):
    bb = b1.copy()
    bb[j] += h
    a2 = sig(W2 @ sig(W1 @ X + bb) + b2)
    return 0.5 * np.sum((a2 - Y) ** 2)


@pytest.mark.parametrize("j", [0, 1, 2])
def test_terms_sum_and_delta_of_each_hidden_neuron(j):
    rule = delta_rule(tiny_net(), X, Y, show=False)
    rule.neuron_dropdown.value = j
    z1, d1, d2 = hand_deltas()
    assert rule.layer == 1 and rule.neuron == j
    assert [t[0] for t in rule.terms] == [0, 1]
    np.testing.assert_allclose([t[1] for t in rule.terms], W2[:, j])
    np.testing.assert_allclose([t[2] for t in rule.terms], d2)
    np.testing.assert_allclose([t[3] for t in rule.terms], W2[:, j] * d2)
    assert rule.total == pytest.approx(W2[0, j] * d2[0] + W2[1, j] * d2[1])
    assert rule.sp == pytest.approx(sig(z1[j]) * (1 - sig(z1[j])))
    assert rule.value == pytest.approx(d1[j])
    # δ¹[j] = ∂C/∂b¹[j] (BP3): a finite difference that knows nothing about backprop
    numeric = (cost_with_hidden_bias(j, 1e-6) - cost_with_hidden_bias(j, -1e-6)) / 2e-6
    assert rule.value == pytest.approx(numeric, rel=1e-6)


def test_readout_shows_the_numbers_and_changes_with_the_neuron():
    rule = delta_rule(tiny_net(), X, Y, show=False)
    z1, d1, d2 = hand_deltas()
    first = rule.view.readout
    assert f"{d1[0]:.6f}" in first and f"{W2[1, 0]:.4f} × {d2[1]:.6f}" in first
    rule.neuron_dropdown.value = 2
    assert rule.view.readout != first
    text = rule.readout_text
    assert f"= {d1[2]:.6f}" in text.splitlines()[-1]
    assert f"sum = {W2[:, 2] @ d2:.6f}" in text
    assert f"σ'(z¹[2]) = {sig(z1[2]) * (1 - sig(z1[2])):.6f}" in text


def test_controls_and_readout_carry_css_classes():
    rule = delta_rule(tiny_net(), X, Y, show=False)
    assert "cnnlib-deltarule-neuron" in rule.neuron_dropdown._dom_classes
    assert "cnnlib-deltarule-layer" in rule.layer_dropdown._dom_classes
    assert rule.view.name == "deltarule"  # the view gives its readout the class cnnlib-deltarule-readout
    assert [v for _, v in rule.neuron_dropdown.options] == [0, 1, 2]


def test_two_hidden_layers_and_tanh():
    rng = np.random.default_rng(4)
    dense = [Dense(3, 4, rng=rng), Dense(4, 2, rng=rng), Dense(2, 3, rng=rng)]
    for d in dense:
        d.params["b"][...] = rng.standard_normal(d.params["b"].shape)
    net = Sequential(dense[0], Tanh(), dense[1], Sigmoid(), dense[2], Sigmoid())
    x, y = rng.standard_normal(3), rng.uniform(size=3)
    Ws = [d.params["W"].copy() for d in dense]
    bs = [d.params["b"] for d in dense]
    acts = [np.tanh, sig, sig]

    def cost(layer_idx, j, h):
        a = x
        for k, (Wk, bk, f) in enumerate(zip(Ws, bs, acts)):
            bb = bk.copy()
            if k == layer_idx:
                bb[j] += h
            a = f(Wk @ a + bb)
        return 0.5 * np.sum((a - y) ** 2)

    rule = delta_rule(net, x, y, show=False)
    assert [v for _, v in rule.layer_dropdown.options] == [1, 2]
    rule.layer_dropdown.value = 2
    assert rule.neuron == 0 and [v for _, v in rule.neuron_dropdown.options] == [0, 1]
    rule.neuron_dropdown.value = 1
    assert len(rule.terms) == 3
    for layer, j in [(2, 1), (1, 3), (1, 0)]:
        rule.select(layer, j)
        numeric = (cost(layer - 1, j, 1e-6) - cost(layer - 1, j, -1e-6)) / 2e-6
        assert rule.value == pytest.approx(numeric, rel=1e-5)
    # the tanh layer: σ' there is 1 - tanh²
    rule.select(1, 3)
    z = Ws[0] @ x + bs[0]
    assert rule.sp == pytest.approx(1 - np.tanh(z[3]) ** 2)


def test_parameters_are_left_unchanged_and_figure_draws():
    net = tiny_net()
    rule = delta_rule(net, X, Y, show=False)
    np.testing.assert_array_equal(net[0].params["W"], W1)
    np.testing.assert_array_equal(net[2].params["W"], W2)
    fig = rule.figure()
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)


def test_rejects_a_model_without_hidden_layer_and_bad_selection():
    with pytest.raises(ValueError, match="alternating Dense and activation"):
        delta_rule(Sequential(Dense(2, 2), Sigmoid()), X, Y, show=False)
    with pytest.raises(ValueError, match="alternating Dense and activation"):
        delta_rule(Sequential(Dense(2, 3), Dense(3, 2)), X, Y, show=False)
    rule = delta_rule(tiny_net(), X, Y, show=False)
    with pytest.raises(ValueError, match="hidden layers are 1..1"):
        rule.select(2, 0)
    with pytest.raises(ValueError, match="neurons 0..2"):
        rule.select(1, 3)


def test_edge_labels_stay_off_the_nodes():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    rng = np.random.default_rng(0)
    net = Sequential(Dense(2, 3, rng=rng), Sigmoid(), Dense(3, 2, rng=rng), Sigmoid())
    rule = delta_rule(net, np.array([0.5, -1.0]), np.array([1.0, 0.0]), show=False)
    for neuron in range(3):
        rule.select(1, neuron)
        fig = rule.figure()
        try:
            fig.canvas.draw()
            ax = fig.axes[0]
            renderer = fig.canvas.get_renderer()
            nodes = [c for c in ax.collections if isinstance(c, PathCollection)]
            labels = [t for t in ax.texts if "×" in t.get_text()]
            assert len(labels) == 2
            for node in nodes:
                cx, cy = ax.transData.transform(node.get_offsets()[0])
                radius = np.sqrt(node.get_sizes()[0]) / 2 * fig.dpi / 72  # marker size is in points²
                for label in labels:
                    box = label.get_window_extent(renderer)
                    # the nearest point of the label's box to the node's centre is outside the circle
                    nx, ny = min(max(cx, box.x0), box.x1), min(max(cy, box.y0), box.y1)
                    assert np.hypot(nx - cx, ny - cy) > radius, f"{label.get_text()!r} overlaps a node"
        finally:
            plt.close(fig)


def test_the_opening_value_a_notebook_checks_does_not_move_with_the_dropdown():
    """Notebook 01 checks the opening δ¹[2] against its hand-worked number; a student picking another neuron
    must not make a re-run of that check fail."""
    _, d1, _ = hand_deltas()
    rule = delta_rule(tiny_net(), X, Y, layer=1, neuron=2, show=False)
    opening = rule.start_readout
    rule.neuron_dropdown.value = 0  # what the student does
    assert abs(rule.value - d1[0]) < 1e-12  # the widget follows the hand ...
    assert rule.start == (1, 2) and abs(rule.start_value - d1[2]) < 1e-12  # ... the check's value does not
    assert rule.start_readout == opening and "δ¹[2]" in opening and "δ¹[0]" not in opening
    assert abs(d1[2] - d1[0]) > 1e-3  # the two neurons differ, so a value that moved would be caught
