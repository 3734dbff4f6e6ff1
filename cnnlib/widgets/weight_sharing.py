"""Weight-sharing widget (notebook 02): which input pixels and which kernel entries meet in z = x ⋆ W.

Click an output pixel z[i, j]: its receptive field lights up in x, with the kernel entry each pixel is multiplied
by (one row of the dense matrix M). Click an input pixel x[p, q]: the outputs it feeds light up, with the kernel
entry used for each (one column of M). Read down a column and the kernel comes out rotated by 180°: that is the
rotation of the backward pass.
"""

import ipywidgets as ipw
import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..signal import correlate2d
from ..weight_sharing import conv_matrix, fan_out, receptive_field
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, LiveFigure, MatrixPanel, new_figure, tag, text_color

__all__ = ["weight_sharing", "WeightSharing"]

_NAME = "weightsharing"


def _num(v):
    return f"{v:g}" if float(v).is_integer() else f"{v:.2f}"


class WeightSharing(LiveFigure):
    """State of the widget, in plain attributes that tests read.

    x (H, W), W (KH, KW), z = correlate2d(x, W, "valid") (H_out, W_out), M = conv_matrix(W, x.shape).
    kind: "out" or "in" (which grid was clicked last); selected: its (row, column).
    links: list of ((i, j), (p, q), (u, v)): z[i, j] reads x[p, q] through W[u, v].
    in_mask (H, W), out_mask (H_out, W_out), kernel_mask (KH, KW): the highlighted cells.
    total: for an output pixel, the sum of the products (equals z[i, j]); None for an input pixel.
    readout_text: what the readout shows (monospace: products are written with ×, never with a dot that could
    be mistaken for the correlation sign ⋆).

    Fixed when the widget is made (clicks never change them, so a notebook's checks can read them):
    start: the opening selection (kind, row, column); start_links, start_total, start_readout: its links, sum
    and readout.
    """

    name = _NAME

    def __init__(self, x, W, select=("out", 0, 0)):
        self.x = np.asarray(x, dtype=np.float64)
        self.W = np.asarray(W, dtype=np.float64)
        if self.x.ndim != 2 or self.W.ndim != 2:
            raise ValueError(f"weight_sharing expected x (H, W) and W (KH, KW), got {self.x.shape} and {self.W.shape}")
        self.z = correlate2d(self.x, self.W, "valid")
        self.M = conv_matrix(self.W, self.x.shape)
        self.kind, self.selected = "out", (0, 0)

        self.out_buttons = self._grid("out", self.z)
        self.in_buttons = self._grid("in", self.x)
        H, Wd = self.x.shape
        H_out, W_out = self.z.shape
        self.widget = ipw.VBox([
            ipw.HBox([
                ipw.VBox([ipw.HTML(f"<b>input x</b> ({H}×{Wd}): click a pixel"), self._box(self.in_buttons, Wd)],
                         layout=ipw.Layout(margin="0 32px 0 0")),
                ipw.VBox([ipw.HTML(f"<b>output z = x ⋆ W</b>, the correlation ({H_out}×{W_out}): click a pixel"),
                          self._box(self.out_buttons, W_out)]),
            ]),
            self.view])
        self.select(*select)
        self.start = tuple(select)
        self.start_links, self.start_total, self.start_readout = list(self.links), self.total, self.readout_text

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
            names = " + ".join(f"x[{p},{q}] × W[{u},{v}]" for _, (p, q), (u, v) in self.links)
            numbers = " + ".join(f"{_num(self.x[p])} × {_num(self.W[w])}" for _, p, w in self.links)
            self.readout_text = (f"z[{i},{j}] = {names}\n        = {numbers}\n        = {_num(self.total)}"
                                 f"   (row {i * self.z.shape[1] + j} of M)")
        else:
            self.links = [(o, (i, j), w) for o, w in fan_out(i, j, self.W.shape, self.x.shape)]
            self.total = None
            feeds = "; ".join(f"z[{a},{b}] via W[{u},{v}]" for (a, b), _, (u, v) in self.links)
            self.readout_text = (f"x[{i},{j}] feeds {len(self.links)} output(s): {feeds}\n"
                                 f"backward: ∂L/∂x[{i},{j}] = " +
                                 " + ".join(f"δ[{a},{b}] × W[{u},{v}]" for (a, b), _, (u, v) in self.links) +
                                 f"   (column {i * self.x.shape[1] + j} of M)")
        self.in_mask = np.zeros(self.x.shape, dtype=bool)
        self.out_mask = np.zeros(self.z.shape, dtype=bool)
        self.kernel_mask = np.zeros(self.W.shape, dtype=bool)
        for o, p, w in self.links:
            self.out_mask[o] = self.in_mask[p] = self.kernel_mask[w] = True
        self.readout_html = "<pre>" + self.readout_text + "</pre>"
        for kind, buttons, mask in (("in", self.in_buttons, self.in_mask), ("out", self.out_buttons, self.out_mask)):
            for ij, b in buttons.items():
                b.button_style = "warning" if (kind, ij) == (self.kind, self.selected) else ("info" if mask[ij] else "")
        self.refresh()

    def _build(self):
        """x, W and z on top; below them the dense matrix M with its nonzero entries written in, a colour bar, and
        an outline (no fill: it must not change the colours it marks) for the row or column in use."""
        fig = new_figure((9, 7.4))
        grid = fig.add_gridspec(2, 3, width_ratios=[self.x.shape[1], self.W.shape[1] + 1, self.z.shape[1]],
                                height_ratios=[1, 1.25])
        panels = [MatrixPanel(fig.add_subplot(grid[0, k]), fmt="{:g}") for k in range(3)]
        ax_m = fig.add_subplot(grid[1, :])
        lim = np.abs(self.M).max() or 1.0
        image = ax_m.imshow(self.M, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        for (r, c), v in np.ndenumerate(self.M):
            if v != 0:  # the zeros (cut connections) stay blank, so the few shared weights stand out
                ax_m.text(c, r, _num(v), ha="center", va="center", fontsize=MIN_FONT_PT,
                          color=text_color(image.cmap(image.norm(v))))
        bar = fig.colorbar(image, ax=ax_m, fraction=0.03, pad=0.02)
        bar.set_label("entry of M (a weight of W, or 0)", fontsize=MIN_FONT_PT + 1)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
        outline = ax_m.add_patch(matplotlib.patches.Rectangle((0, 0), 1, 1, fill=False, edgecolor="black",
                                                              linewidth=2.5, zorder=5))
        ax_m.set_xlabel("input pixel p·W_in + q  (W_in = width of x)", fontsize=MIN_FONT_PT + 1)
        ax_m.set_ylabel("output pixel\ni·W_out + j", fontsize=MIN_FONT_PT + 1)
        ax_m.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.tick_params(labelsize=MIN_FONT_PT)
        return fig, {"panels": panels, "ax_m": ax_m, "outline": outline, "names": []}

    def _paint(self, parts):
        """x, W and z with the highlighted cells, the kernel entry beside each linked pixel, the row/column of M."""
        i, j = self.selected
        if self.kind == "out":
            titles = (f"x: the receptive field\nof z[{i},{j}]", "W: every entry\nis used",
                      f"z[{i},{j}] = {_num(self.total)}")
        else:
            titles = (f"x[{i},{j}]", "W: the entries\nit meets", f"z: the {len(self.links)} outputs\nit feeds")
        for panel, a, title, mask in zip(parts["panels"], (self.x, self.W, self.z), titles,
                                         (self.in_mask, self.kernel_mask, self.out_mask)):
            panel.draw(a, title=title, highlight=mask, vlim=2 * (np.abs(a).max() or 1.0))
        # write the kernel entry next to each linked pixel: in "in" mode they spell rot180(W) across z
        for text in parts["names"]:
            text.remove()
        ax_names = parts["panels"][0 if self.kind == "out" else 2].ax
        parts["names"] = []
        for o, p, (m, n) in self.links:
            r, c = p if self.kind == "out" else o
            parts["names"].append(ax_names.text(c, r + 0.3, f"W[{m},{n}]", ha="center", va="center",
                                                fontsize=MIN_FONT_PT, color="#6a1b9a", fontweight="bold"))
        ax_m, outline = parts["ax_m"], parts["outline"]
        rows, cols = self.M.shape
        if self.kind == "out":
            r = i * self.z.shape[1] + j
            outline.set_bounds(-0.5, r - 0.5, cols, 1)
            ax_m.set_title(f"M: row {r} (outlined) = the weights of z[{i},{j}]", fontsize=TITLE_FONT_PT)
        else:
            c = i * self.x.shape[1] + j
            outline.set_bounds(c - 0.5, -0.5, 1, rows)
            ax_m.set_title(f"M: column {c} (outlined) = the weights x[{i},{j}] meets", fontsize=TITLE_FONT_PT)

    def alt_text(self):
        i, j = self.selected
        if self.kind == "out":
            what = f"output z[{i},{j}] = {_num(self.total)} with its receptive field in x"
        else:
            what = f"input x[{i},{j}] with the {len(self.links)} outputs it feeds"
        return (f"The input x, the kernel W and the output z with {what}, and below them the dense matrix M of the "
                f"same convolution, its nonzero entries written in, with the row or column in use outlined.")


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
    widget = WeightSharing(x, W, select)
    if show:
        widget.show(widget.widget)
    return widget
