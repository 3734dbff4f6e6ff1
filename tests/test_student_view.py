"""What a student sees in the saved notebooks and the product text.

- No internal name of the source texts (the word "seed" followed by a source's number) anywhere in the product.
- Every figure output carries a one-sentence alt text (nbconvert writes it into the page's <img alt>).
- Every widget output also carries a PNG of its starting state, so a front end without a kernel shows a figure
  and never the widget's repr; and no widget cell shows a second, static copy of its figure.
- Saved figures fit a JupyterLab column at 1440 px without being shrunk below 0.9x, and no text in any of them
  (widget or plain figure) is smaller than 9 px as JupyterLab shows it there.
"""

import base64
import io
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# "seed" used as the name of a source text: the word followed by a number 000-004 (with a space, a hyphen, an
# underscore or nothing between), "the seed's question", a function named after it. The examples below are built
# from parts so that this file does not itself contain the wording it forbids. Seeding a random generator
# (default_rng(seed), --seed) is not matched.
_W = "seed"
SOURCE_NAME = re.compile(r"seeds?[-_ ]?00[0-4]|\bthe seed'?s\b|seed_net\b", re.I)
PRODUCT = ["README.md", "docs", "cnnlib", "benchmarks", "tests", "notebooks", "pyproject.toml", "environment.yml",
           "Makefile"]
COLUMN_PX = 980  # JupyterLab's output column at 1440x900 is 1004-1008 px wide (measured in Chromium)


def product_files():
    for entry in PRODUCT:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and f.suffix in {".py", ".md", ".ipynb", ".toml", ".yml", ".txt", ""} \
                    and "__pycache__" not in f.parts and ".ipynb_checkpoints" not in f.parts:
                yield f


def test_the_pattern_finds_source_names_and_spares_rng_seeds():
    for bad in [f"{_W} 000", f"{_W.title()} 004's shapes", f"{_W}-004 net", f"{_W}004_net", f"{_W}s 000–004",
                f"the {_W}'s question", f"def {_W}_net("]:
        assert SOURCE_NAME.search(bad), bad
    for fine in ["rng = np.random.default_rng(seed)", "--seed", "args.seed", "seeded 6x6 example", "seed=0"]:
        assert not SOURCE_NAME.search(fine), fine


def test_no_source_text_is_called_a_seed_in_the_product():
    hits = []
    for f in product_files():
        rel = f.relative_to(ROOT).as_posix()
        if rel == "tests/test_student_view.py":
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            if SOURCE_NAME.search(line):
                hits.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert not hits, "name the source (see the References sections), not its internal file:\n" + "\n".join(hits)


def outputs(path):
    nb = json.loads(path.read_text())
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") in ("display_data", "execute_result"):
                    yield k, cell, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text(path):
    missing = []
    for k, _, out in outputs(path):
        if "image/png" in out["data"]:
            alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
            if len(alt.split()) < 4:
                missing.append(f"cell {k}: alt = {alt!r}")
    assert not missing, f"{path.name}: figures without a one-sentence alt text:\n" + "\n".join(missing)


PROGRESS_BAR = re.compile(r"[^|\n]*\s\d+%\|")  # tqdm's text: "training: 100%|##########| 10/10 [...]"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widget_outputs_carry_a_png_fallback_and_one_figure(path):
    problems = []
    for k, cell, out in outputs(path):
        if WIDGET_VIEW not in out["data"]:
            continue
        data = out["data"]
        text = "".join(data.get("text/plain", ""))
        if PROGRESS_BAR.match(text):  # a tqdm bar (cnnlib.progress), not a figure widget: saved in its final state
            if "100%" not in text:
                problems.append(f"cell {k}: a progress bar saved before it finished: {text[:60]!r}")
            continue
        if "image/png" not in data:
            problems.append(f"cell {k}: the widget output has no image/png fallback")
        if re.match(r"\s*(VBox|HBox|Box)\(", text):
            problems.append(f"cell {k}: the widget's text/plain is its repr: {text[:60]!r}")
        figures = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
        if len(figures) != 1:
            problems.append(f"cell {k}: {len(figures)} figures in a widget cell, expected one")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_figures_are_not_shrunk_below_0_9(path):
    from PIL import Image

    too_wide = []
    for k, _, out in outputs(path):
        if "image/png" in out["data"]:
            png = base64.b64decode("".join(out["data"]["image/png"]))
            width = Image.open(io.BytesIO(png)).size[0]
            if COLUMN_PX / width < 0.9:
                too_wide.append(f"cell {k}: {width} px, shown at {COLUMN_PX / width:.2f}x")
    assert not too_wide, f"{path.name}:\n" + "\n".join(too_wide)


MIN_TEXT_PX = 9.0


def test_smallest_text_px_is_the_font_size_at_the_saved_dpi():
    """Hand-worked: s pt at d dpi is s·d/72 px (7.2 pt at 100 dpi = 10 px; 9 pt at 72 dpi = 9 px)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlib._display import smallest_text_px

    fig, ax = plt.subplots()
    ax.set_title("title", fontsize=14)
    ax.tick_params(labelsize=7.2)
    ax.text(0.5, 0.5, "   ", fontsize=3)  # blank: not text a reader sees
    hidden = ax.text(0.5, 0.5, "hidden", fontsize=4)
    hidden.set_visible(False)
    fig.canvas.draw()
    try:
        assert smallest_text_px(fig, 100) == 10.0
        assert smallest_text_px(fig, 72) == 7.2
        ax.tick_params(labelsize=9)
        assert smallest_text_px(fig, 72) == 9.0
    finally:
        plt.close(fig)
    empty = plt.figure()
    try:
        assert smallest_text_px(empty, 100) is None
    finally:
        plt.close(empty)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_figure_text_is_smaller_than_9px_on_screen(path):
    """Every saved figure, plain or a widget's: its smallest text (recorded when the figure was saved) times the
    factor by which JupyterLab scales the PNG into a 980 px column."""
    from PIL import Image

    problems = []
    for k, _, out in outputs(path):
        if "image/png" not in out["data"]:
            continue
        meta = out.get("metadata", {}).get("image/png", {})
        if "smallest_text_px" not in meta:
            problems.append(f"cell {k}: the figure's text size was not recorded")
            continue
        if meta["smallest_text_px"] is None:
            continue  # no text at all
        width = Image.open(io.BytesIO(base64.b64decode("".join(out["data"]["image/png"])))).size[0]
        shown = meta["smallest_text_px"] * min(1.0, COLUMN_PX / width)
        if shown < MIN_TEXT_PX:
            problems.append(f"cell {k}: text of {shown:.1f} px on screen ({meta['smallest_text_px']} px in a "
                            f"{width} px PNG)")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_widget_state_is_saved(path):
    """Saved widget state would make nbconvert (JupyterLab's File > Save and Export as HTML) draw each widget from
    that state with scripts from a CDN: blank offline. Without it, every viewer falls back to the widget's PNG."""
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], f"{path.name}: saved widget state (re-run it with `make notebooks`)"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if WIDGET_VIEW in p.read_text()], ids=lambda p: p.stem)
def test_plain_nbconvert_html_shows_every_figure(path):
    """`jupyter nbconvert --to html` on the saved notebook, no kernel, no network: each image output becomes an
    <img>, and no widget is left to be drawn by a script. (nbconvert's lab template does not copy the alt text from
    the output's metadata; `python -m cnnlib.export` does, tests/browser/test_export_accessibility.py.)"""
    from html.parser import HTMLParser

    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(path))
    images = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                images.append(dict(attrs))

    Images().feed(body)
    expected = ["".join(out["data"]["image/png"]).replace("\n", "") for _, _, out in outputs(path)
                if "image/png" in out["data"]]
    drawn = [img["src"].removeprefix("data:image/png;base64,") for img in images
             if img.get("src", "").startswith("data:image/png")]
    assert drawn == expected, f"{path.name}: {len(drawn)} figures drawn, {len(expected)} saved"
    assert WIDGET_VIEW not in body, f"{path.name}: a widget view is left for a script to draw"
