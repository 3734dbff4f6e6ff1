"""Headless tests of the delta-flow and flip-or-not widgets (notebook 04): move the sliders / press the
toggle and check the state against scipy.signal, brute-force loops and hand-worked numbers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.signal  # noqa: E402

from cnnlib.widgets import delta_flow, flip_or_not  # noqa: E402

RNG = np.random.default_rng(44)
X = RNG.standard_normal((5, 6))
W = RNG.standard_normal((2, 3))
DELTA = RNG.standard_normal((4, 4))


def contributions(r, c, W, delta):
    """Brute force: every δ[i, j] whose window x[i:i+KH, j:j+KW] contains x[r, c], with the weight it used."""
    KH, KW = W.shape
    return {(i, j): (r - i, c - j) for i, j in np.ndindex(*delta.shape) if i <= r < i + KH and j <= c < j + KW}


def test_sum_equals_scipy_gradient_at_every_pixel():
    dx = scipy.signal.convolve2d(DELTA, W, "full")  # ∂C/∂x for z = x ⋆ W, from scipy
    w = delta_flow(X, W, DELTA, show=False)
    np.testing.assert_allclose(w.dx, dx, atol=1e-12)
    for r, c in np.ndindex(*X.shape):
        w.row_slider.value, w.col_slider.value = r, c
        assert w.total == pytest.approx(dx[r, c], abs=1e-12)
        assert f"sum = {dx[r, c]:.4f}" in w.view.readout


def test_highlighted_delta_and_kernel_entries_match_brute_force():
    w = delta_flow(X, W, DELTA, show=False)
    for r, c in np.ndindex(*X.shape):
        w.row_slider.value, w.col_slider.value = r, c
        expected = contributions(r, c, W, DELTA)
        assert {(i, j) for i, j in np.argwhere(w.delta_mask)} == set(expected)
        assert {(m, n) for m, n in np.argwhere(w.kernel_mask)} == set(expected.values())
        assert {(t[0], t[1]): (t[2], t[3]) for t in w.terms} == expected
        for i, j, m, n, d, wt, p in w.terms:
            assert d == DELTA[i, j] and wt == W[m, n] and p == pytest.approx(DELTA[i, j] * W[m, n])


def test_corner_pixels_by_hand():
    w = delta_flow(X, W, DELTA, row=0, col=0, show=False)
    # x[0, 0] is only in the first window, where it met W[0, 0]
    assert [(t[0], t[1], t[2], t[3]) for t in w.terms] == [(0, 0, 0, 0)]
    assert w.total == pytest.approx(DELTA[0, 0] * W[0, 0])
    w.row_slider.value, w.col_slider.value = 4, 5
    assert [(t[0], t[1], t[2], t[3]) for t in w.terms] == [(3, 3, 1, 2)]
    assert w.total == pytest.approx(DELTA[3, 3] * W[1, 2])
    # on δ zero-padded by (1, 2), δ[3, 3] sits at the window's top-left, where rot180(W)[0, 0] = W[1, 2] is
    window = w.delta_pad[w.window_mask].reshape(W.shape)
    assert window[0, 0] == DELTA[3, 3] and np.count_nonzero(window) == 1
    assert w.products[0, 0] == pytest.approx(DELTA[3, 3] * W[1, 2])


def test_interior_pixel_uses_every_weight_once():
    w = delta_flow(X, W, DELTA, row=2, col=3, show=False)
    assert w.kernel_mask.all() and w.delta_mask.sum() == W.size
    # window on δ padded by (1, 2): rows 2..3, cols 3..5 of δ_pad, i.e. δ[1:3, 1:4]
    np.testing.assert_array_equal(w.delta_pad[w.window_mask].reshape(W.shape), DELTA[1:3, 1:4])
    np.testing.assert_allclose(w.products, DELTA[1:3, 1:4] * W[::-1, ::-1])


def test_default_pixel_is_the_centre_and_bad_shapes_are_refused():
    w = delta_flow(X, W, DELTA, show=False)
    assert (w.row, w.col) == (2, 3)
    with pytest.raises(ValueError, match="delta of shape"):
        delta_flow(X, W, DELTA[:3], show=False)


def test_flip_or_not_agrees_only_with_the_rotation():
    f = flip_or_not(X, W, DELTA, show=False)
    right = scipy.signal.convolve2d(DELTA, W, "full")
    np.testing.assert_allclose(f.numerical, right, atol=1e-8)
    assert f.rotate and f.agrees and f.error < 1e-7
    assert "agrees" in f.view.readout and "disagrees" not in f.view.readout

    f.toggle.value = False
    wrong = scipy.signal.correlate2d(DELTA, W, "full")
    np.testing.assert_allclose(f.analytic, wrong, atol=1e-12)
    expected_error = np.linalg.norm(wrong - right) / (np.linalg.norm(wrong) + np.linalg.norm(right))
    assert f.error == pytest.approx(expected_error, rel=1e-6)
    assert not f.agrees and f.error > 0.1
    assert "disagrees" in f.view.readout and f"rel_error = {expected_error:.2e}" in f.view.readout

    f.toggle.value = True
    assert f.agrees and "disagrees" not in f.view.readout


def test_flip_or_not_cannot_tell_for_a_kernel_that_is_its_own_rotation():
    truly_symmetric = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])  # equal to its 180° rotation
    assert np.allclose(truly_symmetric, truly_symmetric[::-1, ::-1])
    f = flip_or_not(X, truly_symmetric, DELTA, rotate=False, show=False)
    assert f.agrees  # honest: without an asymmetric kernel the rotation is invisible


def test_css_classes_and_display():
    w = delta_flow(X, W, DELTA, show=True)
    assert "cnnlib-deltaflow-row" in w.row_slider._dom_classes
    assert "cnnlib-deltaflow-col" in w.col_slider._dom_classes
    assert w.view.name == "deltaflow"  # the view gives its readout the class cnnlib-deltaflow-readout
    w.row_slider.value = 1
    f = flip_or_not(X, W, DELTA, show=True)
    assert "cnnlib-flip-toggle" in f.toggle._dom_classes
    assert f.view.name == "flip"  # the view gives its readout the class cnnlib-flip-readout
    f.toggle.value = False
    assert len(f.figure().axes) == 3 and len(w.figure().axes) == 6
    matplotlib.pyplot.close("all")


def test_pressing_the_button_never_changes_what_the_notebook_checks():
    f = flip_or_not(X, W, DELTA, show=False)
    right = scipy.signal.convolve2d(DELTA, W, "full")  # ∂C/∂x of z = x ⋆ W, from scipy
    for pressed in (False, True, False):
        f.toggle.value = pressed
        assert f.rotation_agrees and not f.unrotated_agrees
        np.testing.assert_allclose(f.with_rotation, right, atol=1e-12)
        np.testing.assert_allclose(f.without_rotation, scipy.signal.correlate2d(DELTA, W, "full"), atol=1e-12)
    assert not f.agrees  # what the button shows does follow it
