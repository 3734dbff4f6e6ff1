"""Widget for notebook 11: how many kernel taps reach each output pixel of a transposed convolution.

Sliders for the kernel size K and the stride s. Left: the count map of a transposed convolution (one kernel copy
stamped per input pixel, copies s apart), from ``cnnlib.transposed.overlap_counts``; it alternates, the
checkerboard, whenever s does not divide K. Right: resize-then-convolve (nearest-neighbour upsampling by s, then a
stride-1 convolution with the same K), whose count is the same at every pixel away from the border.
"""

import ipywidgets as ipw
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..transposed import overlap_counts, resize_conv_counts
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, LiveFigure, new_figure, tag, text_color

__all__ = ["OverlapCounts", "overlap_explorer"]

NAME = "overlap"


def _inner(counts, K, s):
    """The counts away from the border, where a finite image plays no role. Near an edge fewer kernel copies
    overlap (no input pixel lies beyond it): that band is K - s pixels wide when K > s, none otherwise."""
    band = max(K - s, 0)
    inner = counts[band:counts.shape[0] - band, band:counts.shape[1] - band]
    return inner if inner.size else counts


class OverlapCounts(LiveFigure):
    """State and controls of the overlap widget.

    Attributes the tests read (recomputed by ``update``):
        kernel_size, stride   the slider values
        counts                (H_out, W_out) int, taps per output pixel of the transposed convolution
        resize_counts         (H·s, W·s) int, the same for nearest-neighbour upsampling then a stride-1 convolution
        inner_values          the distinct values of ``counts`` away from the border band (one value exactly when
                              s divides K); has_inner: False when the band covers the whole map
        inner_range           (min, max) of those values
        readout_text          the text of the readout
    """

    name = NAME

    def __init__(self, input_size=4, *, kernel_size=3, stride=2, max_kernel=6, max_stride=4):
        self.input_size = int(input_size)
        style = {"description_width": "initial"}
        self.kernel_slider = tag(ipw.IntSlider(value=kernel_size, min=1, max=max_kernel,
                                               description="kernel size K", style=style), NAME, "kernel")
        self.stride_slider = tag(ipw.IntSlider(value=stride, min=1, max=max_stride, description="stride s",
                                               style=style), NAME, "stride")
        for slider in (self.kernel_slider, self.stride_slider):
            slider.observe(self.update, names="value")
        self.box = ipw.VBox([ipw.HBox([self.kernel_slider, self.stride_slider]), self.view])
        self.update()

    # ---- state -----------------------------------------------------------------------------------------
    def compute(self):
        """Recompute the two count maps from the slider values (no drawing)."""
        K, s, n = self.kernel_slider.value, self.stride_slider.value, self.input_size
        self.kernel_size, self.stride = K, s
        self.counts = overlap_counts(K, s, n)
        self.resize_counts = resize_conv_counts(K, s, n)
        band = max(K - s, 0)
        self.has_inner = 2 * band < self.counts.shape[0]  # some pixel lies outside the border band
        self.inner_values = tuple(int(v) for v in np.unique(_inner(self.counts, K, s)))
        self.inner_range = (self.inner_values[0], self.inner_values[-1])
        return self

    def _text(self):
        K, s = self.kernel_size, self.stride
        values = ", ".join(map(str, self.inner_values))
        n = self.input_size
        if not self.has_inner:
            verdict = (f"no pixel is far enough from the border (a {n}x{n} input is small for K = {K}): the counts "
                       f"{values} are all border effects")
        elif len(self.inner_values) == 1:
            verdict = f"even: every inner pixel gets {values} tap(s) (s divides K)"
        elif self.inner_values[0] == 0:
            verdict = f"holes: inner pixels get {values} taps (K < s leaves gaps)"
        else:
            verdict = f"uneven: inner pixels get {values} taps (s = {s} does not divide K = {K}): a checkerboard"
        text = f"K = {K}, s = {s}: {verdict}. Resize-then-convolve: {K * K} taps at every inner pixel."
        if K > s:  # the band along the edge where copies are missing: its counts are lower, even when s divides K
            band = K - s
            text += (f" Border: the outer {band} row(s) and column(s) on each side get fewer taps (down to "
                     f"{int(self.counts.min())} in the corners), because no input pixel lies beyond the edge to "
                     f"stamp a kernel copy there. That is the finite image, not the checkerboard.")
        return text

    def update(self, change=None):
        """Slider callback: recompute, rewrite the readout, redraw the figure."""
        self.compute()
        self.readout_text = self._text()
        self.readout_html = self.readout_text
        self.refresh()

    # ---- drawing ---------------------------------------------------------------------------------------
    def _layout_key(self):
        return self.kernel_size, self.stride  # they set the shape of both count maps

    @staticmethod
    def _panel(ax, counts):
        image = ax.imshow(counts, cmap="viridis", vmin=0, vmax=max(int(counts.max()), 1))
        ax.set_xticks([])
        ax.set_yticks([])
        texts = []
        if counts.size <= 400:
            texts = [ax.text(j, i, "", ha="center", va="center", fontsize=MIN_FONT_PT)
                     for i, j in np.ndindex(*counts.shape)]
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                                 ticks=MaxNLocator(integer=True))  # counts are whole numbers
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
        return image, texts

    def _build(self):
        """The two count maps side by side, each with its own colour bar (taps per pixel)."""
        fig = new_figure((9, 4.4))
        axes = fig.subplots(1, 2)
        return fig, [(ax, *self._panel(ax, c)) for ax, c in zip(axes, (self.counts, self.resize_counts))]

    def _paint(self, parts):
        K, s, n = self.kernel_size, self.stride, self.input_size
        titles = (f"transposed conv, K={K}, s={s}\n{n}x{n} in -> {self.counts.shape[0]}x{self.counts.shape[1]} "
                  f"out: taps per pixel",
                  f"upsample x{s}, then conv K={K}\n{self.resize_counts.shape[0]}x{self.resize_counts.shape[1]} "
                  f"out: taps per pixel")
        for (ax, image, texts), counts, title in zip(parts, (self.counts, self.resize_counts), titles):
            image.set_data(counts)
            image.set_clim(0, max(int(counts.max()), 1))
            for text, v in zip(texts, counts.ravel()):
                text.set_text(str(v))
                text.set_color(text_color(image.cmap(image.norm(v))))
            ax.set_title(title, fontsize=TITLE_FONT_PT)

    def alt_text(self):
        K, s = self.kernel_size, self.stride
        values = self.inner_values
        pattern = (f"a regular pattern of the counts {', '.join(map(str, values))}" if len(values) > 1
                   else f"the same count {values[0]} everywhere")
        return (f"Two grids of tap counts for kernel size {K} and stride {s}. Left, the transposed convolution: "
                f"away from the border the pixels show {pattern}. Right, upsampling then convolution: "
                f"{K * K} at every pixel away from the border.")


def overlap_explorer(input_size=4, *, kernel_size=3, stride=2, show=True):
    """Sliders for the kernel size and the stride of a transposed convolution; shows how many kernel taps reach
    each output pixel, next to resize-then-convolve.

    input_size: n, the input is n x n. CSS classes: cnnlib-overlap-kernel, cnnlib-overlap-stride (sliders),
    cnnlib-overlap-readout (text), cnnlib-overlap-figure (the figure).
    Displays the widget as one output (with a PNG of the starting state for front ends without a kernel) unless
    ``show=False``; returns the OverlapCounts object.
    """
    w = OverlapCounts(input_size, kernel_size=kernel_size, stride=stride)
    if show:
        w.show(w.box)
    return w
