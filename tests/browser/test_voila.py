"""Each notebook's widget, live in Voila: a real Chromium moves a slider, clicks a cell or toggles a flip, and the
readout a student sees must change to the right numbers.

The expected numbers never come from the widget: ``widget_call`` runs the notebook's own code up to its widget
call to get the exact inputs, and the test recomputes the answer from them with scipy/numpy.
"""

import re

import numpy as np
import pytest
import scipy.signal
import scipy.special

from browser_support import NOTEBOOKS, widget_call

NUM = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def needs(notebook):
    """Skip until the notebook exists (the series is written in parallel)."""
    if not (NOTEBOOKS / notebook).exists():
        pytest.skip(f"{notebook} is not in notebooks/ yet")
    return notebook


# ---------------------------------------------------------------------------------------------- 01 delta rule
def test_01_delta_rule_neuron_dropdown(voila, ui):
    nb = needs("01_mlp_delta_rule.ipynb")
    (net, x, y), kwargs, _ = widget_call(nb, "delta_rule")
    layer = kwargs.get("layer", 1)
    assert layer == 1, "this test recomputes the deltas of hidden layer 1"
    # BP1 and BP2 by hand for a Dense-Sigmoid-Dense-Sigmoid net and C = ½‖a - y‖²
    W1, b1 = net[0].params["W"], net[0].params["b"]
    W2, b2 = net[2].params["W"], net[2].params["b"]
    assert [type(net[k]).__name__ for k in (1, 3)] == ["Sigmoid", "Sigmoid"]
    a1 = scipy.special.expit(W1 @ x + b1)
    a2 = scipy.special.expit(W2 @ a1 + b2)
    d2 = (a2 - y) * a2 * (1 - a2)
    collected = W2.T @ d2
    d1 = collected * a1 * (1 - a1)

    ui.open_voila(voila, nb)
    start = kwargs.get("neuron", 0)
    target = 0 if start != 0 else 1
    ui.expect_text("cnnlib-deltarule-readout", f"δ¹[{start}] = ")
    ui.select("cnnlib-deltarule-neuron", f"neuron {target}")
    total, sp, value = ui.numbers("cnnlib-deltarule-readout", rf"δ¹\[{target}\] = {NUM} × {NUM} = {NUM}")
    assert total == pytest.approx(collected[target], abs=2e-6)
    assert sp == pytest.approx(a1[target] * (1 - a1[target]), abs=2e-6)
    assert value == pytest.approx(d1[target], abs=2e-6)


# ---------------------------------------------------------------------------------------------- 02 weight sharing
def test_02_weight_sharing_click_output_and_input_pixels(voila, ui):
    nb = needs("02_weight_sharing.ipynb")
    (x, W), _, _ = widget_call(nb, "weight_sharing")
    z = scipy.signal.correlate2d(x, W, "valid")
    KH, KW = W.shape
    i, j = z.shape[0] - 1, 1
    p, q = 0, x.shape[1] - 1  # a corner pixel feeds exactly one output
    feeds = [(a, b) for a in range(z.shape[0]) for b in range(z.shape[1]) if a <= p < a + KH and b <= q < b + KW]

    ui.open_voila(voila, nb)
    ui.click(f"cnnlib-weightsharing-out-{i}-{j}")
    row = i * z.shape[1] + j
    (total,) = ui.numbers("cnnlib-weightsharing-readout", rf"z\[{i},{j}\] = [\s\S]*= {NUM}\s+\(row {row} of M\)")
    assert total == pytest.approx(z[i, j], abs=0.006)
    ui.click(f"cnnlib-weightsharing-in-{p}-{q}")
    ui.expect_text("cnnlib-weightsharing-readout", f"x[{p},{q}] feeds {len(feeds)} output(s)")
    (a, b), = feeds
    ui.expect_text("cnnlib-weightsharing-readout", f"z[{a},{b}] via W[{p - a},{q - b}]")


# ---------------------------------------------------------------------------------------------- 03 sliding window
def test_03_sliding_window_step_and_flip(voila, ui):
    nb = needs("03_convolution_vs_correlation.ipynb")
    (x, k), kwargs, _ = widget_call(nb, "sliding_window")
    assert kwargs.get("mode", "valid") == "valid"
    corr = scipy.signal.correlate2d(x, k, "valid")
    conv = scipy.signal.convolve2d(x, k, "valid")
    step = corr.size - 2  # the last row of outputs: far from the default step 0
    i, j = divmod(step, corr.shape[1])

    ui.open_voila(voila, nb)
    ui.expect_text("cnnlib-sliding-readout", "position (0, 0)")
    ui.set_slider("cnnlib-sliding-step", step + 1)  # the slider counts from 1
    (total,) = ui.numbers("cnnlib-sliding-readout", rf"sum = {NUM} = out\[{i}, {j}\]")
    assert ui.text("cnnlib-sliding-readout").startswith("correlation")
    assert total == pytest.approx(corr[i, j], abs=6e-5)

    ui.click("cnnlib-sliding-flip")
    ui.expect_text("cnnlib-sliding-readout", "convolution")
    (total,) = ui.numbers("cnnlib-sliding-readout", rf"sum = {NUM} = out\[{i}, {j}\]")
    assert total == pytest.approx(conv[i, j], abs=6e-5)
    assert conv[i, j] != pytest.approx(corr[i, j])  # the flip must be visible in this cell


# ---------------------------------------------------------------------------------------------- 04 delta flow, flip
def test_04_delta_flow_sliders_and_flip_toggle(voila, ui):
    nb = needs("04_rotation_proof.ipynb")
    (x, W, delta), _, _ = widget_call(nb, "delta_flow")
    dx = scipy.signal.convolve2d(delta, W, "full")  # ∂C/∂x of z = x ⋆ W, computed independently
    unrotated = scipy.signal.correlate2d(delta, W, "full")  # the rotation forgotten
    wrong = np.linalg.norm(unrotated - dx) / (np.linalg.norm(unrotated) + np.linalg.norm(dx))
    ui.open_voila(voila, nb)

    for r, c in [(0, x.shape[1] - 1), (1, 1)]:  # a corner (one term) and an inner pixel (several terms)
        ui.set_slider("cnnlib-deltaflow-row", r)
        ui.set_slider("cnnlib-deltaflow-col", c)
        (total,) = ui.numbers("cnnlib-deltaflow-readout", rf"sum = {NUM} = dx\[{r}, {c}\]")
        assert total == pytest.approx(dx[r, c], abs=6e-5)
        n_terms = (min(r, delta.shape[0] - 1) - max(0, r - W.shape[0] + 1) + 1) * \
                  (min(c, delta.shape[1] - 1) - max(0, c - W.shape[1] + 1) + 1)
        ui.expect_text("cnnlib-deltaflow-readout", f"collects {n_terms} term(s)")

    # flip or not (same inputs in the notebook): rotation on agrees with the numerical gradient, off does not
    ui.expect_text("cnnlib-flip-readout", "✓ agrees with")
    (err,) = ui.numbers("cnnlib-flip-readout", rf"rel_error = {NUM}")
    assert err < 1e-7
    ui.click("cnnlib-flip-toggle")
    ui.expect_text("cnnlib-flip-readout", "✗ disagrees")
    (err,) = ui.numbers("cnnlib-flip-readout", rf"rel_error = {NUM} → ✗")
    assert err == pytest.approx(wrong, rel=0.01)
    ui.click("cnnlib-flip-toggle")
    ui.expect_text("cnnlib-flip-readout", "✓ agrees")


# ---------------------------------------------------------------------------------------------- 05 stride/padding
def test_05_stride_padding_dilation_sliders(voila, ui):
    nb = needs("05_channels_stride_padding.ipynb")
    args, kwargs, _ = widget_call(nb, "stride_padding")
    from cnnlib.widgets.stride import DEFAULT_KERNEL  # the widget's default input, not its answer

    H, Wd = kwargs.get("input_shape", args[0] if args else (7, 7))
    kernel = kwargs.get("kernel", args[1] if len(args) > 1 else None)
    KH, KW = np.shape(DEFAULT_KERNEL if kernel is None else kernel)

    def expected(s, p, d):
        # PyTorch's Conv2d output size; δ with s - 1 zeros between entries; ∂C/∂x has the input's shape
        Ho = (H + 2 * p - d * (KH - 1) - 1) // s + 1
        Wo = (Wd + 2 * p - d * (KW - 1) - 1) // s + 1
        return f"output {Ho}x{Wo}, δ after zero insertion {(Ho - 1) * s + 1}x{(Wo - 1) * s + 1}, dx {H}x{Wd}"

    ui.open_voila(voila, nb)
    ui.el("cnnlib-stride-readout")
    for s, p, d in [(1, 0, 1), (3, 1, 1), (2, 2, 2)]:
        ui.set_slider("cnnlib-stride-stride", s)
        ui.set_slider("cnnlib-stride-padding", p)
        ui.set_slider("cnnlib-stride-dilation", d)
        ui.expect_text("cnnlib-stride-readout", expected(s, p, d))


# ---------------------------------------------------------------------------------------------- 07 pooling
def test_07_pooling_click_output_and_mode(voila, ui):
    nb = needs("07_pooling_and_relu.ipynb")
    args, kwargs, _ = widget_call(nb, "pooling_routing")
    x = np.asarray(args[0] if args else kwargs["x"])
    k = kwargs.get("kernel_size", args[1] if len(args) > 1 else 2)
    assert kwargs.get("stride") in (None, k)
    i, j = 1, 2
    window = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
    r, c = np.unravel_index(np.argmax(window), window.shape)  # first maximum in row-major order, as PyTorch

    ui.open_voila(voila, nb)
    ui.click(f"cnnlib-pooling-out-{i}-{j}")
    ui.expect_text("cnnlib-pooling-readout", f"out[{i},{j}] = {window.max():.2f} comes from x[{i * k + r},{j * k + c}]")
    ui.expect_text("cnnlib-pooling-readout", f"gradient 1.0 goes to x[{i * k + r},{j * k + c}]")

    ui.click("cnnlib-pooling-mode", text="average")
    (mean, share) = ui.numbers("cnnlib-pooling-readout",
                               rf"average pool: out\[{i},{j}\] = {NUM} .* each of the {k * k} inputs gets {NUM}")
    assert mean == pytest.approx(window.mean(), abs=0.006)
    assert share == pytest.approx(1 / k**2)


# ---------------------------------------------------------------------------------------------- 08 softmax
def test_08_softmax_logit_and_temperature(voila, ui):
    nb = needs("08_softmax_cross_entropy.ipynb")
    _, kwargs, _ = widget_call(nb, "softmax_explorer")
    z = np.array(kwargs["logits"], dtype=float)
    label = kwargs["label"]
    z[1] = round(z[1] + 0.5, 1)
    T = 2.0
    p = scipy.special.softmax(z / T)
    grad = (p - np.eye(z.size)[label]) / T

    ui.open_voila(voila, nb)
    ui.expect_text("cnnlib-softmax-readout", "p = [")
    ui.set_slider("cnnlib-softmax-logit-1", z[1], step=0.1)
    ui.type_slider("cnnlib-softmax-temperature", T)

    def shows_expected(text):
        shown_p, shown_grad = (np.array([float(v) for v in block.split(",")])
                               for block in re.findall(r"\[([^\]]+)\]", text)[:2])
        loss = float(re.search(rf"-log p\[{label}\] = {NUM}", text).group(1))
        return ("(T = 2.0)" in text and np.allclose(shown_p, p, atol=6e-4) and np.allclose(shown_grad, grad, atol=6e-4)
                and abs(loss - (-np.log(p[label]))) < 6e-4)

    ui.wait_until("cnnlib-softmax-readout", shows_expected,
                  f"p = {np.round(p, 3)}, ∂C/∂z = {np.round(grad, 3)}, C = {-np.log(p[label]):.3f} at T = {T}")


# ---------------------------------------------------------------------------------------------- 09 MNIST digits
def test_09_digit_explorer_slider(voila, ui):
    nb = needs("09_mnist_training.ipynb")
    from cnnlib.data import load_mnist  # the same embedded test digits the notebook loads by default

    _, (_, y_test) = load_mnist()
    k = 7
    ui.open_voila(voila, nb)
    # the explorer opens on the most confident mistake
    ui.expect_text("cnnlib-digit-readout", "(wrong)")
    ui.type_slider("cnnlib-digit-index", k)
    label, pred, prob = ui.numbers("cnnlib-digit-readout", rf"digit #{k}: label {NUM}, predicted {NUM} \(prob {NUM}\)")
    assert label == y_test[k]
    assert 0.0 < prob <= 1.0 and 0 <= pred <= 9
    assert ("(wrong)" in ui.text("cnnlib-digit-readout")) == (pred != label)
    # "jump to" reaches a confident mistake in one move
    ui.el("cnnlib-digit-picks").locator("select").select_option(index=2)
    ui.expect_text("cnnlib-digit-readout", "(wrong)")
