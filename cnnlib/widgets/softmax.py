"""Softmax explorer (notebook 08): move the logits and the temperature, watch the probabilities and the
gradient of the cross-entropy.

With temperature T the probabilities are p = softmax(z / T), the cost is C = -log p[label], and the chain rule
gives ∂C/∂z = (p - y) / T (y the one-hot label). Everything is computed by cnnlib's SoftmaxCrossEntropy.
"""

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from ..losses import SoftmaxCrossEntropy
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, redraw, show_widget, tag

__all__ = ["softmax_explorer", "SoftmaxExplorer"]

_NAME = "softmax"


def _fmt(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


class SoftmaxExplorer:
    """State of the widget, in plain attributes that tests read.

    logits (K,), temperature, label: the inputs set by the controls. probs (K,) = softmax(logits / T);
    grad (K,) = ∂C/∂logits = (probs - onehot(label)) / T; loss = -log probs[label]; readout_text.
    """

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
        self._live = False
        self.logit_sliders = [
            tag(W.FloatSlider(value=float(v), min=-logit_range, max=logit_range, step=0.1, description=f"z[{k}]",
                              continuous_update=True), _NAME, f"logit-{k}")
            for k, v in enumerate(logits)
        ]
        self.temperature_slider = tag(W.FloatSlider(value=float(temperature), min=0.1, max=5.0, step=0.1,
                                                    description="T"), _NAME, "temperature")
        self.label_dropdown = tag(W.Dropdown(options=[(f"class {k}", k) for k in range(K)], value=int(label),
                                             description="true class"), _NAME, "label")
        self.readout = tag(W.HTML(), _NAME, "readout")
        self.output = W.Output()
        for control in [*self.logit_sliders, self.temperature_slider, self.label_dropdown]:
            control.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([W.HBox([W.VBox(self.logit_sliders),
                                      W.VBox([self.temperature_slider, self.label_dropdown])]),
                              self.readout, self.output])
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
        self.readout_text = (f"p = {_fmt(self.probs)}; ∂C/∂z = {_fmt(self.grad)}; "
                             f"loss C = -log p[{self.label}] = {self.loss:.3f} (T = {self.temperature:.1f})")
        self.readout.value = f"<b>{self.readout_text}</b>"
        if self._live:
            self._redraw()

    def figure(self):
        """Two bar charts of the current state: the probabilities and the gradient ∂C/∂z."""
        K = self.logits.size
        colors = ["tab:green" if k == self.label else "tab:blue" for k in range(K)]
        fig, (ax_p, ax_g) = plt.subplots(1, 2, figsize=(9, 3))
        ax_p.bar(range(K), self.probs, color=colors)
        ax_p.set_ylim(0, 1)
        ax_p.set_title(f"p = softmax(z / T), T = {self.temperature:.1f}\n(true class in green)", fontsize=TITLE_FONT_PT)
        ax_g.bar(range(K), self.grad, color=colors)
        lim = max(1.0, float(np.abs(self.grad).max())) * 1.05
        ax_g.set_ylim(-lim, lim)
        ax_g.axhline(0, color="black", linewidth=0.8)
        ax_g.set_title(f"∂C/∂z = (p - y) / T\nloss C = {self.loss:.3f}", fontsize=TITLE_FONT_PT)
        for ax in (ax_p, ax_g):
            ax.set_xticks(range(K))
            ax.set_xlabel("class k", fontsize=TITLE_FONT_PT)
            ax.tick_params(labelsize=MIN_FONT_PT + 1)
        fig.tight_layout()
        return fig

    def alt_text(self):
        return (f"Two bar charts at temperature {self.temperature:.1f} with true class {self.label}: the softmax "
                f"probabilities (class {int(self.probs.argmax())} highest, p = {self.probs.max():.3f}) and the "
                f"gradient ∂C/∂z, negative only for the true class.")

    def _redraw(self):
        redraw(self.output, self.figure, self.alt_text)


def softmax_explorer(logits=(1.0, 2.5, -0.5, 0.0), label=0, temperature=1.0, *, show=True):
    """Sliders for the logits and the temperature, a dropdown for the true class; bars for p and ∂C/∂z.

    Shows the interactive widget as one output, with a PNG of the starting state for front ends without a kernel
    (unless show=False); returns the SoftmaxExplorer object.
    """
    explorer = SoftmaxExplorer(logits, label, temperature)
    if show:
        explorer._live = True
        explorer._redraw()
        show_widget(explorer.widget, explorer.figure(), explorer.alt_text())
    return explorer
