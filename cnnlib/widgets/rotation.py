"""Widgets for notebook 04, the rotation proof. One channel, stride 1, forward z = x ⋆ W + b ('valid').

``delta_flow(x, W, delta)``: pick an input pixel x[r, c] and see the terms of its gradient,

    ∂C/∂x[r, c] = Σ_i Σ_j δ[i, j] · W[r - i, c - j]                (only the δ[i, j] whose window covered x[r, c])
                = Σ_m Σ_n δ_pad[r + m, c + n] · rot180(W)[m, n]    (δ zero-padded by KH-1, KW-1: a full correlation)

``flip_or_not(x, W, delta)``: compute ∂C/∂x as the full correlation of δ with rot180(W), or (toggle off) with
W itself, and compare with the numerical gradient from cnnlib.gradcheck.
"""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np

from ..gradcheck import numerical_gradient, rel_error
from ..signal import correlate2d, pad2d, rot180
from ._draw import draw_matrix, redraw, show_toggle_state, show_widget, tag

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


def _show(obj):
    """Display the widget once: its live view, with a PNG of the starting figure for front ends without a kernel."""
    obj._live = True
    obj._redraw()
    show_widget(obj.widget(), obj.figure(), obj.alt_text())


class _Live:
    """Redraw ``self.figure()`` into ``self.output`` when the widget is on screen."""

    _live = False

    def _redraw(self):
        redraw(self.output, self.figure, self.alt_text)

    def widget(self):
        if getattr(self, "_box", None) is None:
            self._box = self._make_widget()
        return self._box


# ============================================================================================ delta flow
class DeltaFlow(_Live):
    """State of the delta-flow widget. Read these attributes after moving the sliders:

    row, col        the chosen input pixel
    dx              the whole gradient ∂C/∂x (H, W): full correlation of δ with rot180(W)
    delta_pad       δ zero-padded by (KH-1, KW-1) on every side
    window_mask     bool (delta_pad.shape): the KH x KW window of δ_pad that meets rot180(W)
    delta_mask      bool (H_out, W_out): the δ entries that reach x[row, col]
    kernel_mask     bool (KH, KW): the entries W[m, n] they are multiplied with (unflipped coordinates)
    terms           list of (i, j, m, n, δ[i, j], W[m, n], product), one per contributing δ entry
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
        self.dx = correlate2d(self.delta, self.flipped, "full")  # notebook 04: ∂C/∂x = δ ⋆_full rot180(W)

        H, Wd = self.x.shape
        self.row_slider = tag(ipywidgets.IntSlider(value=row, min=0, max=H - 1, description="row",
                                                   continuous_update=False), self.name, "row")
        self.col_slider = tag(ipywidgets.IntSlider(value=col, min=0, max=Wd - 1, description="col",
                                                   continuous_update=False), self.name, "col")
        self.readout = tag(ipywidgets.HTML(), self.name, "readout")
        self.output = tag(ipywidgets.Output(), self.name, "figure")
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
                m, n = r - i, c - j
                self.delta_mask[i, j] = True
                self.kernel_mask[m, n] = True
                d, w = self.delta[i, j], self.W[m, n]
                self.terms.append((i, j, m, n, d, w, d * w))
        self.readout_text = self._describe()
        self.readout.value = self.readout_text
        if self._live:
            self._redraw()

    def _describe(self):
        r, c = self.row, self.col
        terms = "<br>".join(f"&nbsp;&nbsp;δ[{i}, {j}] · W[{m}, {n}] = ({d:.4f}) · ({w:.4f}) = {p:.4f}"
                            for i, j, m, n, d, w, p in self.terms)
        return (f"<b>∂C/∂x[{r}, {c}]</b> collects {len(self.terms)} term(s), one per output whose window "
                f"covered x[{r}, {c}]:<br>{terms}<br>"
                f"<b>sum = {self.total:.4f}</b> = dx[{r}, {c}]")

    def figure(self):
        """Six panels: x, δ padded with the window, W and rot180(W) with the entries used, products, dx."""
        r, c = self.row, self.col
        KH, KW = self.W.shape
        pixel = np.zeros(self.x.shape, dtype=bool)
        pixel[r, c] = True
        used_flipped = rot180(self.kernel_mask)
        # panel widths follow the number of columns, so that every cell is wide enough for "-0.80"
        widths = [self.x.shape[1], self.delta_pad.shape[1], self.dx.shape[1]]
        fig, axes = plt.subplots(2, 3, figsize=(9, 6), gridspec_kw={"width_ratios": widths})
        draw_matrix(axes[0, 0], self.x, title=f"input x, pixel ({r}, {c})", highlight=pixel, fmt="{:.2f}")
        draw_matrix(axes[0, 1], self.delta_pad, highlight=self.window_mask, fmt="{:.2f}",
                    title=f"δ zero-padded by ({KH - 1}, {KW - 1})\nwindow at ({r}, {c})")
        draw_matrix(axes[0, 2], self.dx, title=f"∂C/∂x = δ ⋆ rot180(W) (full)\ndx[{r}, {c}] = {self.total:.4f}",
                    highlight=pixel, fmt="{:.2f}")
        draw_matrix(axes[1, 0], self.W, title="W: entries used", highlight=self.kernel_mask, fmt="{:.2f}")
        draw_matrix(axes[1, 1], self.flipped, title="rot180(W), as it\nmeets the window", highlight=used_flipped,
                    fmt="{:.2f}")
        draw_matrix(axes[1, 2], self.products, title=f"window × rot180(W)\nsum = {self.total:.4f}", fmt="{:.2f}")
        fig.tight_layout()
        return fig

    def alt_text(self):
        return (f"Six panels for input pixel ({self.row}, {self.col}): the input x, δ zero-padded with the window "
                f"that meets rot180(W), the gradient ∂C/∂x, W and rot180(W) with the entries used, and the products, "
                f"which sum to dx[{self.row}, {self.col}] = {self.total:.4f}.")

    def _make_widget(self):
        return ipywidgets.VBox([ipywidgets.HBox([self.row_slider, self.col_slider]), self.readout, self.output])


def delta_flow(x, W, delta, *, row=None, col=None, show=True):
    """Choose an input pixel and see which δ entries and which (flipped) kernel entries make its gradient.

    x: (H, W) input of the forward z = x ⋆ W + b ('valid'); W: (KH, KW); delta: ∂C/∂z, (H - KH + 1, W - KW + 1).
    row, col: the starting pixel (default: the centre of x). With ``show`` it displays the interactive widget (one
    output, with a PNG of the starting pixel for front ends without a kernel). Returns the DeltaFlow.
    CSS classes: cnnlib-deltaflow-row, cnnlib-deltaflow-col (sliders), cnnlib-deltaflow-readout (HTML: the terms
    δ[i, j] · W[m, n] and "sum = <value to 4 decimals>", which equals dx[row, col]).
    """
    H, Wd = np.shape(x)
    obj = DeltaFlow(x, W, delta, H // 2 if row is None else row, Wd // 2 if col is None else col)
    if show:
        _show(obj)
    return obj


# ============================================================================================ flip or not
class FlipOrNot(_Live):
    """State of the flip-or-not widget. Read these attributes after toggling:

    rotate          True: ∂C/∂x = δ ⋆_full rot180(W) (right); False: δ ⋆_full W (the rotation forgotten)
    numerical       the central-difference gradient of C = Σ δ · (x ⋆ W) with respect to x (computed once)
    analytic        the formula's ∂C/∂x for the current toggle
    error           rel_error(analytic, numerical)
    agrees          error < tolerance (1e-7)
    readout_text    the text shown in the readout
    """

    name = "flip"
    tolerance = 1e-7

    def __init__(self, x, W, delta, rotate=True):
        self.x, self.W, self.delta = _check_shapes(x, W, delta, "flip_or_not")
        # C(x) = Σ δ · (x ⋆ W): its gradient with respect to x is exactly the ∂C/∂x that backprop passes on
        self.numerical = numerical_gradient(lambda v: correlate2d(v, self.W, "valid"), self.x.copy(), self.delta)
        self.toggle = tag(ipywidgets.ToggleButton(value=rotate, description="rotate W by 180°",
                                                  layout=ipywidgets.Layout(width="max-content")), self.name, "toggle")
        self.readout = tag(ipywidgets.HTML(), self.name, "readout")
        self.output = tag(ipywidgets.Output(), self.name, "figure")
        self.update()
        self.toggle.observe(lambda change: self.update(), names="value")

    @property
    def rotate(self):
        return bool(self.toggle.value)

    def update(self):
        # the pressed state is shown in words, icon and colour, not by a subtle shade alone
        show_toggle_state(self.toggle, "rotate W by 180°")
        self.toggle.tooltip = "pressed: ∂C/∂x uses rot180(W); released: it uses W unrotated"
        kernel = rot180(self.W) if self.rotate else self.W
        self.analytic = correlate2d(self.delta, kernel, "full")
        self.error = rel_error(self.analytic, self.numerical)
        self.agrees = self.error < self.tolerance
        self.readout_text = self._describe()
        self.readout.value = self.readout_text
        if self._live:
            self._redraw()

    def _describe(self):
        formula = "full correlation of δ with rot180(W)" if self.rotate else "full correlation of δ with W (no rotation)"
        verdict = "✓ agrees with" if self.agrees else "✗ disagrees with"
        return (f"∂C/∂x as the {formula}: rel_error = {self.error:.2e} "
                f"→ <b>{verdict}</b> the numerical gradient")

    def figure(self):
        diff = self.analytic - self.numerical
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
        lim = max(np.abs(self.analytic).max(), np.abs(self.numerical).max())
        name = "δ ⋆ rot180(W)" if self.rotate else "δ ⋆ W (not rotated)"
        draw_matrix(axes[0], self.analytic, title=f"formula:\n{name}", vlim=lim, fmt="{:.2f}")
        draw_matrix(axes[1], self.numerical, title="numerical\n(central differences)", vlim=lim, fmt="{:.2f}")
        # tiny differences are written in units of 10^e, so each number fits its cell; the colour keeps the true
        # scale (vlim = lim), so rounding noise stays white
        biggest = np.abs(diff).max()
        e = int(np.floor(np.log10(biggest))) if biggest > 0 else 0
        unit = 10.0 ** e if e < -2 else 1.0
        scale_note = f" (in units of 1e{e})" if unit != 1.0 else ""
        draw_matrix(axes[2], diff / unit + 0.0, title=f"difference{scale_note}\nrel_error = {self.error:.1e}",
                    vlim=lim / unit, highlight=np.abs(diff) > 1e-6, highlight_color="black", fmt="{:.1f}" if unit != 1.0 else "{:.2g}")
        fig.tight_layout()
        return fig

    def alt_text(self):
        how = "with" if self.rotate else "without"
        verdict = "agree" if self.agrees else "disagree"
        return (f"Three panels: ∂C/∂x from the formula {how} the 180° rotation of W, the numerical gradient, and "
                f"their difference; they {verdict} (rel_error {self.error:.1e}).")

    def _make_widget(self):
        return ipywidgets.VBox([self.toggle, self.readout, self.output])


def flip_or_not(x, W, delta, *, rotate=True, show=True):
    """Toggle the 180° rotation in ∂C/∂x and compare with the numerical gradient.

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
