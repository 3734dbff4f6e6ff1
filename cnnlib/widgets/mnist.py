"""Digit explorer (notebook 09): pick a test digit and look inside the trained network.

For the chosen digit it shows what the network predicts (the softmax probabilities), what the first convolution
layer sees (its feature maps after the activation), and which pixels the loss is most sensitive to: the saliency
map ∂C/∂x, obtained by running ``model.backward`` all the way to the input. Everything is computed by the model's
own forward and backward passes.
"""

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from ..layers import Conv2D, ReLU, Sigmoid, Tanh
from ..losses import SoftmaxCrossEntropy
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, redraw, show_widget, tag

__all__ = ["digit_explorer", "DigitExplorer"]

_NAME = "digit"
_ACTIVATIONS = (ReLU, Sigmoid, Tanh)


def _first_feature_maps(model, activations):
    """The output of the first Conv2D, taken after its activation layer when one follows it: (F, H_out, W_out)."""
    for k, layer in enumerate(model.layers):
        if isinstance(layer, Conv2D):
            if k + 1 < len(model.layers) and isinstance(model.layers[k + 1], _ACTIVATIONS):
                return activations[k + 1][0]
            return activations[k][0]
    return None


def _softmax(scores):
    scores = np.asarray(scores, dtype=np.float64)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class DigitExplorer:
    """State of the widget, in plain attributes that tests read.

    model: a trained Sequential ending in class scores (K,); x (N, 1, H, W) and y (N,): the digits and labels.
    index: the digit shown. label, pred: its true and predicted class. probs (K,): softmax probabilities.
    loss: the cross-entropy of this digit. feature_maps (F, H_out, W_out): the first conv layer's output after
    its activation. saliency (H, W): ∂C/∂x for this digit's cross-entropy C with its true label.
    readout_text: what the readout shows.

    Note: computing the saliency runs model.backward, which overwrites the layers' cached grads.
    """

    def __init__(self, model, x, y, index=0, n_picks=8):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 4:
            raise ValueError(f"digit_explorer expected x of shape (N, C, H, W), got {x.shape}")
        if y.shape != (len(x),):
            raise ValueError(f"digit_explorer expected y of shape ({len(x)},) to match x, got {y.shape}")
        if not 0 <= index < len(x):
            raise ValueError(f"digit_explorer expected index in 0..{len(x) - 1}, got {index}")
        self.model, self.x, self.y = model, x, y
        self._live = False
        self.slider = tag(W.IntSlider(value=int(index), min=0, max=len(x) - 1, description="test digit",
                                      continuous_update=False), _NAME, "index")
        # the interesting digits in one move: the mistakes the net makes with the highest confidence
        probs = _softmax(model.predict(x))
        pred = probs.argmax(axis=1)
        wrong = np.flatnonzero(pred != y)
        self.picks = [int(k) for k in wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:n_picks]]
        options = [("(choose a confident mistake)", -1)] + [
            (f"#{k}: label {int(y[k])}, predicted {int(pred[k])} (p = {probs[k, pred[k]]:.3f})", k) for k in self.picks]
        self.picker = tag(W.Dropdown(options=options, value=-1, description="jump to",
                                     layout=W.Layout(width="auto")), _NAME, "picks")
        self.picker.observe(self._on_pick, names="value")
        self.readout = tag(W.HTML(), _NAME, "readout")
        self.output = W.Output()
        self.slider.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([W.HBox([self.slider, self.picker]), self.readout, self.output])
        self.update()

    def _on_pick(self, change):
        if change["new"] >= 0:
            self.slider.value = change["new"]

    @property
    def index(self):
        return self.slider.value

    def update(self):
        i = self.index
        xi, yi = self.x[i:i + 1], self.y[i:i + 1]
        activations, a = [], xi
        for layer in self.model.layers:  # forward one layer at a time, keeping every output
            a = layer.forward(a)
            activations.append(a)
        ce = SoftmaxCrossEntropy()
        self.loss = ce.forward(a, yi)
        self.probs = ce.probs[0]
        dx = self.model.backward(ce.backward())  # the chain rule run all the way to the pixels: ∂C/∂x
        self.saliency = dx[0, 0]
        self.feature_maps = _first_feature_maps(self.model, activations)
        self.label, self.pred = int(yi[0]), int(np.argmax(self.probs))
        self.readout_text = (f"digit #{i}: label {self.label}, predicted {self.pred} "
                             f"(prob {self.probs[self.pred]:.3f})")
        verdict = "" if self.pred == self.label else " <span style='color:#c0392b'>(wrong)</span>"
        self.readout.value = f"<b>{self.readout_text}</b>{verdict}"
        if self._live:
            redraw(self.output, self.figure, self.alt_text)

    def figure(self):
        """Top: the digit, its saliency map (with a colour bar: its size matters) and the class probabilities.
        Bottom: the first layer's feature maps on one shared colour scale."""
        maps = [] if self.feature_maps is None else list(self.feature_maps[:6])
        fig = plt.figure(figsize=(9, 6.2), layout="constrained")  # makes room for the colour bars and labels
        grid = fig.add_gridspec(2, max(3, len(maps)))
        ax_digit, ax_sal = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        ax_p = fig.add_subplot(grid[0, 2:] if len(maps) > 3 else grid[0, 2])
        ax_digit.imshow(self.x[self.index, 0], cmap="gray_r")
        ax_digit.set_title(f"digit #{self.index}\n(label {self.label})", fontsize=TITLE_FONT_PT)
        lim = np.abs(self.saliency).max() or 1.0
        image = ax_sal.imshow(self.saliency, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax_sal.set_title(f"saliency ∂C/∂x\nmax |∂C/∂x| = {lim:.1e}", fontsize=TITLE_FONT_PT)
        bar = fig.colorbar(image, ax=ax_sal, fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
        colors = ["tab:gray"] * len(self.probs)
        colors[self.pred] = "tab:red" if self.pred != self.label else "tab:green"
        ax_p.bar(range(len(self.probs)), self.probs, color=colors)
        ax_p.set_xticks(range(len(self.probs)))
        ax_p.tick_params(labelsize=MIN_FONT_PT + 1)
        ax_p.set_ylim(0, 1)
        ax_p.set_xlabel("class", fontsize=TITLE_FONT_PT)
        ax_p.set_title(f"softmax: predicted {self.pred}\n(p = {self.probs[self.pred]:.3f})", fontsize=TITLE_FONT_PT)
        map_axes = [fig.add_subplot(grid[1, f]) for f in range(len(maps))]
        if maps:
            top = max(float(np.max(maps)), 1e-12)  # one scale for all maps, so brighter means stronger
            for f, (ax, fmap) in enumerate(zip(map_axes, maps)):
                shown = ax.imshow(fmap, cmap="viridis", vmin=min(0.0, float(np.min(maps))), vmax=top)
                ax.set_title(f"feature map {f}", fontsize=TITLE_FONT_PT)
            bar = fig.colorbar(shown, ax=map_axes, fraction=0.03, pad=0.02, label="activation")
            bar.ax.tick_params(labelsize=MIN_FONT_PT)
        for ax in [ax_digit, ax_sal, *map_axes]:
            ax.set_xticks([])
            ax.set_yticks([])
        return fig

    def alt_text(self):
        verdict = "correctly" if self.pred == self.label else "wrongly"
        return (f"Test digit #{self.index}, label {self.label}, {verdict} predicted as {self.pred} with "
                f"p = {self.probs[self.pred]:.3f}, with its saliency map (largest |∂C/∂x| {np.abs(self.saliency).max():.1e}), "
                f"the class probabilities and the first layer's feature maps on one colour scale.")


def digit_explorer(model, x_test, y_test, index=0, *, show=True):
    """Pick a test digit and see the network's probabilities, feature maps and saliency map ∂C/∂x.

    model: a trained Sequential (e.g. the one-conv-layer net of notebook 09) whose output is class scores (N, K);
    x_test (N, 1, H, W), y_test (N,): digits and labels. A "jump to" dropdown lists the most confident mistakes.
    Shows the interactive widget as one output, with a PNG of digit ``index`` for front ends without a kernel
    (unless show=False); returns the DigitExplorer object.
    """
    explorer = DigitExplorer(model, x_test, y_test, index)
    if show:
        explorer._live = True
        redraw(explorer.output, explorer.figure, explorer.alt_text)
        show_widget(explorer.widget, explorer.figure(), explorer.alt_text())
    return explorer
