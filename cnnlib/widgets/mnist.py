"""Digit explorer (notebook 09): pick a test digit and look inside the trained network.

For the chosen digit it shows what the network predicts (the softmax probabilities), what the first convolution
layer sees (its feature maps after the activation), and which pixels the loss is most sensitive to: the saliency
map ∂L/∂x, obtained by running ``model.backward`` all the way to the input. Everything is computed by the model's
own forward and backward passes.
"""

import ipywidgets as W
import numpy as np

from ..layers import Conv2D, ReLU, Sigmoid, Tanh
from ..losses import SoftmaxCrossEntropy
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, LiveFigure, new_figure, tag

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


class DigitExplorer(LiveFigure):
    """State of the widget, in plain attributes that tests read.

    model: a trained Sequential ending in class scores (Q,), Q classes; x (N, 1, H, W) and y (N,): the digits and labels.
    index: the digit shown. label, pred: its true and predicted class. probs (Q,): softmax probabilities.
    loss: the cross-entropy of this digit. feature_maps (F, H_out, W_out): the first conv layer's output after
    its activation. saliency (H, W): ∂L/∂x for this digit's cross-entropy L with its true label.
    readout_text: what the readout shows.

    The "jump to" list follows the slider: it names the digit shown when that digit is one of its mistakes, and
    shows its prompt otherwise.

    Fixed when the widget is made (the slider and the list never change them, so a notebook's checks can read
    them): start_index, start_label, start_pred, start_probs: the opening digit, its label, prediction and
    probabilities.

    Note: computing the saliency runs model.backward, which overwrites the layers' cached grads.
    """

    name = _NAME

    def __init__(self, model, x, y, index=0, n_picks=8):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 4:
            raise ValueError(f"digit_explorer expected x of shape (N, C, H, W), got {x.shape}")
        if y.shape != (len(x),):
            raise ValueError(f"digit_explorer expected y of shape ({len(x)},) to match x, got {y.shape}")
        if not 0 <= index < len(x):
            raise ValueError(f"digit_explorer expected index in 0..{len(x) - 1}, got {index}")
        self.model, self.x, self.y = model, x, y
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
        self.slider.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([W.HBox([self.slider, self.picker]), self.view])
        self.update()
        self.start_index, self.start_label, self.start_pred = self.index, self.label, self.pred
        self.start_probs = self.probs.copy()

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
        dx = self.model.backward(ce.backward())  # the chain rule run all the way to the pixels: ∂L/∂x
        self.saliency = dx[0, 0]
        self.feature_maps = _first_feature_maps(self.model, activations)
        self.label, self.pred = int(yi[0]), int(np.argmax(self.probs))
        self.readout_text = (f"digit #{i}: label {self.label}, predicted {self.pred} "
                             f"(prob {self.probs[self.pred]:.3f})")
        verdict = "" if self.pred == self.label else " <span style='color:#c0392b'>(wrong)</span>"
        self.readout_html = f"<b>{self.readout_text}</b>{verdict}"
        # the "jump to" list names the digit shown, or its prompt when the digit is not one of its mistakes
        self.picker.value = i if i in self.picks else -1
        self.refresh()

    # Panel positions in inches on a 9 x 6.2 in figure, fixed (no layout engine, so nothing moves between frames):
    # three columns, the bottom row's feature maps exactly under the digit, the saliency map and the softmax
    # panel; the two colour bars sit in narrow columns of their own.
    _SIZE = (9.0, 6.2)
    _COLUMNS = (0.35, 2.75, 6.0)    # left edges; each panel is _SIDE wide
    _SIDE = 1.9
    _TOP, _BOTTOM = 3.6, 0.35       # lower edges of the two rows

    def _rect(self, x, y, w, h):
        W_in, H_in = self._SIZE
        return [x / W_in, y / H_in, w / W_in, h / H_in]

    def _build(self):
        fig = new_figure(self._SIZE)
        side = self._SIDE
        a, b, c = self._COLUMNS
        ax_digit = fig.add_axes(self._rect(a, self._TOP, side, side))
        ax_sal = fig.add_axes(self._rect(b, self._TOP, side, side))
        ax_sal_bar = fig.add_axes(self._rect(b + side + 0.1, self._TOP, 0.12, side), label="<colorbar>")
        ax_p = fig.add_axes(self._rect(c, self._TOP, side, side))
        n_maps = 0 if self.feature_maps is None else min(len(self.feature_maps), 6)
        if n_maps <= 3:
            lefts, width = self._COLUMNS[:n_maps], side
        else:  # more maps than columns: share the row evenly
            width = (c + side - a - 0.25 * (n_maps - 1)) / n_maps
            lefts = [a + k * (width + 0.25) for k in range(n_maps)]
        map_axes = [fig.add_axes(self._rect(x, self._BOTTOM, width, width)) for x in lefts]
        images = {"digit": ax_digit.imshow(self.x[self.index, 0], cmap="gray_r"),
                  "sal": ax_sal.imshow(self.saliency, cmap="RdBu_r", vmin=-1, vmax=1)}
        bar = fig.colorbar(images["sal"], cax=ax_sal_bar)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
        bars = ax_p.bar(range(len(self.probs)), self.probs)
        ax_p.set_xticks(range(len(self.probs)))
        ax_p.tick_params(labelsize=MIN_FONT_PT + 1)
        ax_p.set_ylim(0, 1)
        ax_p.set_xlabel("class", fontsize=TITLE_FONT_PT)
        maps = [ax.imshow(self.feature_maps[f], cmap="viridis") for f, ax in enumerate(map_axes)]
        for f, ax in enumerate(map_axes):
            ax.set_title(f"feature map {f}", fontsize=TITLE_FONT_PT)
        if maps:
            ax_map_bar = fig.add_axes(self._rect(c + side + 0.15, self._BOTTOM, 0.12, width), label="<colorbar>")
            map_bar = fig.colorbar(maps[0], cax=ax_map_bar, label="activation")
            map_bar.ax.tick_params(labelsize=MIN_FONT_PT)
        for ax in [ax_digit, ax_sal, *map_axes]:
            ax.set_xticks([])
            ax.set_yticks([])
        return fig, {"ax_digit": ax_digit, "ax_sal": ax_sal, "ax_p": ax_p, "images": images, "bars": bars,
                     "maps": maps}

    def _paint(self, parts):
        """Top: the digit, its saliency map (with a colour bar: its size matters) and the class probabilities.
        Bottom: the first layer's feature maps on one shared colour scale."""
        parts["images"]["digit"].set_data(self.x[self.index, 0])
        parts["ax_digit"].set_title(f"digit #{self.index}\n(label {self.label})", fontsize=TITLE_FONT_PT)
        lim = float(np.abs(self.saliency).max()) or 1.0
        parts["images"]["sal"].set_data(self.saliency)
        parts["images"]["sal"].set_clim(-lim, lim)
        parts["ax_sal"].set_title(f"saliency ∂L/∂x\nmax |∂L/∂x| = {lim:.1e}", fontsize=TITLE_FONT_PT)
        for k, bar in enumerate(parts["bars"]):
            bar.set_height(self.probs[k])
            bar.set_color(("tab:red" if self.pred != self.label else "tab:green") if k == self.pred else "tab:gray")
        parts["ax_p"].set_title(f"softmax: predicted {self.pred}\n(p = {self.probs[self.pred]:.3f})",
                                fontsize=TITLE_FONT_PT)
        if parts["maps"]:
            maps = self.feature_maps[:len(parts["maps"])]
            top = max(float(np.max(maps)), 1e-12)  # one scale for all maps, so brighter means stronger
            low = min(0.0, float(np.min(maps)))
            for image, fmap in zip(parts["maps"], maps):
                image.set_data(fmap)
                image.set_clim(low, top)

    def _arrange(self, fig):
        pass  # the positions are fixed in _build

    def alt_text(self):
        verdict = "correctly" if self.pred == self.label else "wrongly"
        return (f"Test digit #{self.index}, label {self.label}, {verdict} predicted as {self.pred} with "
                f"p = {self.probs[self.pred]:.3f}, with its saliency map (largest |∂L/∂x| {np.abs(self.saliency).max():.1e}), "
                f"the class probabilities and the first layer's feature maps on one colour scale.")


def digit_explorer(model, x_test, y_test, index=0, *, show=True):
    """Pick a test digit and see the network's probabilities, feature maps and saliency map ∂L/∂x.

    model: a trained Sequential (e.g. the one-conv-layer net of notebook 09) whose output is class scores (N, Q);
    x_test (N, 1, H, W), y_test (N,): digits and labels. A "jump to" dropdown lists the most confident mistakes.
    Shows the interactive widget as one output, with a PNG of digit ``index`` for front ends without a kernel
    (unless show=False); returns the DigitExplorer object.
    """
    explorer = DigitExplorer(model, x_test, y_test, index)
    if show:
        explorer.show(explorer.widget)
    return explorer
