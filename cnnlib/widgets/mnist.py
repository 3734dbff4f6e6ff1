"""Digit explorer (notebook 08): pick a test digit and look inside the trained network.

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
from ._draw import redraw, static_figure, tag

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


class DigitExplorer:
    """State of the widget, in plain attributes that tests read.

    model: a trained Sequential ending in class scores (K,); x (N, 1, H, W) and y (N,): the digits and labels.
    index: the digit shown. label, pred: its true and predicted class. probs (K,): softmax probabilities.
    loss: the cross-entropy of this digit. feature_maps (F, H_out, W_out): the first conv layer's output after
    its activation. saliency (H, W): ∂C/∂x for this digit's cross-entropy C with its true label.
    readout_text: what the readout shows.

    Note: computing the saliency runs model.backward, which overwrites the layers' cached grads.
    """

    def __init__(self, model, x, y, index=0):
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
        self.readout = tag(W.HTML(), _NAME, "readout")
        self.output = W.Output()
        self.slider.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([self.slider, self.readout, self.output])
        self.update()

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
            redraw(self.output, self.figure)

    def figure(self):
        """The digit, its saliency map, the class probabilities and the first layer's feature maps."""
        maps = [] if self.feature_maps is None else list(self.feature_maps[:6])
        ncols = 3 + len(maps)
        fig, axes = plt.subplots(1, ncols, figsize=(2.3 * ncols, 2.6),
                                 gridspec_kw={"width_ratios": [1, 1, 1.6] + [1] * len(maps)})
        axes[0].imshow(self.x[self.index, 0], cmap="gray_r")
        axes[0].set_title(f"digit #{self.index} (label {self.label})", fontsize=9)
        lim = np.abs(self.saliency).max() or 1.0
        axes[1].imshow(self.saliency, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1].set_title("saliency ∂C/∂x", fontsize=9)
        colors = ["tab:gray"] * len(self.probs)
        colors[self.pred] = "tab:red" if self.pred != self.label else "tab:green"
        axes[2].bar(range(len(self.probs)), self.probs, color=colors)
        axes[2].set_xticks(range(len(self.probs)))
        axes[2].set_ylim(0, 1)
        axes[2].set_title(f"softmax: predicted {self.pred} ({self.probs[self.pred]:.3f})", fontsize=9)
        for f, (ax, fmap) in enumerate(zip(axes[3:], maps)):
            ax.imshow(fmap, cmap="viridis")
            ax.set_title(f"feature map {f}", fontsize=9)
        for ax in np.delete(axes, 2):
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return fig


def digit_explorer(model, x_test, y_test, index=0, *, show=True):
    """Pick a test digit and see the network's probabilities, feature maps and saliency map ∂C/∂x.

    model: a trained Sequential (e.g. the seed-004 net of notebook 08) whose output is class scores (N, K);
    x_test (N, 1, H, W), y_test (N,): digits and labels. Shows a static figure of digit ``index`` and the
    interactive widget (unless show=False); returns the DigitExplorer object.
    """
    explorer = DigitExplorer(model, x_test, y_test, index)
    if show:
        from IPython.display import display

        static_figure(explorer.figure())
        display(explorer.widget)
        explorer._live = True
        redraw(explorer.output, explorer.figure)
    return explorer
