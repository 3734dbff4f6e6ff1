"""TEMPORARY stand-ins for the helpers of cnnlib/widgets/_draw.py that the student-view work adds (same names,
same behaviour, fewer features). Delete this file once ``show_widget``, ``redraw(output, make_figure, alt)`` and
``text_color`` are in _draw.py on main."""

import base64
import io

import matplotlib.pyplot as plt

DPI = 100
MIN_FONT_PT = 8


def text_color(rgba):
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG relative luminance)."""
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "white"


def png_base64(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def redraw(output, make_figure, alt=None):
    """Replace what an ipywidgets.Output shows with a new figure (PNG with alt text) from ``make_figure()``."""
    fig = make_figure()
    try:
        alt = alt() if callable(alt) else (alt or "")
        output.outputs = ({"output_type": "display_data", "metadata": {"image/png": {"alt": alt}},
                           "data": {"image/png": png_base64(fig), "text/plain": f"[figure: {alt}]"}},)
    finally:
        plt.close(fig)


def show_widget(container, fig, alt):
    """Display ``container`` as ONE output that also holds a PNG of ``fig`` (with alt text) as its fallback."""
    from IPython.display import display

    try:
        bundle = dict(container._repr_mimebundle_())
        bundle["image/png"] = png_base64(fig)
    finally:
        plt.close(fig)
    bundle["text/plain"] = f"[interactive figure: {alt}]"
    display(bundle, raw=True, metadata={"image/png": {"alt": alt}})
