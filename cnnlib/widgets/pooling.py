"""Pooling routing widget (notebook 07): click a pooled output and see where its gradient goes.

Max pooling sends the whole gradient to the window's winner; average pooling gives each of the k² cells of
the window an equal 1/k² share. Everything shown is computed by cnnlib's MaxPool2D / AvgPool2D.
"""

import ipywidgets as W
import numpy as np
from matplotlib.patches import Rectangle

from ..layers import AvgPool2D, MaxPool2D
from ._draw import LiveFigure, MatrixPanel, new_figure, tag

__all__ = ["pooling_routing", "PoolingRouting"]

_NAME = "pooling"
_MODES = {"max": MaxPool2D, "average": AvgPool2D}


class PoolingRouting(LiveFigure):
    """State of the widget, in plain attributes that tests read.

    x (H, W): the input. mode: "max" or "average". selected: (i, j), the clicked output.
    out (H_out, W_out): the pooled output. window (H, W) bool: the cells of the selected window.
    dx (H, W): the gradient that a unit gradient on out[i, j] sends back (∂out[i, j]/∂x).
    winner: (r, s) of the max-pool winner, or None in average mode. readout_text: what the readout shows.
    """

    name = _NAME

    def __init__(self, x, kernel_size=2, stride=None, mode="max"):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"pooling_routing expected x of shape (H, W), got {x.shape}")
        if mode not in _MODES:
            raise ValueError(f"pooling_routing expected mode 'max' or 'average', got {mode!r}")
        self.x = x
        self.kernel_size = int(kernel_size)
        self.stride = self.kernel_size if stride is None else int(stride)
        H_out, W_out = MaxPool2D(self.kernel_size, self.stride).forward(x[None, None]).shape[2:]
        self.selected = (0, 0)

        self.mode_toggle = tag(W.ToggleButtons(options=list(_MODES), value=mode, description="pooling"), _NAME, "mode")
        self.buttons = {}
        for i in range(H_out):
            for j in range(W_out):
                b = tag(W.Button(layout=W.Layout(width="64px", height="32px"), tooltip=f"out[{i},{j}]"),
                        _NAME, f"out-{i}-{j}")
                b.on_click(lambda _, ij=(i, j): self.select(*ij))
                self.buttons[(i, j)] = b
        self.grid = W.GridBox(list(self.buttons.values()),
                              layout=W.Layout(grid_template_columns=f"repeat({W_out}, 68px)"))
        self.mode_toggle.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([self.mode_toggle,
                              W.HTML("Click a pooled output:"), self.grid,
                              self.view])
        self.update()

    @property
    def mode(self):
        return self.mode_toggle.value

    def select(self, i, j):
        """Select the pooled output out[i, j] (what clicking its button does)."""
        if (i, j) not in self.buttons:
            raise ValueError(f"pooling_routing has outputs {max(self.buttons)} at most, got ({i}, {j})")
        self.selected = (i, j)
        self.update()

    def update(self):
        layer = _MODES[self.mode](self.kernel_size, self.stride)
        self.out = layer.forward(self.x[None, None])[0, 0]
        i, j = self.selected
        dout = np.zeros_like(self.out)
        dout[i, j] = 1.0  # a unit gradient on the chosen output: dx is then ∂out[i, j]/∂x
        self.dx = layer.backward(dout[None, None])[0, 0]

        k, s = self.kernel_size, self.stride
        rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
        self.window = np.zeros(self.x.shape, dtype=bool)
        self.window[rows, cols] = True
        value = f"out[{i},{j}] = {self.out[i, j]:.2f}"
        if self.mode == "max":
            r, c = (int(v) for v in np.argwhere(self.dx != 0)[0])
            self.winner = (r, c)
            self.readout_text = (f"max pool: {value} comes from x[{r},{c}]; "
                                 f"gradient {self.dx[r, c]:.1f} goes to x[{r},{c}]")
        else:
            self.winner = None
            self.readout_text = (f"average pool: {value} is the mean of x[{rows.start}:{rows.stop}, "
                                 f"{cols.start}:{cols.stop}]; each of the {k * k} inputs gets "
                                 f"{self.dx[rows, cols][0, 0]:.4g}")
        self.readout_html = f"<b>{self.readout_text}</b>"
        for (a, b), button in self.buttons.items():
            button.description = f"{self.out[a, b]:.2f}"
            button.button_style = "warning" if (a, b) == self.selected else ""
        self.refresh()

    def _build(self):
        fig = new_figure((9, 3.4))
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [self.x.shape[1], self.out.shape[1], self.x.shape[1]]})
        winner = axes[0].add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:green", linewidth=3.5,
                                             zorder=4))
        return fig, ([MatrixPanel(ax) for ax in axes], winner)

    def _paint(self, parts):
        """x with the window (and the winner), the pooled output, the routed dx."""
        (x_panel, out_panel, dx_panel), winner = parts
        i, j = self.selected
        light = 2 * (np.abs(self.x).max() or 1.0)  # a wider colour range keeps the cells pale and the digits legible
        title = "input x\n(window outlined)"
        if self.winner is not None:
            r, c = self.winner
            winner.set_xy((c - 0.5, r - 0.5))
            title = "input x\n(window; winner in green)"
        winner.set_visible(self.winner is not None)
        x_panel.draw(self.x, title=title, highlight=self.window, vlim=light)
        sel = np.zeros(self.out.shape, dtype=bool)
        sel[i, j] = True
        out_panel.draw(self.out, title=f"{self.mode} pool\noutput", highlight=sel, vlim=light)
        dx_panel.draw(self.dx, title=f"gradient routed back\n∂out[{i},{j}]/∂x", highlight=self.dx != 0,
                      highlight_color="tab:green", vlim=2.0)

    def alt_text(self):
        return (f"Three grids for {self.mode} pooling: the input x with the window of out{list(self.selected)} "
                f"outlined, the pooled output, and the gradient that output sends back to x.")


def pooling_routing(x=None, kernel_size=2, stride=None, mode="max", *, show=True):
    """Click a pooled output to see which inputs it came from and where its gradient goes.

    x: (H, W) array (default: a seeded 6x6 example with values in [0, 1]); kernel_size, stride: the square
    pooling window and its step (stride defaults to kernel_size); mode: "max" or "average".
    Shows the interactive widget as one output, with a PNG of the starting state for front ends without a kernel
    (unless show=False); returns the PoolingRouting object.
    """
    if x is None:
        x = np.round(np.random.default_rng(6).uniform(0.0, 1.0, size=(6, 6)), 2)
    routing = PoolingRouting(x, kernel_size, stride, mode)
    if show:
        routing.show(routing.widget)
    return routing
