"""Widgets for notebook 04, the rotation proof. One channel, stride 1, forward z = x ⋆ W + b ('valid').

``delta_flow(x, W, delta)``: pick an input pixel x[r, c] and see the terms of its gradient,

    ∂L/∂x[r, c] = Σ_i Σ_j δ[i, j] · W[r - i, c - j]                (only the δ[i, j] whose window covered x[r, c])
                = Σ_u Σ_v δ_pad[r + u, c + v] · rot180(W)[u, v]    (δ zero-padded by KH-1, KW-1: a full correlation)

``flip_or_not(x, W, delta)``: compute ∂L/∂x as the full correlation of δ with rot180(W), or (toggle off) with
W itself, and compare with the numerical gradient from cnnlib.gradcheck.
"""

import ipywidgets
import numpy as np

from ..gradcheck import numerical_gradient, rel_error
from ..signal import correlate2d, pad2d, rot180
from ._draw import LiveFigure, MatrixPanel, new_figure, show_toggle_state, tag

__all__ = ["delta_flow", "DeltaFlow", "flip_or_not", "FlipOrNot"]


def _check_shapes(x, W, delta, func):
    x, W, delta = (np.asarray(a, dtype=np.float64) for a in (x, W, delta))
    if x.ndim != 2 or W.ndim != 2 or delta.ndim != 2:
        raise ValueError(f"{func} expected x (H, W), W (KH, KW) and delta (H_out, W_out), got shapes "
                         f"{x.shape}, {W.shape} and {delta.shape}")
    expected = (x.shape[0] - W.shape[0] + 1, x.shape[1] - W.shape[1] + 1)
    if min(expected) < 1:
        raise ValueError(f"{func}: a kernel of shape {W.shape} does not fit in x of shape {x.shape}")
    if delta.shape != expected:
        raise ValueError(f"{func} expected delta of shape {expected} (the 'valid' output of x ⋆ W), "
                         f"got {delta.shape}")
    return x, W, delta


class _Live(LiveFigure):
    """The kept figure and view (LiveFigure), and the widget box built once."""

    def widget(self):
        if getattr(self, "_box", None) is None:
            self._box = self._make_widget()
        return self._box


def _show(obj):
    """Display the widget once: its live view, with a PNG of the starting figure for front ends without a kernel."""
    obj.show(obj.widget())


# ============================================================================================ delta flow
class DeltaFlow(_Live):
    """State of the delta-flow widget. Read these attributes after moving the sliders:

    row, col        the chosen input pixel
    dx              the whole gradient ∂L/∂x (H, W): full correlation of δ with rot180(W)
    delta_pad       δ zero-padded by (KH-1, KW-1) on every side
    window_mask     bool (delta_pad.shape): the KH x KW window of δ_pad that meets rot180(W)
    delta_mask      bool (H_out, W_out): the δ entries that reach x[row, col]
    kernel_mask     bool (KH, KW): the entries W[u, v] they are multiplied with (unflipped coordinates)
    terms           list of (i, j, u, v, δ[i, j], W[u, v], product), one per contributing δ entry
    products        window · rot180(W), (KH, KW); zero where the window lies in the padding
    total           Σ products = dx[row, col]
    readout_text    the text shown in the readout
    """

    name = "deltaflow"

    def __init__(self, x, W, delta, row=0, col=0):
        self.x, self.W, self.delta = _check_shapes(x, W, delta, "delta_flow")
        KH, KW = self.W.shape
        self.flipped = rot180(self.W)
        self.delta_pad = pad2d(self.delta, (KH - 1, KH - 1, KW - 1, KW - 1))
        self.dx = correlate2d(self.delta, self.flipped, "full")  # notebook 04: ∂L/∂x = δ ⋆_full rot180(W)

        H, Wd = self.x.shape
        self.row_slider = tag(ipywidgets.IntSlider(value=row, min=0, max=H - 1, description="row",
                                                   continuous_update=False), self.name, "row")
        self.col_slider = tag(ipywidgets.IntSlider(value=col, min=0, max=Wd - 1, description="col",
                                                   continuous_update=False), self.name, "col")
        self.update()
        self.row_slider.observe(lambda change: self.update(), names="value")
        self.col_slider.observe(lambda change: self.update(), names="value")

    @property
    def row(self):
        return self.row_slider.value

    @property
    def col(self):
        return self.col_slider.value

    def update(self):
        KH, KW = self.W.shape
        H_out, W_out = self.delta.shape
        r, c = self.row, self.col
        self.window_mask = np.zeros(self.delta_pad.shape, dtype=bool)
        self.window_mask[r:r + KH, c:c + KW] = True
        self.products = self.delta_pad[r:r + KH, c:c + KW] * self.flipped + 0.0  # + 0.0: no "-0" on screen
        self.total = float(self.products.sum())

        # the same sum read the other way: every output z[i, j] whose window covered x[r, c]
        self.delta_mask = np.zeros(self.delta.shape, dtype=bool)
        self.kernel_mask = np.zeros(self.W.shape, dtype=bool)
        self.terms = []
        for i in range(max(0, r - KH + 1), min(H_out, r + 1)):
            for j in range(max(0, c - KW + 1), min(W_out, c + 1)):
                u, v = r - i, c - j
                self.delta_mask[i, j] = True
                self.kernel_mask[u, v] = True
                d, w = self.delta[i, j], self.W[u, v]
                self.terms.append((i, j, u, v, d, w, d * w))
        self.readout_html = self.readout_text = self._describe()
        self.refresh()

    def _describe(self):
        r, c = self.row, self.col
        terms = "<br>".join(f"&nbsp;&nbsp;δ[{i}, {j}] · W[{u}, {v}] = ({d:.4f}) · ({w:.4f}) = {p:.4f}"
                            for i, j, u, v, d, w, p in self.terms)
        return (f"<b>∂L/∂x[{r}, {c}]</b> collects {len(self.terms)} term(s), one per output whose window "
                f"covered x[{r}, {c}]:<br>{terms}<br>"
                f"<b>sum = {self.total:.4f}</b> = dx[{r}, {c}]")

    def _build(self):
        """Six panels: x, δ padded with the window, ∂L/∂x; W and rot180(W) with the entries used, the products."""
        # panel widths follow the number of columns, so that every cell is wide enough for "-0.80"
        widths = [self.x.shape[1], self.delta_pad.shape[1], self.dx.shape[1]]
        fig = new_figure((9, 6))
        axes = fig.subplots(2, 3, gridspec_kw={"width_ratios": widths})
        return fig, [MatrixPanel(ax, fmt="{:.2f}") for ax in axes.ravel()]

    def _paint(self, panels):
        r, c = self.row, self.col
        KH, KW = self.W.shape
        pixel = np.zeros(self.x.shape, dtype=bool)
        pixel[r, c] = True
        x_panel, pad_panel, dx_panel, w_panel, rot_panel, prod_panel = panels
        x_panel.draw(self.x, title=f"input x, pixel ({r}, {c})", highlight=pixel)
        pad_panel.draw(self.delta_pad, highlight=self.window_mask,
                       title=f"δ zero-padded by ({KH - 1}, {KW - 1})\nwindow at ({r}, {c})")
        dx_panel.draw(self.dx, title=f"∂L/∂x = δ ⋆ rot180(W) (full)\ndx[{r}, {c}] = {self.total:.4f}",
                      highlight=pixel)
        w_panel.draw(self.W, title="W: entries used", highlight=self.kernel_mask)
        rot_panel.draw(self.flipped, title="rot180(W), as it\nmeets the window", highlight=rot180(self.kernel_mask))
        prod_panel.draw(self.products, title=f"window × rot180(W)\nsum = {self.total:.4f}")

    def alt_text(self):
        return (f"Six panels for input pixel ({self.row}, {self.col}): the input x, δ zero-padded with the window "
                f"that meets rot180(W), the gradient ∂L/∂x, W and rot180(W) with the entries used, and the products, "
                f"which sum to dx[{self.row}, {self.col}] = {self.total:.4f}.")

    def _make_widget(self):
        return ipywidgets.VBox([ipywidgets.HBox([self.row_slider, self.col_slider]), self.view])


def delta_flow(x, W, delta, *, row=None, col=None, show=True):
    """Choose an input pixel and see which δ entries and which (flipped) kernel entries make its gradient.

    x: (H, W) input of the forward z = x ⋆ W + b ('valid'); W: (KH, KW); delta: ∂L/∂z, (H - KH + 1, W - KW + 1).
    row, col: the starting pixel (default: the centre of x). With ``show`` it displays the interactive widget (one
    output, with a PNG of the starting pixel for front ends without a kernel). Returns the DeltaFlow.
    CSS classes: cnnlib-deltaflow-row, cnnlib-deltaflow-col (sliders), cnnlib-deltaflow-readout (HTML: the terms
    δ[i, j] · W[u, v] and "sum = <value to 4 decimals>", which equals dx[row, col]).
    """
    H, Wd = np.shape(x)
    obj = DeltaFlow(x, W, delta, H // 2 if row is None else row, Wd // 2 if col is None else col)
    if show:
        _show(obj)
    return obj


# ============================================================================================ flip or not
class FlipOrNot(_Live):
    """State of the flip-or-not widget. Read these attributes after toggling:

    Fixed when the widget is made (the button never changes them, so a notebook's checks can read them):
    numerical           the central-difference gradient of C = Σ δ · (x ⋆ W) with respect to x
    with_rotation       δ ⋆_full rot180(W), the right formula; rotation_error, rotation_agrees its comparison
    without_rotation    δ ⋆_full W, the rotation forgotten; unrotated_error, unrotated_agrees its comparison

    What the button shows now:
    rotate          True: ∂L/∂x = δ ⋆_full rot180(W) (right); False: δ ⋆_full W (the rotation forgotten)
    analytic        the formula's ∂L/∂x for the current toggle
    error           rel_error(analytic, numerical)
    agrees          error < tolerance (1e-7)
    readout_text    the text shown in the readout
    """

    name = "flip"
    tolerance = 1e-7

    def __init__(self, x, W, delta, rotate=True):
        self.x, self.W, self.delta = _check_shapes(x, W, delta, "flip_or_not")
        # L(x) = Σ δ · (x ⋆ W): its gradient with respect to x is exactly the ∂L/∂x that backprop passes on
        self.numerical = numerical_gradient(lambda v: correlate2d(v, self.W, "valid"), self.x.copy(), self.delta)
        self.with_rotation = correlate2d(self.delta, rot180(self.W), "full")
        self.without_rotation = correlate2d(self.delta, self.W, "full")
        self.rotation_error = rel_error(self.with_rotation, self.numerical)
        self.unrotated_error = rel_error(self.without_rotation, self.numerical)
        self.rotation_agrees = self.rotation_error < self.tolerance
        self.unrotated_agrees = self.unrotated_error < self.tolerance
        self.toggle = tag(ipywidgets.ToggleButton(value=rotate, description="rotate W by 180°",
                                                  layout=ipywidgets.Layout(width="max-content")), self.name, "toggle")
        self.update()
        self.toggle.observe(lambda change: self.update(), names="value")

    @property
    def rotate(self):
        return bool(self.toggle.value)

    def update(self):
        # the pressed state is shown in words, icon and colour, not by a subtle shade alone
        show_toggle_state(self.toggle, "rotate W by 180°")
        self.toggle.tooltip = "pressed: ∂L/∂x uses rot180(W); released: it uses W unrotated"
        self.analytic = self.with_rotation if self.rotate else self.without_rotation
        self.error = self.rotation_error if self.rotate else self.unrotated_error
        self.agrees = self.error < self.tolerance
        self.readout_html = self.readout_text = self._describe()
        self.refresh()

    def _describe(self):
        formula = "full correlation of δ with rot180(W)" if self.rotate else "full correlation of δ with W (no rotation)"
        verdict = "✓ agrees with" if self.agrees else "✗ disagrees with"
        return (f"∂L/∂x as the {formula}: rel_error = {self.error:.2e} "
                f"→ <b>{verdict}</b> the numerical gradient")

    def _build(self):
        fig = new_figure((9, 3.4))
        return fig, [MatrixPanel(ax, fmt="{:.2f}") for ax in fig.subplots(1, 3)]

    def _paint(self, panels):
        diff = self.analytic - self.numerical
        lim = max(np.abs(self.analytic).max(), np.abs(self.numerical).max())
        name = "δ ⋆ rot180(W)" if self.rotate else "δ ⋆ W (not rotated)"
        panels[0].draw(self.analytic, title=f"formula:\n{name}", vlim=lim)
        panels[1].draw(self.numerical, title="numerical\n(central differences)", vlim=lim)
        # tiny differences are written in units of 10^e, so each number fits its cell; the colour keeps the true
        # scale (vlim = lim), so rounding noise stays white
        biggest = np.abs(diff).max()
        e = int(np.floor(np.log10(biggest))) if biggest > 0 else 0
        unit = 10.0 ** e if e < -2 else 1.0
        scale_note = f" (in units of 1e{e})" if unit != 1.0 else ""
        panels[2].draw(diff / unit + 0.0, title=f"difference{scale_note}\nrel_error = {self.error:.1e}",
                       vlim=lim / unit, highlight=np.abs(diff) > 1e-6, highlight_color="black",
                       fmt="{:.1f}" if unit != 1.0 else "{:.2g}")

    def alt_text(self):
        how = "with" if self.rotate else "without"
        verdict = "agree" if self.agrees else "disagree"
        return (f"Three panels: ∂L/∂x from the formula {how} the 180° rotation of W, the numerical gradient, and "
                f"their difference; they {verdict} (rel_error {self.error:.1e}).")

    def _make_widget(self):
        return ipywidgets.VBox([self.toggle, self.view])


def flip_or_not(x, W, delta, *, rotate=True, show=True):
    """Toggle the 180° rotation in ∂L/∂x and compare with the numerical gradient.

    x: (H, W); W: (KH, KW) (choose it non-symmetric, or both answers agree); delta: (H - KH + 1, W - KW + 1).
    With ``show`` it displays the interactive widget (one output, with a PNG of the starting state for front ends
    without a kernel).
    Returns the FlipOrNot.
    CSS classes: cnnlib-flip-toggle (ToggleButton, pressed = rotate), cnnlib-flip-readout (HTML: "rel_error = ..."
    and "✓ agrees" or "✗ disagrees").
    """
    obj = FlipOrNot(x, W, delta, rotate)
    if show:
        _show(obj)
    return obj
