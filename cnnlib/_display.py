"""Alt text for every figure a notebook shows.

``import cnnlib`` inside IPython registers a PNG formatter for matplotlib figures that also returns metadata
``{"alt": <one sentence>}``: Jupyter keeps it in the output's ``metadata["image/png"]["alt"]`` and nbconvert writes
it into the exported page's ``<img alt=...>``. The sentence is ``fig.cnnlib_alt`` when a notebook set one
(``describe(fig, "...")``), else it is built from the figure's titles and axis labels.
"""

import base64
import io

__all__ = ["describe", "describe_figure", "enable_alt_text", "image_metadata", "smallest_text_px"]


def describe(fig, text):
    """Give ``fig`` the one-sentence description its image output carries as alt text; returns ``fig``."""
    fig.cnnlib_alt = text
    return fig


def _clean(text):
    return " ".join(str(text).replace("$", "").split())


def describe_figure(fig):
    """One sentence that says what the figure shows: its own description, or its title and panel titles."""
    own = getattr(fig, "cnnlib_alt", None)
    if own:
        return own
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(_clean(suptitle.get_text()))
    panels = []
    for ax in fig.get_axes():
        if ax.get_label() == "<colorbar>":
            continue
        title = _clean(ax.get_title() or ax.get_title("left") or ax.get_title("right"))
        labels = [_clean(s) for s in (ax.get_xlabel(), ax.get_ylabel()) if s]
        if title and labels:
            panels.append(f"{title} ({' against '.join(reversed(labels))})")
        elif title:
            panels.append(title)
        elif labels:
            panels.append(" against ".join(reversed(labels)))
    n = len([ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>"])
    what = "A figure" if n <= 1 else f"A figure of {n} panels"
    if panels:
        what += ": " + "; ".join(panels)
    if parts:
        what = parts[0] + ". " + what
    return what.rstrip(".") + "."


def smallest_text_px(fig, dpi):
    """Height in pixels of the smallest visible text of ``fig`` in a PNG saved at ``dpi`` (s pt is s·dpi/72 px), or
    None if it has no text. Call it after the figure was drawn (saving draws it), so that tick labels exist."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return round(min(sizes) * dpi / 72, 2) if sizes else None


def image_metadata(fig, dpi, alt=None):
    """The metadata of a figure's image/png output: its alt text, and the size of its smallest text at 1:1, which
    tests/test_student_view.py scales by the width JupyterLab shows the image at."""
    return {"alt": alt or describe_figure(fig), "smallest_text_px": smallest_text_px(fig, dpi)}


def _png_with_alt(fig):
    if not fig.axes and not fig.lines:
        return None
    import matplotlib

    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="png", bbox_inches="tight", facecolor="white")
    dpi = matplotlib.rcParams["savefig.dpi"]
    return base64.b64encode(buf.getvalue()).decode("ascii"), image_metadata(fig, fig.dpi if dpi == "figure" else dpi)


def enable_alt_text(shell=None):
    """Register the PNG-with-alt-text formatter in the running IPython (a no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = shell or get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from matplotlib.figure import Figure

    shell.display_formatter.formatters["image/png"].for_type(Figure, _png_with_alt)
    return True
