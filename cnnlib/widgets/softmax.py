"""Softmax explorer (notebook 08): move the logits and the temperature, watch the probabilities and the
gradient of the cross-entropy.

With temperature T the probabilities are p = softmax(z / T), the cost is L = -log p[label], and the chain rule
gives ∂L/∂z = (p - y) / T (y the one-hot label). Everything is computed by cnnlib's SoftmaxCrossEntropy.
"""

import ipywidgets as W
import numpy as np

from ..losses import SoftmaxCrossEntropy
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, LiveFigure, new_figure, tag

__all__ = ["softmax_explorer", "SoftmaxExplorer"]

_NAME = "softmax"


def _fmt(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


class SoftmaxExplorer(LiveFigure):
    """State of the widget, in plain attributes that tests read.

    logits (Q,), Q classes, temperature, label: the inputs set by the controls. probs (Q,) = softmax(logits / T);
    grad (Q,) = ∂L/∂logits = (probs - onehot(label)) / T; loss = -log probs[label]; readout_text.
    grad_axis: the half-height of the gradient panel's axis, ±1 unless a bar needs more (it then grows in steps
    of 2, 5, 10 and the panel says so, beside dashed lines at ±1, the usual scale).
    """

    name = _NAME

    def __init__(self, logits=(1.0, 2.5, -0.5, 0.0), label=0, temperature=1.0, *, logit_range=6.0):
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 1 or logits.size < 2:
            raise ValueError(f"softmax_explorer expected a 1-D sequence of at least 2 logits, got shape {logits.shape}")
        K = logits.size
        logit_range = max(float(logit_range), float(np.ceil(np.abs(logits).max())))
        if not 0.1 <= temperature <= 5.0:
            raise ValueError(f"softmax_explorer expected a temperature between 0.1 and 5, got {temperature}")
        if not 0 <= label < K:
            raise ValueError(f"softmax_explorer expected label in 0..{K - 1}, got {label}")
        self.logit_sliders = [
            tag(W.FloatSlider(value=float(v), min=-logit_range, max=logit_range, step=0.1, description=f"z[{k}]",
                              continuous_update=True), _NAME, f"logit-{k}")
            for k, v in enumerate(logits)
        ]
        self.temperature_slider = tag(W.FloatSlider(value=float(temperature), min=0.1, max=5.0, step=0.1,
                                                    description="T"), _NAME, "temperature")
        self.label_dropdown = tag(W.Dropdown(options=[(f"class {k}", k) for k in range(K)], value=int(label),
                                             description="true class"), _NAME, "label")
        for control in [*self.logit_sliders, self.temperature_slider, self.label_dropdown]:
            control.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([W.HBox([W.VBox(self.logit_sliders),
                                      W.VBox([self.temperature_slider, self.label_dropdown])]),
                              self.view])
        self.update()

    def update(self):
        self.logits = np.array([s.value for s in self.logit_sliders], dtype=np.float64)
        self.temperature = float(self.temperature_slider.value)
        self.label = int(self.label_dropdown.value)
        loss = SoftmaxCrossEntropy()
        self.loss = loss.forward((self.logits / self.temperature)[None], np.array([self.label]))
        self.probs = loss.probs[0]
        # the loss saw z / T, so the chain rule adds a factor 1/T on the way back to z
        self.grad = loss.backward()[0] / self.temperature
        self.readout_text = (f"p = {_fmt(self.probs)}; ∂L/∂z = {_fmt(self.grad)}; "
                             f"loss L = -log p[{self.label}] = {self.loss:.3f} (T = {self.temperature:.1f})")
        biggest = float(np.abs(self.grad).max())
        self.grad_axis = next(step for step in (1.0, 2.0, 5.0, 10.0, np.inf) if biggest <= step * 0.98)
        if not np.isfinite(self.grad_axis):
            self.grad_axis = float(np.ceil(biggest * 1.05))
        self.readout_html = f"<b>{self.readout_text}</b>"
        if self.grad_axis != 1.0:
            self.readout_html += (f"<br>The gradient axis is now ±{self.grad_axis:g}, not ±1: at T = "
                                  f"{self.temperature:.1f} every gradient is multiplied by 1/T = {1 / self.temperature:.3g}.")
        self.refresh()

    def _build(self):
        K = self.logits.size
        fig = new_figure((9, 3.4))
        ax_p, ax_g = fig.subplots(1, 2)
        bars_p = ax_p.bar(range(K), np.zeros(K), edgecolor="black", linewidth=0.6)
        bars_g = ax_g.bar(range(K), np.zeros(K), edgecolor="black", linewidth=0.6)
        values = [ax_p.text(k, 0, "", ha="center", va="bottom", fontsize=MIN_FONT_PT) for k in range(K)]
        # the true class is marked above its bar, so it shows even when its probability is about 0
        marker = ax_p.text(0, 0, "▼ true", ha="center", va="bottom", fontsize=MIN_FONT_PT, color="tab:green",
                           fontweight="bold")
        ax_p.set_ylim(0, 1.25)
        ax_p.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax_g.axhline(0, color="black", linewidth=0.8)
        usual = [ax_g.axhline(v, color="0.5", linewidth=0.8, linestyle="--") for v in (-1, 1)]
        for ax in (ax_p, ax_g):
            ax.set_xticks(range(K))
            ax.set_xlabel("class k", fontsize=TITLE_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT + 1)
        return fig, {"ax_p": ax_p, "ax_g": ax_g, "bars_p": bars_p, "bars_g": bars_g, "values": values,
                     "marker": marker, "usual": usual}

    def _paint(self, parts):
        """Two bar charts of the current state: the probabilities and the gradient ∂L/∂z."""
        K = self.logits.size
        colors = ["tab:green" if k == self.label else "tab:blue" for k in range(K)]
        for k, (bar_p, bar_g, text) in enumerate(zip(parts["bars_p"], parts["bars_g"], parts["values"])):
            bar_p.set_height(self.probs[k])
            bar_g.set_height(self.grad[k])
            bar_p.set_color(colors[k])
            bar_g.set_color(colors[k])
            for bar in (bar_p, bar_g):
                bar.set_edgecolor("black")
            text.set_position((k, self.probs[k] + 0.01))
            text.set_text(f"{self.probs[k]:.3f}")
        parts["marker"].set_position((self.label, self.probs[self.label] + 0.09))
        labels = [f"{k}\n(true)" if k == self.label else str(k) for k in range(K)]
        parts["ax_p"].set_xticklabels(labels)
        parts["ax_g"].set_xticklabels(labels)
        parts["ax_p"].set_title(f"p = softmax(z / T), T = {self.temperature:.1f}\n(true class in green)",
                                fontsize=TITLE_FONT_PT)
        lim = self.grad_axis
        parts["ax_g"].set_ylim(-lim * 1.05, lim * 1.05)
        for line in parts["usual"]:
            line.set_visible(lim != 1.0)
        scale = "axis ±1" if lim == 1.0 else f"axis ±{lim:g}, widened (dashed: ±1)"
        parts["ax_g"].set_title(f"∂L/∂z = (p - y) / T, loss L = {self.loss:.3f}\n{scale}", fontsize=TITLE_FONT_PT)

    def alt_text(self):
        return (f"Two bar charts at temperature {self.temperature:.1f} with true class {self.label}: the softmax "
                f"probabilities (class {int(self.probs.argmax())} highest, p = {self.probs.max():.3f}) and the "
                f"gradient ∂L/∂z, negative only for the true class.")


def softmax_explorer(logits=(1.0, 2.5, -0.5, 0.0), label=0, temperature=1.0, *, show=True):
    """Sliders for the logits and the temperature, a dropdown for the true class; bars for p and ∂L/∂z.

    Shows the interactive widget as one output, with a PNG of the starting state for front ends without a kernel
    (unless show=False); returns the SoftmaxExplorer object.
    """
    explorer = SoftmaxExplorer(logits, label, temperature)
    if show:
        explorer.show(explorer.widget)
    return explorer
