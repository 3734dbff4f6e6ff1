"""Widget for notebook 11: how many kernel taps reach each output pixel of a transposed convolution.

Sliders for the kernel size K and the stride s. Left: the count map of a transposed convolution (one kernel copy
stamped per input pixel, copies s apart), from ``cnnlib.transposed.overlap_counts``; it alternates, the
checkerboard, whenever s does not divide K. Right: resize-then-convolve (nearest-neighbour upsampling by s, then a
stride-1 convolution with the same K), whose count is the same at every pixel away from the border.
"""

import ipywidgets as ipw
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

from ..transposed import overlap_counts, resize_conv_counts
from ._draw import MIN_FONT_PT, TITLE_FONT_PT, redraw, show_widget, tag, text_color

__all__ = ["OverlapCounts", "overlap_explorer"]

NAME = "overlap"


def _inner(counts, K):
    """The counts away from the border (K pixels on each side), where a finite image plays no role."""
    inner = counts[K:-K, K:-K]
    return inner if inner.size else counts


class OverlapCounts:
    """State and controls of the overlap widget.

    Attributes the tests read (recomputed by ``update``):
        kernel_size, stride   the slider values
        counts                (H_out, W_out) int, taps per output pixel of the transposed convolution
        resize_counts         (H·s, W·s) int, the same for nearest-neighbour upsampling then a stride-1 convolution
        inner_values          the distinct values of ``counts`` away from the border (one value exactly when s
                              divides K)
        inner_range           (min, max) of those values
        readout_text          the text of the readout
    """

    def __init__(self, input_size=4, *, kernel_size=3, stride=2, max_kernel=6, max_stride=4):
        self.input_size = int(input_size)
        style = {"description_width": "initial"}
        self.kernel_slider = tag(ipw.IntSlider(value=kernel_size, min=1, max=max_kernel,
                                               description="kernel size K", style=style), NAME, "kernel")
        self.stride_slider = tag(ipw.IntSlider(value=stride, min=1, max=max_stride, description="stride s",
                                               style=style), NAME, "stride")
        self.readout = tag(ipw.HTML(), NAME, "readout")
        self.out = tag(ipw.Output(), NAME, "figure")
        for slider in (self.kernel_slider, self.stride_slider):
            slider.observe(self.update, names="value")
        self.box = ipw.VBox([ipw.HBox([self.kernel_slider, self.stride_slider]), self.readout, self.out])
        self.live = False  # draw into the Output only once the widget is on screen (tests skip the drawing)
        self.update()

    # ---- state -----------------------------------------------------------------------------------------
    def compute(self):
        """Recompute the two count maps from the slider values (no drawing)."""
        K, s, n = self.kernel_slider.value, self.stride_slider.value, self.input_size
        self.kernel_size, self.stride = K, s
        self.counts = overlap_counts(K, s, n)
        self.resize_counts = resize_conv_counts(K, s, n)
        self.inner_values = tuple(int(v) for v in np.unique(_inner(self.counts, K)))
        self.inner_range = (self.inner_values[0], self.inner_values[-1])
        return self

    def _text(self):
        K, s = self.kernel_size, self.stride
        values = ", ".join(map(str, self.inner_values))
        if len(self.inner_values) == 1:
            verdict = f"even: every inner pixel gets {values} tap(s) (s divides K)"
        elif self.inner_values[0] == 0:
            verdict = f"holes: inner pixels get {values} taps (K < s leaves gaps)"
        else:
            verdict = f"uneven: inner pixels get {values} taps (s = {s} does not divide K = {K}): a checkerboard"
        return f"K = {K}, s = {s}: {verdict}. Resize-then-convolve: {K * K} taps at every inner pixel."

    def update(self, change=None):
        """Slider callback: recompute, rewrite the readout, redraw the figure."""
        self.compute()
        self.readout_text = self._text()
        self.readout.value = self.readout_text
        if self.live:
            redraw(self.out, self.figure, self.alt_text)

    # ---- drawing ---------------------------------------------------------------------------------------
    @staticmethod
    def _panel(ax, counts, title):
        image = ax.imshow(counts, cmap="viridis", vmin=0, vmax=max(int(counts.max()), 1))
        ax.set_xticks([])
        ax.set_yticks([])
        if counts.size <= 400:
            for (i, j), v in np.ndenumerate(counts):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=MIN_FONT_PT,
                        color=text_color(image.cmap(image.norm(v))))
        ax.set_title(title, fontsize=TITLE_FONT_PT)
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                                 ticks=MaxNLocator(integer=True))  # counts are whole numbers
        bar.ax.tick_params(labelsize=MIN_FONT_PT)

    def figure(self):
        """The two count maps side by side, each with its own colour bar (taps per pixel)."""
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
        K, s, n = self.kernel_size, self.stride, self.input_size
        self._panel(axes[0], self.counts, f"transposed conv, K={K}, s={s}\n{n}x{n} in -> "
                                          f"{self.counts.shape[0]}x{self.counts.shape[1]} out: taps per pixel")
        self._panel(axes[1], self.resize_counts, f"upsample x{s}, then conv K={K}\n"
                                                 f"{self.resize_counts.shape[0]}x{self.resize_counts.shape[1]} out: "
                                                 f"taps per pixel")
        fig.tight_layout()
        return fig

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
        w.live = True
        w.update()
        show_widget(w.box, w.figure(), w.alt_text())
    return w
