"""Small drawing and wiring helpers shared by the widgets.

Widgets keep their state in plain attributes (so headless tests can read it) and draw with matplotlib.
Every control gets a stable CSS class ``cnnlib-<widget>-<part>`` so browser tests can find it.
"""

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["draw_matrix", "tag", "static_figure", "redraw"]


def tag(widget, name, part):
    """Give an ipywidget the CSS class ``cnnlib-<name>-<part>`` and return it."""
    widget.add_class(f"cnnlib-{name}-{part}")
    return widget


def draw_matrix(ax, a, *, title=None, highlight=None, highlight_color="tab:orange", fmt="{:.2g}", cmap="RdBu_r",
                annotate=True, vlim=None):
    """Draw a 2-D array (H, W) as a grid of coloured cells with their values written in.

    highlight: a boolean mask of shape (H, W); those cells get a thick outline.
    vlim: symmetric colour limit (defaults to max |a|), so zero is always white.
    """
    a = np.asarray(a, dtype=float)
    lim = vlim if vlim is not None else (np.abs(a).max() or 1.0)
    ax.imshow(a, cmap=cmap, vmin=-lim, vmax=lim)
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.tick_params(length=0, labelsize=7)
    if annotate and a.size <= 400:
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7)
    if highlight is not None:
        for i, j in np.argwhere(highlight):
            ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                                      edgecolor=highlight_color, linewidth=2.5))
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def static_figure(fig):
    """Show ``fig`` as a plain image output (what GitHub renders) and close it so it is not drawn twice."""
    from IPython.display import display

    display(fig)
    plt.close(fig)


def figure_output(fig):
    """``fig`` as one display_data output (PNG), the form an ipywidgets.Output keeps in its ``outputs``."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": repr(fig)}}


def redraw(output, make_figure):
    """Replace what an ipywidgets.Output shows with a new figure from ``make_figure()``.

    Sets the Output's ``outputs`` state in one assignment rather than capturing with ``with output:``: Voila's
    executor imitates a captured Output widget and can stall the page on it (voila-dashboards/voila#1428)."""
    fig = make_figure()
    try:
        output.outputs = (figure_output(fig),)
    finally:
        plt.close(fig)
