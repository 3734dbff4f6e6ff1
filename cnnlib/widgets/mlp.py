"""Delta-rule widget (notebook 01): pick a hidden neuron and see how its delta is made.

Equation BP2, for neuron j of hidden layer l:

    δ^l[j] = (Σ_k W^{l+1}[k, j] · δ^{l+1}[k]) · σ'(z^l[j])

The widget runs one example through a cnnlib Sequential of Dense and activation layers with a
MeanSquaredError cost, reads every z, a and δ from cnnlib's own forward and backward passes, and shows the terms
W·δ, their sum, σ'(z) and the resulting δ.
"""

import ipywidgets as ipw
import numpy as np

from ..layers import Dense
from ..losses import MeanSquaredError
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, LiveFigure, new_figure, tag

__all__ = ["delta_rule", "DeltaRule"]

_NAME = "deltarule"
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sup(l):
    return str(l).translate(_SUP)


class DeltaRule(LiveFigure):
    name = _NAME

    """State of the widget, in plain attributes that tests read.

    Layers are numbered as in notebook 01: a⁰ = x, and Dense layer l (l = 1..L) computes z^l = W^l a^{l-1} + b^l.
    z, a, delta, sigma_prime: dicts {l: array (n_l,)}; W: {l: array (n_l, n_{l-1})}.
    layer, neuron: the selected hidden neuron (1 <= layer < L). terms: list of (k, W^{l+1}[k, j], δ^{l+1}[k],
    product); total: their sum; sp: σ'(z^l[j]); value: δ^l[j] = total · sp. readout_text: what the readout shows.

    Fixed when the widget is made (the dropdowns never change them, so a notebook's checks can read them):
    start: the opening (layer, neuron); start_value: its δ^l[j]; start_terms, start_readout: its terms and readout.
    """

    def __init__(self, model, x, y, layer=1, neuron=0):
        layers = list(getattr(model, "layers", model))
        if len(layers) < 4 or len(layers) % 2 or not all(isinstance(layer, Dense) == (i % 2 == 0)
                                                         for i, layer in enumerate(layers)):
            names = [type(layer).__name__ for layer in layers]
            raise ValueError("delta_rule expected a Sequential alternating Dense and activation layers, with at least "
                             f"one hidden layer (Dense, act, Dense, act, ...), got {names}")
        self.layers = layers
        self.L = len(layers) // 2
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        y = np.asarray(y, dtype=np.float64).reshape(1, -1)
        self.x, self.y = x[0], y[0]
        self._run(x, y)
        self._quiet = False

        self.layer_dropdown = tag(ipw.Dropdown(options=[(f"hidden layer {l}", l) for l in range(1, self.L)],
                                               value=1, description="layer l"), _NAME, "layer")
        self.neuron_dropdown = tag(ipw.Dropdown(options=self._neuron_options(1), value=0, description="neuron j"),
                                   _NAME, "neuron")
        self.layer_dropdown.observe(self._on_layer, names="value")
        self.neuron_dropdown.observe(self._changed, names="value")
        # a layer dropdown with one option could change nothing: with one hidden layer, show only the neurons
        controls = [self.layer_dropdown, self.neuron_dropdown] if self.L > 2 else [self.neuron_dropdown]
        self.widget = ipw.VBox([ipw.HBox(controls), self.view])
        self.select(layer, neuron)
        self.start, self.start_value = (layer, neuron), self.value
        self.start_terms, self.start_readout = list(self.terms), self.readout_text

    # ---- the numbers, all taken from cnnlib's forward and backward -------------------------------------
    def _run(self, x, y):
        self.z, self.a, self.W, self.delta, self.sigma_prime = {}, {0: x[0]}, {}, {}, {}
        out = x
        for idx, layer in enumerate(self.layers):
            out = layer.forward(out)
            l = idx // 2 + 1
            if idx % 2 == 0:
                self.z[l], self.W[l] = out[0], layer.params["W"]
            else:
                self.a[l] = out[0]
        loss = MeanSquaredError()
        self.cost = loss.forward(out, y)
        dout = loss.backward()
        for idx in reversed(range(len(self.layers))):
            dout = self.layers[idx].backward(dout)
            if idx % 2 == 1:  # just went back through an activation: dout is now ∂L/∂z, the delta
                self.delta[idx // 2 + 1] = dout[0]
        for l in range(1, self.L + 1):
            act = self.layers[2 * l - 1]
            self.sigma_prime[l] = act.backward(np.ones((1, self.z[l].size)))[0]  # σ'(z^l), element-wise

    def _neuron_options(self, l):
        return [(f"neuron {j}", j) for j in range(self.z[l].size)]

    def _changed(self, _=None):
        if not self._quiet:
            self.update()

    def _on_layer(self, change):
        quiet, self._quiet = self._quiet, True
        self.neuron_dropdown.options = self._neuron_options(change["new"])  # resets the neuron to 0
        self.neuron_dropdown.value = 0
        self._quiet = quiet
        self._changed()

    @property
    def layer(self):
        return self.layer_dropdown.value

    @property
    def neuron(self):
        return self.neuron_dropdown.value

    def select(self, layer, neuron):
        """Select neuron ``neuron`` of hidden layer ``layer`` (what the two dropdowns do)."""
        if not 1 <= layer < self.L:
            raise ValueError(f"delta_rule: hidden layers are 1..{self.L - 1}, got {layer}")
        if not 0 <= neuron < self.z[layer].size:
            raise ValueError(f"delta_rule: layer {layer} has neurons 0..{self.z[layer].size - 1}, got {neuron}")
        self._quiet = True
        self.layer_dropdown.value = layer
        self.neuron_dropdown.value = neuron
        self._quiet = False
        self.update()

    def update(self):
        l, j = self.layer, self.neuron
        W_next, d_next = self.W[l + 1], self.delta[l + 1]
        self.terms = [(k, float(W_next[k, j]), float(d_next[k]), float(W_next[k, j] * d_next[k]))
                      for k in range(d_next.size)]
        self.total = sum(t[3] for t in self.terms)
        self.sp = float(self.sigma_prime[l][j])
        self.value = self.total * self.sp
        L1, Lc = _sup(l + 1), _sup(l)
        lines = [f"δ{Lc}[{j}] = (Σ_k W{L1}[k,{j}] · δ{L1}[k]) · σ'(z{Lc}[{j}])"]
        lines += [f"k={k}: W{L1}[{k},{j}] · δ{L1}[{k}] = {w:.4f} × {d:.6f} = {p:.6f}" for k, w, d, p in self.terms]
        lines += [f"sum = {self.total:.6f}",
                  f"σ'(z{Lc}[{j}]) = {self.sp:.6f}   (z{Lc}[{j}] = {self.z[l][j]:.4f})",
                  f"δ{Lc}[{j}] = {self.total:.6f} × {self.sp:.6f} = {self.value:.6f}"]
        self.readout_text = "\n".join(lines)
        self.readout_html = "<pre>" + self.readout_text + "</pre>"
        self.refresh()

    # ---- drawing ----------------------------------------------------------------------------------------
    def _layout_key(self):
        return self.layer  # the number of terms (bars, thick edges) is the size of layer l + 1

    def _build(self):
        """The network (grey edges, nodes with every δ written in) and the bar chart, with the artists that the
        selection changes: node colours, the thick edges and their labels, the bars and their values."""
        l = self.layer
        fig = new_figure((9, 4.2))
        ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        sizes = [self.x.size] + [self.z[m].size for m in range(1, self.L + 1)]
        pos = {(m, k): (m, (n - 1) / 2 - k) for m, n in enumerate(sizes) for k in range(n)}
        for m in range(1, self.L + 1):
            for k in range(sizes[m]):
                for i in range(sizes[m - 1]):
                    (x0, y0), (x1, y1) = pos[(m - 1, i)], pos[(m, k)]
                    ax.plot([x0, x1], [y0, y1], color="0.85", lw=0.8, zorder=1)
        nodes = {}
        for (m, k), (px, py) in pos.items():
            nodes[(m, k)] = ax.scatter([px], [py], s=1300, color="white", edgecolor="black", zorder=3)
            label = f"x{k}" if m == 0 else f"{self.delta[m][k]:.3f}"
            ax.text(px, py, label, ha="center", va="center", fontsize=MIN_FONT_PT, zorder=5)
        n_next = sizes[l + 1]
        edges = [ax.plot([0, 0], [0, 0], zorder=2)[0] for _ in range(n_next)]
        # each edge's label sits just right of the node it reaches (24 pt from its centre, past its 18 pt
        # radius), never on a node or on another label
        labels = [ax.annotate("", xy=pos[(l + 1, k)], xytext=(24, 0), textcoords="offset points", ha="left",
                              va="center", fontsize=MIN_FONT_PT, zorder=4,
                              bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
                  for k in range(n_next)]
        ax.set_xticks(range(self.L + 1), ["input"] + [f"layer {m}\nδ{_sup(m)}" for m in range(1, self.L + 1)],
                      fontsize=MIN_FONT_PT + 1)
        ax.set_yticks([])
        ax.set_xlim(-0.4, self.L + 1.0)  # room for the labels right of the last layer
        ax.set_ylim(-max(sizes) / 2, max(sizes) / 2)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)

        rows = list(range(n_next + 2))[::-1]
        bars = bx.barh(rows, [0.0] * len(rows))
        L1 = _sup(l + 1)
        bx.set_yticks(rows, [f"W{L1}[{k},·]·δ{L1}[{k}]" for k in range(n_next)] + ["sum", "sum × σ'(z) = δ"],
                      fontsize=MIN_FONT_PT + 1)
        bx.tick_params(axis="x", labelsize=MIN_FONT_PT)
        bx.axvline(0, color="black", lw=0.8)
        values = [bx.text(0, r, "", va="center", fontsize=MIN_FONT_PT) for r in rows]
        return fig, {"ax": ax, "bx": bx, "pos": pos, "nodes": nodes, "edges": edges, "labels": labels,
                     "bars": bars, "values": values, "rows": rows}

    def _paint(self, parts):
        l, j = self.layer, self.neuron
        ax, bx, pos = parts["ax"], parts["bx"], parts["pos"]
        for (m, k), node in parts["nodes"].items():
            node.set_facecolor("tab:orange" if (m, k) == (l, j) else ("lightblue" if m == l + 1 else "white"))
        biggest = max(abs(t[3]) for t in self.terms) or 1.0
        for (k, w, d, p), edge, label in zip(self.terms, parts["edges"], parts["labels"]):
            (x0, y0), (x1, y1) = pos[(l, j)], pos[(l + 1, k)]
            edge.set_data([x0, x1], [y0, y1])
            edge.set_color("tab:red" if p < 0 else "tab:blue")
            edge.set_linewidth(1 + 4 * abs(p) / biggest)
            label.set_text(f"{w:.2f}×({d:.3f})")
        ax.set_title(f"δ{_sup(l)}[{j}] collects the deltas of layer {l + 1},\nweighted by W{_sup(l + 1)}[:, {j}]",
                     fontsize=TITLE_FONT_PT)
        L1 = _sup(l + 1)
        bx.set_yticklabels([f"W{L1}[{k},{j}]·δ{L1}[{k}]" for k, *_ in self.terms] + ["sum", "sum × σ'(z) = δ"])
        values = [t[3] for t in self.terms] + [self.total, self.value]
        colours = ["tab:red" if t[3] < 0 else "tab:blue" for t in self.terms] + ["0.4", "tab:orange"]
        for bar, text, r, v, colour in zip(parts["bars"], parts["values"], parts["rows"], values, colours):
            bar.set_width(v)
            bar.set_color(colour)
            text.set_position((v, r))
            text.set_text(f" {v:.4f} ")
            text.set_horizontalalignment("left" if v >= 0 else "right")
        bx.set_title(f"σ'(z{_sup(l)}[{j}]) = {self.sp:.4f}", fontsize=TITLE_FONT_PT)
        lim = max(abs(v) for v in values) or 1.0
        bx.set_xlim(-1.6 * lim, 1.6 * lim)

    def alt_text(self):
        l, j = self.layer, self.neuron
        return (f"The network with every delta written in and neuron {j} of hidden layer {l} selected, beside a bar "
                f"chart of its terms W·δ, their sum {self.total:.4f} and δ = sum × σ'(z) = {self.value:.4f}.")



def delta_rule(model, x, y, *, layer=1, neuron=0, show=True):
    """Pick a hidden neuron and see the weighted sum of next-layer deltas that makes its delta (BP2).

    model: a cnnlib Sequential alternating Dense and activation layers (Dense, Sigmoid, Dense, Sigmoid, ...),
    at least one hidden layer. x: one input (n_0,) or (1, n_0); y: its target (n_L,) or (1, n_L); the cost is
    MeanSquaredError. The model's forward and backward run once on (x, y); its parameters are not changed.
    Shows the interactive widget as one output, with a PNG of the starting selection for front ends without a
    kernel (unless show=False); returns the DeltaRule object. The layer dropdown appears only when the net has
    more than one hidden layer.
    """
    rule = DeltaRule(model, x, y, layer=layer, neuron=neuron)
    if show:
        rule.show(rule.widget)
    return rule
