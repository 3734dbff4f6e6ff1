"""Small drawing and wiring helpers shared by the widgets.

Widgets keep their state in plain attributes (so headless tests can read it) and draw with matplotlib.
Every control gets a stable CSS class ``cnnlib-<widget>-<part>`` so browser tests can find it.

One figure per widget: ``show_widget`` displays a single output that carries the live widget view *and* a PNG of
its starting figure (with alt text). A front end with a kernel renders the widget, whose figure is redrawn on every
change; one without a kernel (GitHub, nbviewer, a notebook just opened, the HTML export) shows the PNG.

Legibility, by measure: figures are drawn at ``DPI`` and at most ``MAX_WIDTH_IN`` inches wide, so JupyterLab shows
them at full size in a 1440 px window (its notebook column is wider than ``MAX_WIDTH_IN * DPI`` pixels). Text is
at least ``MIN_FONT_PT``, i.e. ``MIN_FONT_PT * DPI / 72`` px on screen; tests/test_figure_legibility.py measures it.
"""

import base64
import html
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .._display import describe_figure, image_metadata

__all__ = ["draw_matrix", "tag", "redraw", "show_widget", "figure_output", "png_base64", "text_color",
           "DPI", "MAX_WIDTH_IN", "MIN_FONT_PT", "show_toggle_state"]

DPI = 100
MAX_WIDTH_IN = 9.0       # 900 px at DPI 100: fits JupyterLab's notebook column at 1440 px without shrinking
MIN_FONT_PT = 8          # 8 pt at 100 dpi = 11.1 px
CELL_FONT_PT = 9
TITLE_FONT_PT = 10


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


def draw_matrix(ax, a, *, title=None, highlight=None, highlight_color="tab:orange", fmt="{:.2g}", cmap="RdBu_r",
                annotate=True, vlim=None, colorbar=False, fontsize=CELL_FONT_PT):
    """Draw a 2-D array (H, W) as a grid of coloured cells with their values written in.

    highlight: a boolean mask of shape (H, W); those cells get a thick outline.
    vlim: symmetric colour limit (defaults to max |a|), so zero is always white. Pass the same vlim to panels that
    are compared, so one colour means one value.
    Each number is written in black or white, whichever contrasts more with its cell.
    colorbar: add a colour bar beside the panel (where the magnitude matters). Returns the image.
    """
    a = np.asarray(a, dtype=float)
    lim = vlim if vlim is not None else (np.abs(a).max() or 1.0)
    image = ax.imshow(a, cmap=cmap, vmin=-lim, vmax=lim)
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.tick_params(length=0, labelsize=MIN_FONT_PT)
    if annotate and a.size <= 400:
        for (i, j), v in np.ndenumerate(a):
            colour = text_color(image.cmap(image.norm(v)))
            ax.text(j, i, _number(fmt, v), ha="center", va="center", fontsize=fontsize, color=colour)
    if highlight is not None:
        for i, j in np.argwhere(highlight):
            ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                                      edgecolor=highlight_color, linewidth=2.5))
    if title:
        ax.set_title(title, fontsize=TITLE_FONT_PT)
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
    return image


def _number(fmt, v):
    """fmt.format(v), without the minus sign of a number that rounds to zero ("-0.00" reads as a negative value)."""
    text = fmt.format(v)
    if text.startswith("-") and float(text) == 0:
        return text[1:]
    return text


def png_base64(fig):
    """The figure as a base64 PNG at DPI, cropped to its content."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figure_output(fig, alt=None):
    """``fig`` as one display_data output (PNG with alt text), the form an ipywidgets.Output keeps in ``outputs``."""
    alt = alt or describe_figure(fig)
    png = png_base64(fig)
    # JupyterLab and Voila draw image/png without its alt text; the text/html form (preferred by both) carries it
    img = f'<img src="data:image/png;base64,{png}" alt="{html.escape(alt, quote=True)}"/>'
    return {"output_type": "display_data", "metadata": {"image/png": image_metadata(fig, DPI, alt)},
            "data": {"text/html": img, "image/png": png, "text/plain": f"[figure: {alt}]"}}


def redraw(output, make_figure, alt=None):
    """Replace what an ipywidgets.Output shows with a new figure from ``make_figure()``.

    Sets the Output's ``outputs`` state in one assignment rather than capturing with ``with output:``: Voila's
    executor imitates a captured Output widget and can stall the page on it (voila-dashboards/voila#1428)."""
    fig = make_figure()
    try:
        output.outputs = (figure_output(fig, alt() if callable(alt) else alt),)
    finally:
        plt.close(fig)


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
