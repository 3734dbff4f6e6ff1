"""Sliding-window widget for notebook 03: correlation and convolution, one output position at a time.

``sliding_window(x, k)`` shows the (zero-padded) input with the current window outlined, the kernel as it is
applied (as given for a correlation, rotated by 180 degrees for a convolution), the element-wise products and
their sum, which is one entry of the output. A slider steps through the output positions, a dropdown picks the
mode and a toggle flips the kernel.

    correlation   out[i, j] = Σ_u Σ_v x_pad[i + u, j + v] · k[u, v]
    convolution   out[i, j] = Σ_u Σ_v x_pad[i + u, j + v] · rot180(k)[u, v]
"""

import html

import ipywidgets
import numpy as np

from ..signal import MODES, output_size, pad2d, rot180
from ._draw import LiveFigure, MatrixPanel, new_figure, show_toggle_state, show_widget, tag

__all__ = ["sliding_window", "SlidingWindow"]


def _padding(KH, KW, mode, flipped):
    """Zero padding (top, bottom, left, right) that turns the requested mode into a 'valid' sweep.

    'same' keeps the centre of 'full'. For an even kernel the centre is ambiguous: scipy (and cnnlib.signal)
    drop K // 2 rows of 'full' at the top for a correlation but (K - 1) // 2 for a convolution.
    """
    if mode == "valid":
        return (0, 0, 0, 0)
    if mode == "full":
        return (KH - 1, KH - 1, KW - 1, KW - 1)
    drop = (lambda K: (K - 1) // 2) if flipped else (lambda K: K // 2)
    top, left = KH - 1 - drop(KH), KW - 1 - drop(KW)
    return (top, KH - 1 - top, left, KW - 1 - left)


def _sweep(x_pad, kernel, out_shape):
    """The whole output, one window at a time: out[i, j] = Σ (window at (i, j)) · kernel."""
    KH, KW = kernel.shape
    out = np.empty(out_shape)
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            out[i, j] = np.sum(x_pad[i:i + KH, j:j + KW] * kernel)
    return out


class SlidingWindow(LiveFigure):
    """State of the sliding-window widget. Read these attributes after changing a control:

    mode, flipped          the current mode ("valid"/"full"/"same") and whether the kernel is rotated
    pad                    (top, bottom, left, right) zero padding of x for this mode
    x_pad                  the padded input (H + top + bottom, W + left + right)
    kernel                 the kernel as applied: k, or rot180(k) when flipped
    out                    the whole output (H_out, W_out) for this mode and flip
    step, position         the step index (row-major) and the output position (i, j)
    window_mask            bool (x_pad.shape): the cells under the kernel
    window, products       the input values under the kernel and window * kernel (KH, KW)
    total                  the sum of the products, equal to out[i, j]
    readout_text           the text shown in the readout
    """

    name = "sliding"

    def __init__(self, x, k, mode="valid"):
        self.x = np.asarray(x, dtype=np.float64)
        self.k = np.asarray(k, dtype=np.float64)
        if self.x.ndim != 2 or self.k.ndim != 2:
            raise ValueError(f"sliding_window expected x (H, W) and k (KH, KW), got shapes {self.x.shape} and "
                             f"{self.k.shape}")
        if mode not in MODES:
            raise ValueError(f"sliding_window expected mode to be one of {MODES}, got {mode!r}")
        fits = self.k.shape[0] <= self.x.shape[0] and self.k.shape[1] <= self.x.shape[1]
        if mode == "valid" and not fits:
            raise ValueError(f"sliding_window: a {self.k.shape} kernel does not fit in x of shape {self.x.shape} "
                             "in 'valid' mode")
        modes = [m for m in MODES if fits or m != "valid"]  # 'valid' has no positions for a larger kernel

        self.mode_dropdown = tag(ipywidgets.Dropdown(options=modes, value=mode, description="mode"),
                                 self.name, "mode")
        self.flip_toggle = tag(ipywidgets.ToggleButton(value=False, description="flip the kernel (convolution)",
                                                       layout=ipywidgets.Layout(width="auto")),
                               self.name, "flip")
        # the slider counts steps from 1, as the readout does ("step 4 of 20"); self.step is the 0-based index
        self.step_slider = tag(ipywidgets.IntSlider(value=1, min=1, max=1, description="step",
                                                    continuous_update=False),
                               self.name, "step")
        self._quiet = False  # True while mode/flip reset the slider, so update() runs once per change

        self._set_geometry()
        self.update()
        self.mode_dropdown.observe(self._on_mode, names="value")
        self.flip_toggle.observe(self._on_flip, names="value")
        self.step_slider.observe(self._on_step, names="value")

    # ---- controls ----------------------------------------------------------------------------------------
    @property
    def mode(self):
        return self.mode_dropdown.value

    @property
    def flipped(self):
        return bool(self.flip_toggle.value)

    @property
    def step(self):
        """The current output position as a row-major index from 0 (the slider shows it from 1)."""
        return self.step_slider.value - 1

    def _set_geometry(self):
        """Padding, padded input, kernel, output size: everything that depends on mode and flip only."""
        KH, KW = self.k.shape
        self.pad = _padding(KH, KW, self.mode, self.flipped)
        self.x_pad = pad2d(self.x, self.pad)
        self.kernel = rot180(self.k) if self.flipped else self.k
        self.out_shape = (output_size(self.x.shape[0], KH, self.mode), output_size(self.x.shape[1], KW, self.mode))
        n_steps = self.out_shape[0] * self.out_shape[1]
        # clamp the value before lowering max, so the slider never holds a step that does not exist
        self.step_slider.value = min(self.step_slider.value, n_steps)
        self.step_slider.max = n_steps

    def _on_step(self, change):
        if not self._quiet:
            self.update()

    def _on_mode(self, change):
        self._quiet = True
        try:
            self._set_geometry()
        finally:
            self._quiet = False
        self.update()

    _on_flip = _on_mode

    # ---- state ---------------------------------------------------------------------------------------------
    def update(self):
        """Recompute the state for the current controls, refresh the readout and (when shown) the figure."""
        KH, KW = self.k.shape
        i, j = divmod(self.step, self.out_shape[1])
        self.position = (i, j)
        self.window_mask = np.zeros(self.x_pad.shape, dtype=bool)
        self.window_mask[i:i + KH, j:j + KW] = True
        self.window = self.x_pad[i:i + KH, j:j + KW].copy()
        self.products = self.window * self.kernel
        self.total = float(self.products.sum())
        self.out = _sweep(self.x_pad, self.kernel, self.out_shape)
        show_toggle_state(self.flip_toggle, "flip the kernel (convolution)")
        self.readout_html = self.readout_text = self._describe()
        self.refresh()

    @property
    def operation(self):
        return "convolution" if self.flipped else "correlation"

    def _describe(self):
        i, j = self.position
        symbol = "x * k" if self.flipped else "x ⋆ k"
        kernel = "kernel rotated by 180°" if self.flipped else "kernel as given"
        terms = " + ".join(f"({a:.2f})·({b:.2f})" for a, b in zip(self.window.ravel(), self.kernel.ravel()))
        n_steps = self.out_shape[0] * self.out_shape[1]
        return (f"<b>{self.operation}</b> {html.escape(symbol)} ({kernel}), mode '{self.mode}'<br>"
                f"position ({i}, {j}), step {self.step + 1} of {n_steps}<br>"
                f"{terms}<br>"
                f"<b>sum = {self.total:.4f}</b> = out[{i}, {j}]")

    # ---- drawing -------------------------------------------------------------------------------------------
    def _row(self, flipped):
        """What one operation shows at the current position: padded input, kernel, products, output (+ masks)."""
        KH, KW = self.k.shape
        pad = _padding(KH, KW, self.mode, flipped)
        x_pad = pad2d(self.x, pad)
        kernel = rot180(self.k) if flipped else self.k
        i, j = self.position
        mask = np.zeros(x_pad.shape, dtype=bool)
        mask[i:i + KH, j:j + KW] = True
        products = x_pad[i:i + KH, j:j + KW] * kernel + 0.0  # + 0.0 turns -0.0 into 0.0 for display
        out = _sweep(x_pad, kernel, self.out_shape)
        out_mask = np.zeros(out.shape, dtype=bool)
        out_mask[i, j] = True
        name = "convolution x * k" if flipped else "correlation x ⋆ k"
        return [(x_pad, f"x zero-padded: top, bottom,\nleft, right = {pad}", mask),
                (kernel, "rot180(k)" if flipped else "k (as given)", None),
                (products, f"products\nsum = {products.sum():.4f}", None),
                (out, f"{name}\n'{self.mode}'", out_mask)]

    def _layout_key(self):
        return self.pad, self._both

    _both = False

    def _build(self):
        rows = 2 if self._both else 1
        fig = new_figure((9, 3.0 * rows))
        axes = fig.subplots(rows, 4, squeeze=False, gridspec_kw={"width_ratios": [1.4, 0.6, 0.6, 1.2]})
        return fig, [[MatrixPanel(ax) for ax in row] for row in axes]

    def _paint(self, panels):
        flips = [False, True] if self._both else [self.flipped]
        for row, flipped in zip(panels, flips):
            for panel, (a, title, mask) in zip(row, self._row(flipped)):
                panel.draw(a, title=title, highlight=mask)

    def _arrange(self, fig):
        fig.tight_layout(h_pad=2.0)  # room between a row's tick labels and the titles of the row below

    def figure(self, both=False):
        """A matplotlib figure of the current position: the current operation, or both (rows) when ``both``."""
        self._both = both
        try:
            return self._make()[0]
        finally:
            self._both = False

    def alt_text(self, both=False):
        i, j = self.position
        ops = "correlation (top) and convolution (bottom)" if both else f"the {self.operation}"
        return (f"Kernel at output position ({i}, {j}) in mode '{self.mode}' for {ops}: the zero-padded input with "
                f"the window outlined, the kernel, the products and the output map.")

    def widget(self):
        """The interactive layout: controls, readout and the figure area."""
        return ipywidgets.VBox([ipywidgets.HBox([self.mode_dropdown, self.flip_toggle]), self.step_slider,
                                self.view])


def sliding_window(x, k, mode="valid", *, step=0, show=True):
    """Step a kernel across x position by position; toggle the flip to turn a correlation into a convolution.

    x: (H, W); k: (KH, KW); mode: "valid", "full" or "same"; step: the starting output position (row-major).
    With ``show`` (the default) it displays the interactive widget as one output; front ends without a kernel
    (GitHub, the HTML export) show its PNG fallback instead: the starting position, correlation and convolution. Returns the SlidingWindow.
    CSS classes: cnnlib-sliding-step (slider), cnnlib-sliding-mode (dropdown), cnnlib-sliding-flip (toggle),
    cnnlib-sliding-readout (HTML: operation, position, the products and "sum = ...").
    """
    w = SlidingWindow(x, k, mode)
    w.step_slider.value = step + 1
    if show:
        w._live = True
        w.render()
        show_widget(w.widget(), w.figure(both=True), w.alt_text(both=True))
    return w
