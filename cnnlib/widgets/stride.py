"""Widget for notebook 05: how stride, padding and dilation change the backward pass of a convolution.

One channel, ``x`` (H, W), kernel ``W`` (KH, KW). The forward pass is z = (pad(x) ⋆ dilate(W))[::s, ::s]; the
widget follows ∂L/∂x back, one step per panel:

    δ  ->  insert_zeros(δ, s)  ->  full convolution with insert_zeros(W, d)  ->  crop the padding  ->  ∂L/∂x

Rows and columns of the padded input that no window reaches (when H + 2p - footprint is not a multiple of s) get
a zero gradient; they are appended at the bottom/right before cropping.
"""

import ipywidgets as ipw
import numpy as np

from ..signal import convolve2d, insert_zeros
from ._draw import MIN_FONT_PT, LiveFigure, MatrixPanel, new_figure, tag

__all__ = ["StridePadding", "stride_padding"]

NAME = "stride"
DEFAULT_KERNEL = np.array([[1.0, 2.0, 0.0],
                           [0.0, 1.0, -1.0],
                           [-1.0, 0.0, 2.0]])  # not symmetric, so a missing rotation would show


class StridePadding(LiveFigure):
    """State and controls of the stride/padding/dilation widget.

    Attributes the tests read (recomputed by ``update``):
        stride, padding, dilation   the slider values
        out_shape                   (H_out, W_out) of the forward pass
        delta                       (H_out, W_out), entries 1, 2, 3, ... in row-major order
        delta_spread                δ after zero insertion, ((H_out - 1)·s + 1, (W_out - 1)·s + 1)
        spread_mask                 True where delta_spread holds an entry of δ (not an inserted zero)
        kernel_dilated              insert_zeros(W, d)
        dx_padded                   ∂L/∂(padded x), (H + 2p, W + 2p)
        dx                          ∂L/∂x, (H, W)
        unreached                   (rows, cols) of the padded input that no window touches
        readout_text                the text of the readout
    """

    name = NAME

    def __init__(self, input_shape=(7, 7), kernel=None, *, stride=2, padding=0, dilation=1,
                 max_stride=3, max_padding=2, max_dilation=3):
        self.input_shape = tuple(int(n) for n in input_shape)
        self.kernel = DEFAULT_KERNEL.copy() if kernel is None else np.asarray(kernel, dtype=np.float64)
        if len(self.input_shape) != 2 or self.kernel.ndim != 2:
            raise ValueError(f"stride_padding expected input_shape (H, W) and a 2-D kernel (KH, KW), got "
                             f"{input_shape} and kernel of shape {self.kernel.shape}")
        H, W = self.input_shape
        KH, KW = self.kernel.shape
        # keep the largest dilation small enough for the dilated kernel to fit the unpadded input
        fit = min((H - 1) // max(KH - 1, 1), (W - 1) // max(KW - 1, 1))
        if fit < 1:
            raise ValueError(f"stride_padding: the kernel {KH}x{KW} is larger than the input {H}x{W}")
        max_dilation = max(1, min(max_dilation, fit))

        style = {"description_width": "initial"}
        self.stride_slider = tag(ipw.IntSlider(value=stride, min=1, max=max_stride, description="stride s",
                                               style=style), NAME, "stride")
        self.padding_slider = tag(ipw.IntSlider(value=padding, min=0, max=max_padding, description="padding p",
                                                style=style), NAME, "padding")
        self.dilation_slider = tag(ipw.IntSlider(value=min(dilation, max_dilation), min=1, max=max_dilation,
                                                 description="dilation d", style=style), NAME, "dilation")
        for slider in (self.stride_slider, self.padding_slider, self.dilation_slider):
            slider.observe(self.update, names="value")
        self.box = ipw.VBox([ipw.HBox([self.stride_slider, self.padding_slider, self.dilation_slider]),
                             self.view])
        self.update()

    # ---- state -----------------------------------------------------------------------------------------
    def compute(self):
        """Recompute every array from the current slider values (no drawing)."""
        s, p, d = self.stride_slider.value, self.padding_slider.value, self.dilation_slider.value
        self.stride, self.padding, self.dilation = s, p, d
        H, W = self.input_shape
        self.kernel_dilated = insert_zeros(self.kernel, d)
        eh, ew = self.kernel_dilated.shape  # the footprint d·(K - 1) + 1
        Hp, Wp = H + 2 * p, W + 2 * p
        self.out_shape = ((Hp - eh) // s + 1, (Wp - ew) // s + 1)
        self.delta = np.arange(1.0, self.out_shape[0] * self.out_shape[1] + 1).reshape(self.out_shape)
        self.delta_spread = insert_zeros(self.delta, s)
        self.spread_mask = insert_zeros(np.ones(self.out_shape, dtype=bool), s)
        full = convolve2d(self.delta_spread, self.kernel_dilated, "full")
        # rows/columns beyond the last window never influenced z: their gradient is zero
        self.unreached = (Hp - full.shape[0], Wp - full.shape[1])
        self.dx_padded = np.pad(full, ((0, self.unreached[0]), (0, self.unreached[1])))
        self.dx = self.dx_padded[p:p + H, p:p + W]
        return self

    def _text(self):
        (Ho, Wo), (zh, zw), (H, W) = self.out_shape, self.delta_spread.shape, self.dx.shape
        kh, kw = self.kernel_dilated.shape
        Hp, Wp = self.dx_padded.shape
        main = f"output {Ho}x{Wo}, δ after zero insertion {zh}x{zw}, dx {H}x{W}"
        steps = [f"dilated kernel {kh}x{kw}", f"full convolution {zh + kh - 1}x{zw + kw - 1}"]
        if any(self.unreached):
            steps.append(f"{self.unreached[0]} row(s) and {self.unreached[1]} column(s) no window reaches get 0")
        steps.append(f"padded input {Hp}x{Wp}" + (f", crop {self.padding} on every side" if self.padding else ""))
        return main, "; ".join(steps)

    def update(self, change=None):
        """Slider callback: recompute, rewrite the readout, redraw the figure."""
        self.compute()
        main, detail = self._text()
        self.readout_text = f"{main} ({detail})"
        self.readout_html = f"<b>{main}</b><br><span style='font-size:90%'>{detail}</span>"
        self.refresh()

    # ---- drawing ---------------------------------------------------------------------------------------
    def _layout_key(self):
        return self.stride, self.padding, self.dilation  # every grid's shape follows from these three

    def _build(self):
        # two rows, so that the largest grid (up to 11x11) gets cells wide enough for two-digit numbers
        fig = new_figure((9, 7.6))
        grid = fig.add_gridspec(2, 6, height_ratios=[1, 1.5])
        axes = [fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4]), fig.add_subplot(grid[0, 4:6]),
                fig.add_subplot(grid[1, 0:3]), fig.add_subplot(grid[1, 3:6])]
        return fig, [MatrixPanel(ax, fmt="{:g}", fontsize=MIN_FONT_PT) for ax in axes]

    def _paint(self, panels):
        """δ, spread δ, dilated W, ∂L/∂(padded x), ∂L/∂x."""
        s, p, d = self.stride, self.padding, self.dilation
        panels[0].draw(self.delta, title=f"δ = ∂L/∂z\n{self._shape(self.delta)}")
        panels[1].draw(self.delta_spread, highlight=self.spread_mask,
                       title=f"δ with s-1 = {s - 1} zeros inserted\n{self._shape(self.delta_spread)}")
        panels[2].draw(self.kernel_dilated, highlight=insert_zeros(np.ones(self.kernel.shape, bool), d),
                       title=f"W dilated (d = {d})\n{self._shape(self.kernel_dilated)}")
        cropped = np.ones(self.dx_padded.shape, dtype=bool)
        cropped[p:p + self.dx.shape[0], p:p + self.dx.shape[1]] = False
        full_shape = (self.dx_padded.shape[0] - self.unreached[0], self.dx_padded.shape[1] - self.unreached[1])
        title = f"∂L/∂x_pad {self._shape(self.dx_padded)}: the full convolution"
        if any(self.unreached):  # rows/columns past the last window: zeros appended at the bottom/right
            title += (f" {full_shape[0]}x{full_shape[1]}\n+ {self.unreached[0]} row(s), {self.unreached[1]} "
                      "column(s) of zeros")
        panels[3].draw(self.dx_padded, highlight=cropped if p else None, highlight_color="tab:gray", title=title)
        panels[4].draw(self.dx, title=f"∂L/∂x after cropping p = {p}\n{self._shape(self.dx)}")

    def alt_text(self):
        (Ho, Wo), (H, W) = self.out_shape, self.dx.shape
        return (f"Five grids for stride {self.stride}, padding {self.padding} and dilation {self.dilation}: δ "
                f"({Ho}x{Wo}) numbered 1, 2, 3, …, δ with zeros inserted, the dilated kernel, the full convolution "
                f"over the padded input, and ∂L/∂x ({H}x{W}) after cropping.")

    @staticmethod
    def _shape(a):
        return f"({a.shape[0]}x{a.shape[1]})"


def stride_padding(input_shape=(7, 7), kernel=None, *, stride=2, padding=0, dilation=1, show=True):
    """Sliders for stride, padding and dilation of a one-channel convolution; shows the output size, δ after
    zero insertion and the resulting ∂L/∂x.

    input_shape: (H, W) of x; kernel: (KH, KW) array (default: a non-symmetric 3x3 of small integers).
    δ is numbered 1, 2, 3, ... so each entry can be followed to the cells of ∂L/∂x it feeds.
    CSS classes: cnnlib-stride-stride, cnnlib-stride-padding, cnnlib-stride-dilation (sliders),
    cnnlib-stride-readout (text: "output 3x3, δ after zero insertion 5x5, dx 7x7 (...)").
    Displays the interactive widget as one output (with a PNG of the starting state for front ends without a
    kernel) unless ``show=False``; returns the StridePadding object.
    """
    w = StridePadding(input_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    if show:
        w.show(w.box)
    return w
