"""The exported site of the real series works with no network: every request that leaves the machine is blocked
(only file:// and 127.0.0.1 answer), and still every page's formulas are typeset by MathJax, none is left as raw
``$...$``, axe-core finds no serious violation on the typeset pages, and each notebook's PDF handout carries its
figures and no raw TeX."""

import collections
import re
import shutil
import subprocess

import nbformat
import pytest

from browser_support import NOTEBOOKS, serious_violations
from test_export_accessibility import WCAG
from test_export_pages import png_outputs

LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "file:", "data:", "blob:", "about:")

# resolves once MathJax has typeset the page (its queue runs our callback after the startup typeset)
TYPESET = "() => new Promise(done => window.MathJax ? MathJax.Hub.Queue(() => done(true)) : done(false))"
# the text of the page's rendered markdown, without code, scripts (MathJax keeps each formula's TeX in a script)
# and MathJax's own output: a `$` left there is a formula MathJax did not typeset
MARKDOWN_TEXT = """() => [...document.querySelectorAll('.jp-RenderedMarkdown')].map(el => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('code, pre, script, .MathJax, .MathJax_Display, .MathJax_Preview, .MJX_Assistive_MathML')
        .forEach(n => n.remove());
    return copy.textContent;
}).join('\\n')"""
FORMULAS = """() => [...document.querySelectorAll('script[type^="math/tex"]')].map(s => ({
    tex: s.textContent.slice(0, 80),
    rendered: !!document.getElementById(s.id + '-Frame') && document.getElementById(s.id + '-Frame').offsetWidth > 0,
}))"""


def markdown_dollars(nb):
    return sum(c.source.count("$") for c in nb.cells if c.cell_type == "markdown")


def code_dollars(nb):
    """`$` signs a code cell or its text output may show (they are not formulas)."""
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += cell.source.count("$")
        for out in cell.get("outputs", []):
            n += "".join(out.get("text", "")).count("$") + "".join(out.get("data", {}).get("text/plain", "")).count("$")
    return n


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cnnlib.export import export, find_notebooks

    notebooks = find_notebooks(NOTEBOOKS) or pytest.skip("no notebooks yet")
    out = tmp_path_factory.mktemp("offline-site")
    export(notebooks, out=out, execute=False, pdf=True, log=lambda _: None)  # the committed outputs
    return out, notebooks


@pytest.fixture
def offline(page):
    """The page, with every request that would leave the machine recorded and refused."""
    left = []

    def refuse(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    return page, left


def typeset(page, html):
    page.goto(html.as_uri(), wait_until="load")
    assert page.evaluate(TYPESET), f"{html.name}: MathJax did not load"


def test_pages_load_mathjax_from_the_site_by_a_relative_path(site):
    out, notebooks = site
    for nb_path in notebooks:
        text = (out / (nb_path.stem + ".html")).read_text()
        scripts = re.findall(r'<script[^>]*\ssrc="([^"]+)"', text)
        assert any(s.startswith("mathjax/MathJax.js") for s in scripts), f"{nb_path.name}: {scripts}"
        assert not [s for s in scripts if re.match(r"(https?:)?//", s)], f"{nb_path.name} loads {scripts}"
    assert (out / "mathjax" / "MathJax.js").is_file()


def test_every_formula_is_typeset_with_the_network_blocked(site, offline):
    out, notebooks = site
    page, left = offline
    problems = []
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        html = out / (nb_path.stem + ".html")
        typeset(page, html)
        formulas = page.evaluate(FORMULAS)
        raw = page.evaluate(MARKDOWN_TEXT).count("$")
        errors = page.locator(".MathJax_Error, .MathJax .merror").count()
        not_drawn = [f["tex"] for f in formulas if not f["rendered"]]
        if markdown_dollars(nb) and not formulas:
            problems.append(f"{html.name}: no formula typeset (its markdown has {markdown_dollars(nb)} `$`)")
        if not_drawn or raw or errors:
            problems.append(f"{html.name}: {len(not_drawn)} of {len(formulas)} formulas not drawn {not_drawn[:3]}, "
                            f"{raw} raw `$` left, {errors} MathJax errors")
    assert not left, f"the pages asked the network for {sorted(set(left))[:5]}"
    assert not problems, "\n".join(problems)


def test_typeset_pages_have_no_serious_wcag_violation(site, offline):
    from axe_playwright_python.sync_playwright import Axe

    out, notebooks = site
    page, left = offline
    axe, found, examples = Axe(), collections.Counter(), []
    for nb_path in notebooks:
        html = out / (nb_path.stem + ".html")
        typeset(page, html)
        serious_violations(axe, page, html.name, WCAG, found, examples)
    assert not found, f"axe-core violations {dict(found)}:\n" + "\n".join(examples[:15])


def _tool(name):
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is missing: install Debian's poppler-utils", pytrace=False)
    return exe


def test_each_notebook_has_a_pdf_handout_with_its_figures_and_no_raw_tex(site):
    out, notebooks = site
    pdftotext, pdfimages = _tool("pdftotext"), _tool("pdfimages")
    problems = []
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        pdf = out / (nb_path.stem + ".pdf")
        if not pdf.is_file():
            problems.append(f"{pdf.name} was not written")
            continue
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        images = subprocess.run([pdfimages, "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
        n_images = sum(1 for line in images.splitlines()[2:] if line.split()[2:3] == ["image"])
        dollars, allowed = text.count("$"), code_dollars(nb)
        tex = re.findall(r"\\(?:frac|hat|sum|partial|delta|mathrm|operatorname|top)\b", text)
        if not text.strip():
            problems.append(f"{pdf.name}: no text")
        if dollars > allowed:
            problems.append(f"{pdf.name}: {dollars} `$` in its text, only {allowed} in code")
        if tex:
            problems.append(f"{pdf.name}: raw TeX {sorted(set(tex))}")
        if n_images < png_outputs(nb):
            problems.append(f"{pdf.name}: {n_images} images, the notebook has {png_outputs(nb)} figures")
    assert not problems, "\n".join(problems)


def test_the_index_links_each_pdf(site, page):
    out, notebooks = site
    page.goto((out / "index.html").as_uri())
    hrefs = page.locator("ol li a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert [h for h in hrefs if h.endswith(".pdf")] == [p.stem + ".pdf" for p in notebooks]


def test_plain_nbconvert_with_the_shipped_config_renders_formulas_offline(tmp_path, offline):
    import sys
    from pathlib import Path

    from browser_support import REPO

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# A formula\n\nThe output error is $\\delta^L = (\\hat y - y)/N$, and\n\n$$\\frac{\\partial L}{\\partial W}"
        " = x \\star \\delta.$$")])
    src = tmp_path / "formula.ipynb"
    nbformat.write(nb, src)
    config = REPO / "cnnlib" / "templates" / "nbconvert_offline.py"
    run = subprocess.run([sys.executable, "-m", "nbconvert", "--config", str(config), "--to", "html", str(src)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    page, left = offline
    typeset(page, Path(tmp_path / "formula.html"))
    formulas = page.evaluate(FORMULAS)
    assert len(formulas) == 2 and all(f["rendered"] for f in formulas), formulas
    assert page.evaluate(MARKDOWN_TEXT).count("$") == 0
    assert not left, left
