"""weight_sharing widget: clicked pixels, highlighted cells, kernel entries and sums, against hand-worked indices."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import signal  # noqa: E402

from cnnlib.widgets import weight_sharing  # noqa: E402

X = np.array([[1, 2, 0, 3, 1],
              [0, 1, 2, 1, 0],
              [3, 0, 1, 2, 2],
              [1, 1, 0, 0, 3]])
K = np.array([[1, -1, 2],
              [0, 3, 1]])  # non-square and non-symmetric: every entry has its own value


def test_every_output_and_input_button_exists_with_its_class():
    w = weight_sharing(X, K, show=False)
    assert set(w.in_buttons) == {(i, j) for i in range(4) for j in range(5)}
    assert set(w.out_buttons) == {(i, j) for i in range(3) for j in range(3)}
    assert "cnnlib-weightsharing-out-2-1" in w.out_buttons[(2, 1)]._dom_classes
    assert "cnnlib-weightsharing-in-3-4" in w.in_buttons[(3, 4)]._dom_classes
    assert w.view.name == "weightsharing"  # the view gives its readout the class cnnlib-weightsharing-readout


def test_click_output_shows_receptive_field_and_sum():
    w = weight_sharing(X, K, show=False)
    w.out_buttons[(1, 2)].click()
    assert (w.kind, w.selected) == ("out", (1, 2))
    expected_field = np.zeros((4, 5), dtype=bool)
    expected_field[1:3, 2:5] = True
    np.testing.assert_array_equal(w.in_mask, expected_field)
    assert w.kernel_mask.all()
    assert w.out_mask.sum() == 1 and w.out_mask[1, 2]
    assert [(p, m) for _, p, m in w.links] == [((1, 2), (0, 0)), ((1, 3), (0, 1)), ((1, 4), (0, 2)),
                                              ((2, 2), (1, 0)), ((2, 3), (1, 1)), ((2, 4), (1, 2))]
    # z[1,2] = 2·1 + 1·(-1) + 0·2 + 1·0 + 2·3 + 2·1 = 9, and scipy agrees
    assert w.total == 9
    assert signal.correlate2d(X, K, "valid")[1, 2] == 9
    text = w.readout_text
    assert text.startswith("z[1,2] = x[1,2] × W[0,0] + x[1,3] × W[0,1]")
    assert "x[2,4] × W[1,2]" in text and "= 9" in text
    assert "·" not in text  # monospace: a dot could be read as the correlation sign ⋆
    assert w.out_buttons[(1, 2)].button_style == "warning"
    assert w.in_buttons[(2, 4)].button_style == "info" and w.in_buttons[(0, 0)].button_style == ""


def test_click_input_shows_the_outputs_it_feeds_with_the_rotated_kernel():
    w = weight_sharing(X, K, show=False)
    w.in_buttons[(2, 2)].click()
    assert (w.kind, w.selected) == ("in", (2, 2))
    assert w.total is None
    # x[2,2] is read by z[i,j] for i in {1,2} (= 2 - m) and j in {0,1,2} (= 2 - n), through W[2-i, 2-j]
    assert [(o, m) for o, _, m in w.links] == [((1, 0), (1, 2)), ((1, 1), (1, 1)), ((1, 2), (1, 0)),
                                              ((2, 0), (0, 2)), ((2, 1), (0, 1)), ((2, 2), (0, 0))]
    expected_out = np.zeros((3, 3), dtype=bool)
    expected_out[1:3, :] = True
    np.testing.assert_array_equal(w.out_mask, expected_out)
    assert w.in_mask.sum() == 1 and w.in_mask[2, 2]
    assert w.readout_text.startswith("x[2,2] feeds 6 output(s): z[1,0] via W[1,2]; z[1,1] via W[1,1]")
    # laid out over the outputs it feeds, the kernel entries form rot180(W)
    used = np.zeros((2, 3))
    for (i, j), _, (m, n) in w.links:
        used[i - 1, j] = K[m, n]
    np.testing.assert_array_equal(used, K[::-1, ::-1])


def test_corner_input_feeds_a_single_output_and_readout_changes():
    w = weight_sharing(X, K, show=False)
    before = w.view.readout
    w.in_buttons[(3, 4)].click()
    assert [(o, m) for o, _, m in w.links] == [((2, 2), (1, 2))]
    assert w.kernel_mask.sum() == 1 and w.kernel_mask[1, 2]
    assert w.view.readout != before and "feeds 1 output(s): z[2,2] via W[1,2]" in w.view.readout


def test_every_output_total_matches_scipy_and_the_matrix_row():
    rng = np.random.default_rng(8)
    x, k = rng.standard_normal((5, 6)), rng.standard_normal((3, 2))
    w = weight_sharing(x, k, select=("out", 0, 0), show=False)
    ref = signal.correlate2d(x, k, "valid")
    for (i, j), b in w.out_buttons.items():
        b.click()
        assert w.total == pytest.approx(ref[i, j])
        assert f"(row {i * ref.shape[1] + j} of M)" in w.readout_text
        assert w.in_mask.sum() == 6


def test_figure_draws_for_both_kinds():
    w = weight_sharing(show=False)
    for kind, ij in (("out", (0, 1)), ("in", (1, 1))):
        w.select(kind, *ij)
        fig = w.figure()
        assert len(fig.axes) == 5  # x, W, z, M and M's colour bar
        matplotlib.pyplot.close(fig)


def test_bad_selection_is_refused():
    w = weight_sharing(X, K, show=False)
    with pytest.raises(ValueError, match="outside"):
        w.select("out", 3, 0)
    with pytest.raises(ValueError, match="'out' or 'in'"):
        w.select("kernel", 0, 0)


def test_matrix_M_has_its_numbers_a_colour_bar_and_an_outline_that_does_not_tint():
    w = weight_sharing(X, K, show=False)
    w.select("out", 1, 2)
    fig = w.figure()
    try:
        ax_m = fig.axes[3]
        # every nonzero entry of M is written in: each output row holds the 6 weights of K once
        numbers = sorted(float(t.get_text()) for t in ax_m.texts)
        assert numbers == sorted(list(K.ravel()[K.ravel() != 0]) * (3 * 3))
        assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
        outline = [p for p in ax_m.patches if p.get_visible()]
        assert len(outline) == 1 and not outline[0].get_fill()  # an outline only: the colours stay as they are
        assert outline[0].get_y() == 1 * 3 + 2 - 0.5  # row 5 of M = z[1, 2] (z is 3 x 3)
        assert "outlined" in ax_m.get_title()
    finally:
        matplotlib.pyplot.close(fig)


def test_the_opening_links_a_notebook_checks_do_not_move_with_clicks():
    """Notebook 02 checks that input x[2,2] meets every weight once; a student clicking another pixel must not
    make a re-run of that check fail."""
    w = weight_sharing(X, K, select=("in", 2, 2), show=False)
    every = {(m, n) for m in range(2) for n in range(3)}
    opening = w.start_readout
    w.select("in", 0, 0)  # what the student does: a corner pixel meets one weight only
    assert {k for _, _, k in w.links} == {(0, 0)}
    assert w.start == ("in", 2, 2) and {k for _, _, k in w.start_links} == every
    assert w.start_readout == opening and opening.startswith("x[2,2] feeds 6 output(s)")
