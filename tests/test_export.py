"""The static HTML export (cnnlib.export) on tiny notebooks of our own: executed in a fresh kernel, the figure kept
as PNG data, the widget state embedded, an index listing the pages in order, and clear errors."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnnlib import export as ex

FIGURE = """\
%matplotlib inline
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([0, 1, 2], [2, 0, 1])
plt.show()
"""
WIDGET = """\
import ipywidgets as w
s = w.IntSlider(value=3, min=0, max=9, description="n")
r = w.HTML(value="n squared = 9")
s.observe(lambda ch: setattr(r, "value", f"n squared = {ch['new'] ** 2}"), names="value")
s.value = 4
w.VBox([s, r])
"""


def write(path, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def series(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    first = write(src / "01_first.ipynb", [new_markdown_cell("# 01 · A figure and a widget\n\nSome prose."),
                                           new_code_cell(FIGURE), new_code_cell(WIDGET)])
    second = write(src / "02_second.ipynb", [new_markdown_cell("# 02 · Plain arithmetic"), new_code_cell("6 * 7")])
    return [first, second]


def test_export_executes_and_embeds_figure_and_widget_state(series, tmp_path):
    out = tmp_path / "site"
    lines = []
    pages = ex.export(series, out=out, execute=True, log=lines.append)
    assert [p.name for p in pages] == ["01_first.html", "02_second.html"]
    page = (out / "01_first.html").read_text()
    assert 'src="data:image/png;base64,' in page  # the matplotlib figure, embedded
    assert "application/vnd.jupyter.widget-state+json" in page
    assert "application/vnd.jupyter.widget-view+json" in page
    state = json.loads(re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>',
                                 page, re.S).group(1))
    values = [m["state"].get("value") for m in state["state"].values()]
    assert 4 in values and "n squared = 16" in values  # the state after the cell ran, not the initial one
    assert "42" in (out / "02_second.html").read_text()  # executed: the source had no output
    # one progress line per notebook, then where it wrote
    assert any(l.startswith("[1/2] 01_first.ipynb: executed") for l in lines)
    assert any(l.startswith("[2/2] 02_second.ipynb: executed") for l in lines)
    assert str((out / "index.html").resolve()) in lines[-1]
    # the sources are untouched
    assert all(not c.get("outputs") for c in nbformat.read(series[1], as_version=4).cells if c.cell_type == "code")


def test_a_widget_with_a_png_fallback_is_exported_as_its_figure(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    cell = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import ipywidgets as w
from cnnlib.widgets._draw import show_widget
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([0, 1], [1, 0])
show_widget(w.VBox([w.IntSlider(description="n")]), fig, "A falling line from (0, 1) to (1, 0).")
"""
    path = write(src / "01_fallback.ipynb", [new_markdown_cell("# 01 · Fallback"), new_code_cell(cell)])
    out = tmp_path / "site"
    ex.export([path], out=out, execute=True, log=lambda _: None)
    page = (out / "01_fallback.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1
    assert 'alt="A falling line from (0, 1) to (1, 0)."' in page
    assert "application/vnd.jupyter.widget-view+json" not in page
    assert "cnnlib-accessible-colours" in page


def test_index_lists_pages_in_order_with_their_titles(series, tmp_path):
    out = tmp_path / "site"
    ex.export(series, out=out, execute=False, log=lambda _: None)
    index = (out / "index.html").read_text()
    first, second = index.index('href="01_first.html"'), index.index('href="02_second.html"')
    assert first < second
    assert "A figure and a widget" in index and "Plain arithmetic" in index
    assert "01 ·" not in index  # the number prefix is dropped from the description


def test_no_execute_keeps_saved_outputs_only(series, tmp_path):
    out = tmp_path / "site"
    ex.export(series, out=out, execute=False, log=lambda _: None)
    assert 'src="data:image/png' not in (out / "01_first.html").read_text()  # never run, so no figure


def test_failing_notebook_is_named_and_others_still_export(series, tmp_path, capsys):
    bad = write(tmp_path / "nbs" / "03_broken.ipynb", [new_code_cell("x = 1"), new_code_cell("1 / 0")])
    out = tmp_path / "site"
    named = r"(?s)03_broken\.ipynb.*1 / 0.*ZeroDivisionError: division by zero"
    with pytest.raises(ex.ExportError, match=named) as info:
        ex.export([series[1], bad], out=out, log=lambda _: None)
    assert "1 notebook(s) failed" in str(info.value)
    assert "\x1b[" not in str(info.value)  # plain text, no terminal colour codes
    assert (out / "02_second.html").exists() and not (out / "03_broken.html").exists()
    # the command line turns it into a message and exit code 1
    assert ex.main([str(bad), "--out", str(tmp_path / "site2")]) == 1
    assert "03_broken.ipynb" in capsys.readouterr().err


def test_cli_writes_site_and_says_where(series, tmp_path, capsys):
    out = tmp_path / "public"
    assert ex.main([str(p) for p in series] + ["--out", str(out), "--no-execute"]) == 0
    said = capsys.readouterr().out
    assert str((out / "index.html").resolve()) in said
    assert (out / "01_first.html").exists()


def test_find_notebooks_takes_the_numbered_series_in_order(tmp_path):
    for name in ["10_ten.ipynb", "02_two.ipynb", "scratch.ipynb", "01_one.ipynb", "01_one.txt"]:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in ex.find_notebooks(tmp_path)] == ["01_one.ipynb", "02_two.ipynb", "10_ten.ipynb"]
    with pytest.raises(ex.ExportError, match="no notebook directory"):
        ex.find_notebooks(tmp_path / "missing")


def test_index_titles_are_plain_text():
    assert ex.plain_title(r"why the gradient is $\hat y - y$") == "why the gradient is y\u0302 - y"
    assert ex.plain_title(r"$\hat{y}$ and $\alpha$") == "y\u0302 and alpha"
    assert ex.plain_title("Convolution vs correlation") == "Convolution vs correlation"


def test_pages_load_mathjax_copied_beside_them(series, tmp_path):
    import jupyter_server_mathjax
    from pathlib import Path

    out = tmp_path / "site"
    ex.export(series, out=out, execute=False, log=lambda _: None)
    page = (out / "02_second.html").read_text()
    srcs = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page)
    assert srcs == [f"mathjax/MathJax.js?config={ex.MATHJAX_CONFIG}"]  # no CDN, no require.js without widgets
    shipped = Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"
    assert (out / "mathjax" / "MathJax.js").read_bytes() == shipped.read_bytes()


def test_a_page_with_widget_state_still_gets_require_js(series, tmp_path):
    out = tmp_path / "site"
    ex.export(series[:1], out=out, execute=True, log=lambda _: None)
    page = (out / "01_first.html").read_text()
    assert "require.min.js" in page  # the widget manager that draws the saved state is an AMD module


def test_kernels_get_encrypted_channels_so_ipykernel_stays_quiet(tmp_path, capfd):
    path = write(tmp_path / "01_quiet.ipynb", [new_code_cell("6 * 7")])
    ex.export([path], out=tmp_path / "site", execute=True, log=lambda _: None)
    err = capfd.readouterr().err  # the kernel inherits our stderr
    assert "without encryption" not in err
    assert "42" in (tmp_path / "site" / "01_quiet.html").read_text()


def test_without_chromium_the_pdf_step_says_what_to_install(series, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_CHROMIUM", str(tmp_path / "no-such-browser"))
    out = tmp_path / "site"
    with pytest.raises(ex.ExportError, match=r"(?s)PDF handouts.*CNNLIB_CHROMIUM=.*no-such-browser"):
        ex.export(series, out=out, execute=False, pdf=True, log=lambda _: None)
    assert (out / "02_second.html").exists()  # the pages are written all the same
    assert "PDF" not in (out / "index.html").read_text()


def test_the_notation_link_of_every_page_reaches_a_notation_page_on_the_site(tmp_path):
    """The notebooks link ../docs/notation.md, which is not on the site: the export renders it beside the pages."""
    from cnnlib import export as ex

    first = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("01_*.ipynb"))[0]
    assert 'href="../docs/notation.md"' in ex.html_exporter().from_filename(str(first))[0]  # the raw link
    ex.export(notebooks=[first], out=tmp_path, execute=False, log=lambda *_: None)
    page = (tmp_path / first.with_suffix(".html").name).read_text(encoding="utf-8")
    assert "../docs/notation.md" not in page and 'href="notation.html"' in page
    notation = (tmp_path / "notation.html").read_text(encoding="utf-8")
    assert "Notation" in notation and "rot180" in notation


def test_prepare_keeps_only_the_figure_of_a_saved_widget_without_state(tmp_path):
    """make notebooks saves no widget state, so a saved widget view can never be drawn: --prepare keeps its PNG."""
    from cnnlib.lab import saved_figures_only

    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "image/png": "iVBORw0KGgo=", "text/plain": "figure"}
    cell = nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output("display_data", data=dict(view))])
    stateless, stateful = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), stateless)
    kept = nbformat.v4.new_notebook(cells=[cell])
    kept.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.write(kept, stateful)
    assert saved_figures_only([stateless, stateful]) == [stateless]
    (out,) = nbformat.read(stateless, as_version=4).cells[0].outputs
    assert set(out.data) == {"image/png", "text/plain"}
    (out,) = nbformat.read(stateful, as_version=4).cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" in out.data  # with its state, the view can be drawn
