"""Weight-sharing widget (notebook 02): which input pixels and which kernel entries meet in z = x ⋆ W.

Click an output pixel z[i, j]: its receptive field lights up in x, with the kernel entry each pixel is multiplied
by (one row of the dense matrix M). Click an input pixel x[p, q]: the outputs it feeds light up, with the kernel
entry used for each (one column of M). Read down a column and the kernel comes out rotated by 180°: that is the
rotation of the backward pass.
"""

import ipywidgets as ipw
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..signal import correlate2d
from ..weight_sharing import conv_matrix, fan_out, receptive_field
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, draw_matrix, redraw, show_widget, tag

__all__ = ["weight_sharing", "WeightSharing"]

_NAME = "weightsharing"


def _num(v):
    return f"{v:g}" if float(v).is_integer() else f"{v:.2f}"


class WeightSharing:
    """State of the widget, in plain attributes that tests read.

    x (H, W), W (KH, KW), z = correlate2d(x, W, "valid") (H_out, W_out), M = conv_matrix(W, x.shape).
    kind: "out" or "in" (which grid was clicked last); selected: its (row, column).
    links: list of ((i, j), (p, q), (m, n)): z[i, j] reads x[p, q] through W[m, n].
    in_mask (H, W), out_mask (H_out, W_out), kernel_mask (KH, KW): the highlighted cells.
    total: for an output pixel, the sum of the products (equals z[i, j]); None for an input pixel.
    readout_text: what the readout shows.
    """

    def __init__(self, x, W):
        self.x = np.asarray(x, dtype=np.float64)
        self.W = np.asarray(W, dtype=np.float64)
        if self.x.ndim != 2 or self.W.ndim != 2:
            raise ValueError(f"weight_sharing expected x (H, W) and W (KH, KW), got {self.x.shape} and {self.W.shape}")
        self.z = correlate2d(self.x, self.W, "valid")
        self.M = conv_matrix(self.W, self.x.shape)
        self._live = False
        self.kind, self.selected = "out", (0, 0)

        self.out_buttons = self._grid("out", self.z)
        self.in_buttons = self._grid("in", self.x)
        self.readout = tag(ipw.HTML(), _NAME, "readout")
        self.output = ipw.Output()
        H, Wd = self.x.shape
        H_out, W_out = self.z.shape
        self.widget = ipw.VBox([
            ipw.HBox([
                ipw.VBox([ipw.HTML(f"<b>input x</b> ({H}×{Wd}): click a pixel"), self._box(self.in_buttons, Wd)],
                         layout=ipw.Layout(margin="0 32px 0 0")),
                ipw.VBox([ipw.HTML(f"<b>output z = x ⋆ W</b> ({H_out}×{W_out}): click a pixel"),
                          self._box(self.out_buttons, W_out)]),
            ]),
            self.readout, self.output])
        self.update()

    def _grid(self, kind, values):
        buttons = {}
        for (i, j), v in np.ndenumerate(values):
            name = "x" if kind == "in" else "z"
            b = tag(ipw.Button(description=_num(v), tooltip=f"{name}[{i},{j}]",
                               layout=ipw.Layout(width="46px", height="30px")), _NAME, f"{kind}-{i}-{j}")
            b.on_click(lambda _, k=kind, ij=(i, j): self.select(k, *ij))
            buttons[(i, j)] = b
        return buttons

    @staticmethod
    def _box(buttons, columns):
        return ipw.GridBox(list(buttons.values()), layout=ipw.Layout(grid_template_columns=f"repeat({columns}, 48px)"))

    def select(self, kind, i, j):
        """Select output pixel z[i, j] (kind "out") or input pixel x[i, j] (kind "in"): what a click does."""
        grid = {"out": self.z, "in": self.x}.get(kind)
        if grid is None:
            raise ValueError(f"weight_sharing: kind must be 'out' or 'in', got {kind!r}")
        if not (0 <= i < grid.shape[0] and 0 <= j < grid.shape[1]):
            raise ValueError(f"weight_sharing: {kind} pixel ({i}, {j}) is outside the {grid.shape} grid")
        self.kind, self.selected = kind, (i, j)
        self.update()

    def update(self):
        i, j = self.selected
        if self.kind == "out":
            self.links = [((i, j), p, w) for p, w in receptive_field(i, j, self.W.shape, self.x.shape)]
            self.total = float(sum(self.x[p] * self.W[w] for _, p, w in self.links))
            names = " + ".join(f"x[{p},{q}]·W[{m},{n}]" for _, (p, q), (m, n) in self.links)
            numbers = " + ".join(f"{_num(self.x[p])}·{_num(self.W[w])}" for _, p, w in self.links)
            self.readout_text = (f"z[{i},{j}] = {names}\n        = {numbers}\n        = {_num(self.total)}"
                                 f"   (row {i * self.z.shape[1] + j} of M)")
        else:
            self.links = [(o, (i, j), w) for o, w in fan_out(i, j, self.W.shape, self.x.shape)]
            self.total = None
            feeds = "; ".join(f"z[{a},{b}] via W[{m},{n}]" for (a, b), _, (m, n) in self.links)
            self.readout_text = (f"x[{i},{j}] feeds {len(self.links)} output(s): {feeds}\n"
                                 f"backward: ∂C/∂x[{i},{j}] = " +
                                 " + ".join(f"δ[{a},{b}]·W[{m},{n}]" for (a, b), _, (m, n) in self.links) +
                                 f"   (column {i * self.x.shape[1] + j} of M)")
        self.in_mask = np.zeros(self.x.shape, dtype=bool)
        self.out_mask = np.zeros(self.z.shape, dtype=bool)
        self.kernel_mask = np.zeros(self.W.shape, dtype=bool)
        for o, p, w in self.links:
            self.out_mask[o] = self.in_mask[p] = self.kernel_mask[w] = True
        self.readout.value = "<pre style='margin:0'>" + self.readout_text + "</pre>"
        for kind, buttons, mask in (("in", self.in_buttons, self.in_mask), ("out", self.out_buttons, self.out_mask)):
            for ij, b in buttons.items():
                b.button_style = "warning" if (kind, ij) == (self.kind, self.selected) else ("info" if mask[ij] else "")
        if self._live:
            self._redraw()

    def figure(self):
        """x, W and z with the highlighted cells, and the dense matrix M with the row or column in use."""
        # x, W, z on top; the dense matrix M below, as wide as the column allows
        fig = plt.figure(figsize=(9, 7.4))
        grid = fig.add_gridspec(2, 3, width_ratios=[self.x.shape[1], self.W.shape[1] + 1, self.z.shape[1]],
                                height_ratios=[1, 1.25])
        ax_x, ax_w, ax_z = (fig.add_subplot(grid[0, k]) for k in range(3))
        ax_m = fig.add_subplot(grid[1, :])
        i, j = self.selected
        if self.kind == "out":
            titles = (f"x: the receptive field\nof z[{i},{j}]", "W: every entry\nis used",
                      f"z[{i},{j}] = {_num(self.total)}")
        else:
            titles = (f"x[{i},{j}]", "W: the entries\nit meets", f"z: the {len(self.links)} outputs\nit feeds")
        for ax, a, title, mask in ((ax_x, self.x, titles[0], self.in_mask), (ax_w, self.W, titles[1], self.kernel_mask),
                                   (ax_z, self.z, titles[2], self.out_mask)):
            draw_matrix(ax, a, title=title, highlight=mask, fmt="{:g}", vlim=2 * (np.abs(a).max() or 1.0))
        # write the kernel entry next to each linked pixel: in "in" mode they spell rot180(W) across z
        ax_names = ax_x if self.kind == "out" else ax_z
        for o, p, (m, n) in self.links:
            r, c = p if self.kind == "out" else o
            ax_names.text(c, r + 0.3, f"W{m}{n}", ha="center", va="center", fontsize=MIN_FONT_PT, color="#6a1b9a",
                          fontweight="bold")
        lim = np.abs(self.M).max() or 1.0
        ax_m.imshow(self.M, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        if self.kind == "out":
            r = i * self.z.shape[1] + j
            ax_m.axhspan(r - 0.5, r + 0.5, color="tab:orange", alpha=0.35)
            ax_m.set_title(f"M: row {r} = the weights of z[{i},{j}]", fontsize=TITLE_FONT_PT)
        else:
            c = i * self.x.shape[1] + j
            ax_m.axvspan(c - 0.5, c + 0.5, color="tab:orange", alpha=0.35)
            ax_m.set_title(f"M: column {c} = the weights x[{i},{j}] meets", fontsize=TITLE_FONT_PT)
        ax_m.set_xlabel("input pixel p·W_in + q  (W_in = width of x)", fontsize=MIN_FONT_PT + 1)
        ax_m.set_ylabel("output pixel\ni·W_out + j", fontsize=MIN_FONT_PT + 1)
        ax_m.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.tick_params(labelsize=MIN_FONT_PT)
        fig.tight_layout()
        return fig

    def alt_text(self):
        i, j = self.selected
        if self.kind == "out":
            what = f"output z[{i},{j}] = {_num(self.total)} with its receptive field in x"
        else:
            what = f"input x[{i},{j}] with the {len(self.links)} outputs it feeds"
        return (f"The input x, the kernel W and the output z with {what}, and below them the dense matrix M of the "
                f"same convolution with the row or column in use shaded.")

    def _redraw(self):
        redraw(self.output, self.figure, self.alt_text)


def weight_sharing(x=None, W=None, *, select=("out", 1, 1), show=True):
    """Click an output pixel to see its receptive field and weights; click an input pixel to see what it feeds.

    x: (H, W) input (default: a 5x6 array of small integers); W: (KH, KW) kernel (default [[1, 2, 3], [4, 5, 6]],
    non-square and with distinct entries so every weight can be told apart). select: the starting selection,
    ("out", i, j) or ("in", p, q). Shows the interactive widget as one output, with a PNG of the starting state
    for front ends without a kernel (unless show=False); returns the WeightSharing object.
    """
    if x is None:
        x = np.random.default_rng(2).integers(0, 5, size=(5, 6))
    if W is None:
        W = np.array([[1, 2, 3], [4, 5, 6]])
    widget = WeightSharing(x, W)
    widget.select(*select)
    if show:
        widget._live = True
        widget._redraw()
        show_widget(widget.widget, widget.figure(), widget.alt_text())
    return widget
