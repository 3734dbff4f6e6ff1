"""Notebooks 10 and 11 as committed: every figure carries alt text, the widget is shown once, and the numbers the
closing notes quote are the ones the notebooks print."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SEQUELS = ["11_transposed_convolution.ipynb", "12_autodiff.ipynb"]


def outputs(name):
    nb = json.loads((NOTEBOOKS / name).read_text())
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("name", SEQUELS)
def test_every_figure_has_alt_text(name):
    figures = [o for o in outputs(name) if "image/png" in o.get("data", {})]
    assert figures or name.startswith("12")  # notebook 12 (autodiff) draws no figure
    for o in figures:
        alt = o.get("metadata", {}).get("image/png", {}).get("alt", "")
        assert len(alt.split()) >= 8, f"{name}: a figure without a real alt text: {alt!r}"


def test_the_overlap_widget_is_saved_as_one_figure_with_alt_text():
    """Saved without widget state (make notebooks), the widget keeps its PNG and alt text, not a dead widget view."""
    figures = [o for o in outputs(SEQUELS[0]) if "kernel size 3 and stride 2" in
               o.get("metadata", {}).get("image/png", {}).get("alt", "")]
    assert len(figures) == 1 and "image/png" in figures[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" not in figures[0]["data"]


def test_the_autoencoder_error_printed_is_under_the_asserted_bound():
    text = "".join("".join(o.get("text", "")) for o in outputs(SEQUELS[0]) if o.get("output_type") == "stream")
    line = next(l for l in text.splitlines() if l.startswith("test reconstruction error"))
    error = float(line.split(":")[1].split()[0])
    assert 0 < error < 0.003
