"""Small drawing and wiring helpers shared by the widgets.

Widgets keep their state in plain attributes (so headless tests can read it) and draw with matplotlib.
Every control gets a stable CSS class ``cnnlib-<widget>-<part>`` so browser tests can find it.

One figure per widget, kept: a widget builds its matplotlib figure once (``LiveFigure``), and a control change
only updates that figure's artists in place (``set_data``, ``set_text``, ``set_height``; ``MatrixPanel`` does it
for the grids of numbers). The figure is rebuilt only when the shapes it shows change. A frame is drawn once on
the Agg canvas and encoded as a quickly compressed PNG; the 1-4 s a redraw took before went into building a new
figure, laying it out and cropping it on every change (benchmarks/widget_latency.py measures a redraw from the
key press to the new figure on screen).

The readout and the figure travel together: ``FigureView`` is one small anywidget that holds both, and its front
end swaps them in the same animation frame, after the new image is decoded, so the page never shows a readout
beside the wrong figure, nor a blank one. Rapid moves are coalesced: in a kernel, ``LiveFigure.refresh`` draws
the latest state once the messages waiting in the queue are handled (within ``COALESCE_S``), so a run of ten key
presses costs one or two frames, and the last frame always shows the controls at rest.

``show_widget`` displays a single output that carries the live widget view *and* a PNG of its starting figure
(with alt text). A front end with a kernel renders the widget; one without a kernel (GitHub, nbviewer, a notebook
just opened, the HTML export) shows the PNG.

Legibility, by measure: figures are drawn at ``DPI`` and at most ``MAX_WIDTH_IN`` inches wide, so JupyterLab shows
them at full size in a 1440 px window (its notebook column is wider than ``MAX_WIDTH_IN * DPI`` pixels). Text is
at least ``MIN_FONT_PT``, i.e. ``MIN_FONT_PT * DPI / 72`` px on screen; tests/test_figure_legibility.py measures it.
"""

import asyncio
import base64
import io
import traceback

import anywidget
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._display import describe_figure, image_metadata

__all__ = ["MatrixPanel", "draw_matrix", "tag", "show_widget", "png_base64", "frame_png", "new_figure",
           "text_color", "FigureView", "LiveFigure", "DPI", "MAX_WIDTH_IN", "MIN_FONT_PT", "show_toggle_state",
           "COALESCE_S"]

DPI = 100
MAX_WIDTH_IN = 9.0       # 900 px at DPI 100: fits JupyterLab's notebook column at 1440 px without shrinking
MIN_FONT_PT = 8          # 8 pt at 100 dpi = 11.1 px
CELL_FONT_PT = 9
TITLE_FONT_PT = 10
COALESCE_S = 0.03        # changes that arrive within 30 ms of each other make one frame
KEPT_LAYOUTS = 12        # figures a widget keeps, one per layout (shapes) it showed last


def tag(widget, name, part):
    """Give an ipywidget the CSS class ``cnnlib-<name>-<part>`` and return it."""
    widget.add_class(f"cnnlib-{name}-{part}")
    return widget


def show_toggle_state(toggle, label):
    """Write a ToggleButton's state in words, icon and colour ("label: ON" ✓ green / "label: OFF" ✗), so whether
    it is pressed never depends on a faint shade; a screen reader announces the new description as well."""
    on = bool(toggle.value)
    toggle.description = f"{label}: {'ON' if on else 'OFF'}"
    toggle.icon = "check" if on else "times"
    toggle.button_style = "success" if on else ""
    toggle.layout.width = "max-content"


def text_color(rgba):
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG relative luminance)."""
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05): equal at L ≈ 0.179
    return "black" if luminance > 0.179 else "white"


def new_figure(figsize, **kwargs):
    """A matplotlib Figure on its own Agg canvas, outside pyplot: a kernel's inline backend never shows it by
    itself, and it lives as long as the widget that keeps it (pyplot's figures are closed after each cell)."""
    fig = Figure(figsize=figsize, dpi=DPI, **kwargs)
    FigureCanvasAgg(fig)
    return fig


# ---------------------------------------------------------------------------------------------- matrix panels
class MatrixPanel:
    """A 2-D array (H, W) drawn as a grid of coloured cells with its values written in, on one Axes, whose artists
    are kept and updated in place by ``draw`` (``set_data``, ``set_text``, ``set_color``): drawing the next state
    of a widget creates no new artist unless the array's shape changed.

    cmap: a diverging map; the colour limit is symmetric (vlim, default max |a|), so zero is always white. Pass
    the same vlim to panels that are compared, so one colour means one value. Each number is written in black or
    white, whichever contrasts more with its cell. colorbar: a colour bar beside the panel (where the magnitude
    matters)."""

    def __init__(self, ax, *, cmap="RdBu_r", fmt="{:.2g}", annotate=True, colorbar=False, fontsize=CELL_FONT_PT):
        self.ax, self.cmap, self.fmt, self.annotate = ax, cmap, fmt, annotate
        self.colorbar, self.fontsize = colorbar, fontsize
        self.image, self.texts, self.boxes, self.bar, self.shape = None, [], [], None, None

    def _setup(self, a):
        for artist in [self.image, *self.texts]:
            if artist is not None:
                artist.remove()
        ax = self.ax
        self.image = ax.imshow(a, cmap=self.cmap, vmin=-1, vmax=1)
        ax.set_xticks(range(a.shape[1]))
        ax.set_yticks(range(a.shape[0]))
        ax.tick_params(length=0, labelsize=MIN_FONT_PT)
        self.texts = []
        if self.annotate and a.size <= 400:
            self.texts = [ax.text(j, i, "", ha="center", va="center", fontsize=self.fontsize)
                          for i, j in np.ndindex(*a.shape)]
        if self.colorbar and self.bar is None:
            self.bar = ax.figure.colorbar(self.image, ax=ax, fraction=0.046, pad=0.04)
            self.bar.ax.tick_params(labelsize=MIN_FONT_PT)
        self.shape = a.shape

    def draw(self, a, *, title=None, highlight=None, highlight_color="tab:orange", vlim=None, fmt=None):
        """Show ``a``; ``highlight``: a boolean mask (H, W) whose cells get a thick outline. Returns the image."""
        a = np.asarray(a, dtype=float)
        if a.ndim != 2:
            raise ValueError(f"MatrixPanel.draw expected a 2-D array (H, W), got shape {a.shape}")
        if a.shape != self.shape:
            self._setup(a)
        lim = vlim if vlim is not None else (np.abs(a).max() or 1.0)
        self.image.set_data(a)
        self.image.set_clim(-lim, lim)
        fmt = fmt or self.fmt
        if self.texts:
            colours = self.image.cmap(self.image.norm(a.ravel()))
            for text, v, rgba in zip(self.texts, a.ravel(), colours):
                text.set_text(_number(fmt, v))
                text.set_color(text_color(rgba))
        cells = np.argwhere(highlight) if highlight is not None else np.empty((0, 2), dtype=int)
        while len(self.boxes) < len(cells):
            self.boxes.append(self.ax.add_patch(matplotlib.patches.Rectangle((0, 0), 1, 1, fill=False,
                                                                             linewidth=2.5)))
        for box, (i, j) in zip(self.boxes, cells):
            box.set_xy((j - 0.5, i - 0.5))
            box.set_edgecolor(highlight_color)
            box.set_visible(True)
        for box in self.boxes[len(cells):]:
            box.set_visible(False)
        self.ax.set_title(title or "", fontsize=TITLE_FONT_PT)
        return self.image


def draw_matrix(ax, a, *, title=None, highlight=None, highlight_color="tab:orange", fmt="{:.2g}", cmap="RdBu_r",
                annotate=True, vlim=None, colorbar=False, fontsize=CELL_FONT_PT):
    """Draw a 2-D array (H, W) once on ``ax`` (a MatrixPanel that is not kept); returns the image."""
    panel = MatrixPanel(ax, cmap=cmap, fmt=fmt, annotate=annotate, colorbar=colorbar, fontsize=fontsize)
    return panel.draw(a, title=title, highlight=highlight, highlight_color=highlight_color, vlim=vlim)


def _number(fmt, v):
    """fmt.format(v), without the minus sign of a number that rounds to zero ("-0.00" reads as a negative value)."""
    text = fmt.format(v)
    if text.startswith("-") and float(text) == 0:
        return text[1:]
    return text


# ---------------------------------------------------------------------------------------------- PNG
def png_base64(fig):
    """The figure as a base64 PNG at DPI, cropped to its content (the saved fallback of a widget)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def frame_png(fig):
    """One live frame: ``fig`` drawn once on its Agg canvas at its own size (no second pass to crop it), encoded
    as PNG with zlib level 1 (a few ms; matplotlib's default level took most of the encoding time). Returns bytes."""
    from PIL import Image

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    buf = io.BytesIO()
    Image.fromarray(rgba[..., :3]).save(buf, format="png", compress_level=1)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- the live view
VIEW_ESM = """
function render({ model, el }) {
  const name = model.get("name");
  el.classList.add("cnnlib-view", "cnnlib-" + name + "-view");
  const readout = document.createElement("div");
  readout.className = "cnnlib-readout cnnlib-" + name + "-readout";
  const img = document.createElement("img");
  img.className = "cnnlib-figure cnnlib-" + name + "-figure";
  el.append(readout, img);
  let shown = null;
  let latest = 0;
  async function show() {
    const ticket = ++latest;
    const html = model.get("readout");
    const alt = model.get("alt");
    const frame = model.get("frame");
    const png = model.get("png");
    if (!png || png.byteLength === 0) {
      readout.innerHTML = html;
      return;
    }
    const url = URL.createObjectURL(new Blob([png], { type: "image/png" }));
    const next = new Image();
    next.src = url;
    try { await next.decode(); } catch (e) { /* swapped in below all the same: the browser shows what it can */ }
    if (ticket !== latest) { URL.revokeObjectURL(url); return; }  // a newer frame came meanwhile: it wins
    img.src = url;            // decoded already: the new figure and its readout appear in the same frame
    img.alt = alt;
    img.dataset.frame = String(frame);
    readout.innerHTML = html;
    if (shown) { URL.revokeObjectURL(shown); }
    shown = url;
  }
  model.on("change:frame", show);
  show();
  return () => { model.off("change:frame", show); if (shown) { URL.revokeObjectURL(shown); } };
}
export default { render };
"""

VIEW_CSS = """
.cnnlib-view .cnnlib-readout { font-family: var(--jp-ui-font-family, sans-serif);
  font-size: var(--jp-widgets-font-size, 13px); line-height: 1.4; margin: 4px 0; }
.cnnlib-view .cnnlib-readout pre { margin: 0; font-size: inherit; white-space: pre-wrap; }
.cnnlib-view img { display: block; max-width: 100%; height: auto; }
"""


class FigureView(anywidget.AnyWidget):
    """The readout (HTML) and the figure (PNG bytes) of a widget, in one model: set them inside ``hold_sync`` and
    they reach the page in one message; the front end decodes the image first, then shows both at once. The
    readout carries the CSS class ``cnnlib-<name>-readout``, the image ``cnnlib-<name>-figure`` and its alt text."""

    _esm = VIEW_ESM
    _css = VIEW_CSS
    name = traitlets.Unicode("").tag(sync=True)
    readout = traitlets.Unicode("").tag(sync=True)
    png = traitlets.Bytes(b"").tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LiveFigure:
    """What every widget shares: one kept figure, redrawn in place, and a view that shows it with the readout.

    A widget defines ``name``, ``readout_html`` (set by its ``update``), ``alt_text()``, ``_build()`` -> (fig,
    parts) (the figure and the artists or MatrixPanels it keeps), ``_paint(parts)`` (update those artists to
    the current state) and, when a control can change the shapes shown, ``_layout_key()``. Its ``update`` ends
    with ``self.refresh()``.

    ``figure()`` builds a new, separate figure of the current state (the saved PNG, tests); the live frames come
    from the kept one (``frame()``), which is rebuilt only when ``_layout_key()`` changes."""

    _live = False
    _pending = False
    readout_html = ""

    @property
    def view(self):
        if getattr(self, "_view", None) is None:
            self._view = FigureView(name=self.name)
        return self._view

    def _layout_key(self):
        return None

    def _arrange(self, fig):
        fig.tight_layout()

    def _make(self):
        fig, parts = self._build()
        self._paint(parts)
        self._arrange(fig)
        return fig, parts

    def figure(self):
        """A new matplotlib figure of the current state."""
        return self._make()[0]

    def frame(self):
        """The PNG bytes of the current state, drawn on the kept figure of its layout: built on first use of that
        layout, then updated in place. The last few layouts are kept, so going back to a stride or a kernel size
        seen before costs one draw, not a new figure."""
        key = self._layout_key()
        kept = self.__dict__.setdefault("_canvases", {})
        if key in kept:
            fig, parts = kept.pop(key)
            self._paint(parts)
        else:
            fig, parts = self._make()
        kept[key] = (fig, parts)  # most recently used last
        while len(kept) > KEPT_LAYOUTS:
            kept.pop(next(iter(kept)))
        return frame_png(fig)

    def refresh(self):
        """Show the current state: at once outside a kernel; in a kernel, after the changes already waiting are
        handled (the latest state wins). A widget that is not shown only updates its readout."""
        if not self._live:
            self.view.readout = self.readout_html
            return
        loop = _running_loop()
        if loop is None:
            self.render()
        elif not self._pending:
            self._pending = True
            loop.call_later(COALESCE_S, self._render_pending)

    def _render_pending(self):
        self._pending = False
        try:
            self.render()
        except Exception:  # a failed frame says so in the readout: it must never leave a stale figure unexplained
            with self.view.hold_sync():
                self.view.readout = ("<pre>the figure could not be drawn:\n"
                                     + traceback.format_exc(limit=3).replace("<", "&lt;") + "</pre>")
                self.view.frame += 1
            raise

    def render(self):
        """Draw the current state and send figure and readout to the page in one message."""
        png = self.frame()
        view = self.view
        with view.hold_sync():
            view.png = png
            view.readout = self.readout_html
            view.alt = self.alt_text()
            view.frame += 1

    def show(self, container):
        """Display ``container`` once, live, with a PNG of the current state for front ends without a kernel."""
        self._live = True
        self.render()
        show_widget(container, self.figure(), self.alt_text())


def show_widget(container, fig, alt):
    """Display ``container`` (an ipywidget) as ONE output that also holds a PNG of ``fig``, its starting figure.

    With a kernel, the front end renders the widget view (the live figure sits inside it). Without one, widget
    views are not rendered (untrusted or no widget state), and the front end falls back to the PNG, never to the
    widget's repr. nbconvert and GitHub pick the PNG as well."""
    from IPython.display import display

    try:
        bundle = dict(container._repr_mimebundle_())
        bundle["image/png"] = png_base64(fig)
        metadata = {"image/png": image_metadata(fig, DPI, alt)}
    finally:
        plt.close(fig)
    bundle["text/plain"] = f"[interactive figure: {alt}]"
    display(bundle, raw=True, metadata=metadata)
    if _has_slider(container):
        display({"application/javascript": SLIDER_NAMES_JS}, raw=True)


def _has_slider(widget):
    """True if ``widget`` or anything inside it is an ipywidgets slider."""
    if type(widget).__name__.endswith("Slider"):
        return True
    return any(_has_slider(child) for child in getattr(widget, "children", ()))


# ipywidgets draws a slider's handle as <div role="slider"> (noUiSlider) and offers no way to give it an accessible
# name: its description is a separate <label> that nothing points to, so a screen reader announces only a number
# (axe-core rule aria-input-field-name). This script, shown (invisibly) with each widget, gives every unnamed handle
# the text of its slider's description as aria-label, now and whenever the page draws new widgets. It runs where the
# page runs the notebook's JavaScript outputs (JupyterLab, for a notebook run in the session: checked with axe-core
# in tests/browser); GitHub and nbviewer ignore it, and there the widget is the static PNG anyway.
SLIDER_NAMES_JS = """
(function () {
  if (window.cnnlibSliderNames) { window.cnnlibSliderNames(); return; }
  function name() {
    document.querySelectorAll('.widget-slider').forEach(function (slider) {
      var label = slider.querySelector('.widget-label');
      var text = label ? label.textContent.trim() : '';
      slider.querySelectorAll('[role="slider"]').forEach(function (handle) {
        if (!handle.getAttribute('aria-label')) { handle.setAttribute('aria-label', text || 'slider'); }
      });
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; name(); });
  }).observe(document.body, {childList: true, subtree: true});
  window.cnnlibSliderNames = name;
  name();
})();
"""
