"""Headless tests of widgets.digit_explorer: move the slider and compare the state with computations written here
(a float64 forward pass from scipy-free loops, central differences for the saliency map)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, widgets  # noqa: E402


def tiny_model(rng):
    """A small net shaped like the one-conv-layer net on 8x8 inputs: conv 2 maps of 3x3 -> ReLU -> 2x2 max-pool -> Dense(18, 4)."""
    model = Sequential(Conv2D(1, 2, 3, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Dense(2 * 3 * 3, 4, rng=rng))
    model[0].params["b"][:] = rng.uniform(-0.2, 0.2, size=2)  # non-zero biases, so a bias bug would show
    model[4].params["b"][:] = rng.uniform(-0.2, 0.2, size=4)
    return model


@pytest.fixture
def setup():
    rng = np.random.default_rng(8)
    model = tiny_model(rng)
    x = rng.uniform(0, 1, size=(5, 1, 8, 8))
    y = np.array([0, 3, 1, 2, 3])
    return model, x, y


def logits_by_hand(model, x1):
    """Forward of one (1, 8, 8) image with plain loops: correlation, ReLU, 2x2 max, flatten, dense."""
    W, b = model[0].params["W"], model[0].params["b"]
    F, _, K, _ = W.shape
    n = x1.shape[-1] - K + 1
    z = np.zeros((F, n, n))
    for f in range(F):
        for i in range(n):
            for j in range(n):
                z[f, i, j] = np.sum(x1[0, i:i + K, j:j + K] * W[f, 0]) + b[f]
    a = np.maximum(z, 0)
    m = n // 2
    pooled = np.array([[[a[f, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(m)] for i in range(m)]
                       for f in range(F)])
    return model[4].params["W"] @ pooled.ravel() + model[4].params["b"], a


def cross_entropy(logits, label):
    shifted = logits - logits.max()
    return np.log(np.exp(shifted).sum()) - shifted[label]


def test_controls_have_stable_css_classes(setup):
    w = widgets.digit_explorer(*setup, show=False)
    assert "cnnlib-digit-index" in w.slider._dom_classes
    assert w.view.name == "digit"  # the view gives its readout the class cnnlib-digit-readout
    assert (w.slider.min, w.slider.max) == (0, 4)


def test_probabilities_prediction_and_readout_follow_the_slider(setup):
    model, x, y = setup
    w = widgets.digit_explorer(model, x, y, show=False)
    for i in [2, 0, 4, 1, 3]:
        w.slider.value = i
        logits, _ = logits_by_hand(model, x[i])
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        np.testing.assert_allclose(w.probs, probs, rtol=1e-12)
        pred = int(np.argmax(logits))
        assert (w.index, w.label, w.pred) == (i, y[i], pred)
        assert w.readout_text == f"digit #{i}: label {y[i]}, predicted {pred} (prob {probs[pred]:.3f})"
        assert w.readout_text in w.view.readout
        assert w.loss == pytest.approx(cross_entropy(logits, y[i]), rel=1e-12)


def test_feature_maps_are_the_first_layer_activations(setup):
    model, x, y = setup
    w = widgets.digit_explorer(model, x, y, index=3, show=False)
    _, a = logits_by_hand(model, x[3])
    assert w.feature_maps.shape == (2, 6, 6)
    np.testing.assert_allclose(w.feature_maps, a, rtol=1e-12, atol=1e-15)


def test_saliency_equals_the_numerical_gradient_of_the_loss(setup):
    model, x, y = setup
    w = widgets.digit_explorer(model, x, y, show=False)
    for i in [1, 4]:
        w.slider.value = i
        img, h = x[i].copy(), 1e-6
        numeric = np.zeros((8, 8))
        for r in range(8):
            for c in range(8):
                plus, minus = img.copy(), img.copy()
                plus[0, r, c] += h
                minus[0, r, c] -= h
                numeric[r, c] = (cross_entropy(logits_by_hand(model, plus)[0], y[i])
                                 - cross_entropy(logits_by_hand(model, minus)[0], y[i])) / (2 * h)
        assert w.saliency.shape == (8, 8)
        err = np.linalg.norm(w.saliency - numeric) / (np.linalg.norm(w.saliency) + np.linalg.norm(numeric))
        assert err < 1e-7
        assert np.abs(numeric).max() > 1e-3  # the check is not vacuous


def test_a_wrong_prediction_is_flagged(setup):
    model, x, y = setup
    w = widgets.digit_explorer(model, x, y, show=False)
    wrong = [i for i in range(len(x)) if int(np.argmax(logits_by_hand(model, x[i])[0])) != y[i]]
    right = [i for i in range(len(x)) if i not in wrong]
    assert wrong and right, "the fixture should have both kinds of digits"
    w.slider.value = wrong[0]
    assert "wrong" in w.view.readout
    w.slider.value = right[0]
    assert "wrong" not in w.view.readout


def test_figure_has_digit_saliency_probabilities_and_maps(setup):
    w = widgets.digit_explorer(*setup, show=False)
    fig = w.figure()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 + 2
    assert len(fig.axes) - len(panels) == 2  # colour bars: the saliency, and one shared by the feature maps
    plt.close(fig)


def test_picker_jumps_to_the_most_confident_mistakes(setup):
    model, x, y = setup
    w = widgets.digit_explorer(model, x, y, show=False)
    probs = w.picks and [w.probs]  # noqa: F841 - the picks are computed from the model's own predictions
    scores = model.predict(x)
    pred = scores.argmax(axis=1)
    assert all(pred[k] != y[k] for k in w.picks)
    if w.picks:
        w.picker.value = w.picks[0]
        assert w.index == w.picks[0] and w.pred != w.label


def test_bad_arguments_are_explained(setup):
    model, x, y = setup
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        widgets.digit_explorer(model, x[:, 0], y, show=False)
    with pytest.raises(ValueError, match="to match x"):
        widgets.digit_explorer(model, x, y[:3], show=False)
    with pytest.raises(ValueError, match="index in 0..4"):
        widgets.digit_explorer(model, x, y, index=5, show=False)


def test_jump_to_names_the_digit_shown(setup):
    w = widgets.digit_explorer(*setup, show=False)
    assert w.picks, "the fixture should have mistakes"
    w.picker.value = w.picks[0]
    assert w.index == w.picks[0]
    other = next(k for k in range(len(setup[2])) if k not in w.picks)
    w.slider.value = other
    assert w.picker.value == -1  # the prompt, not the digit shown before
    w.slider.value = w.picks[-1]
    assert w.picker.value == w.picks[-1]


def test_feature_maps_line_up_under_the_three_top_panels(setup):
    w = widgets.digit_explorer(*setup, show=False)
    fig = w.figure()
    try:
        panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        top = sorted((ax for ax in panels if ax.get_position().y0 > 0.5), key=lambda ax: ax.get_position().x0)
        bottom = sorted((ax for ax in panels if ax.get_position().y0 < 0.5), key=lambda ax: ax.get_position().x0)
        n = len(w.feature_maps)  # 2 in this fixture, 3 in notebook 09
        assert [ax.get_title() for ax in bottom] == [f"feature map {f}" for f in range(n)]
        fig.canvas.draw()  # images with equal aspect sit inside their boxes: compare where they are drawn
        for upper, lower in zip(top, bottom):
            assert abs(upper.get_window_extent().x0 - lower.get_window_extent().x0) < 1.0
    finally:
        plt.close(fig)


def test_the_opening_digit_a_notebook_checks_does_not_move_with_the_slider(setup):
    """Notebook 09 opens on a mistake and checks that it is one; a student moving the slider to a digit the net
    gets right must not make a re-run of that check fail."""
    model, x, y = setup
    wrong = [i for i in range(len(x)) if int(np.argmax(logits_by_hand(model, x[i])[0])) != y[i]]
    right = [i for i in range(len(x)) if i not in wrong]
    assert wrong and right, "the fixture should have both kinds of digits"
    w = widgets.digit_explorer(model, x, y, index=wrong[0], show=False)
    opening = w.start_probs.copy()
    w.slider.value = right[0]  # what the student does
    assert w.pred == w.label  # the widget follows the slider ...
    assert w.start_index == wrong[0] and w.start_label == y[wrong[0]] != w.start_pred  # ... the check does not
    logits = logits_by_hand(model, x[wrong[0]])[0]
    np.testing.assert_allclose(w.start_probs, np.exp(logits) / np.exp(logits).sum(), rtol=1e-6)
    np.testing.assert_array_equal(w.start_probs, opening)
