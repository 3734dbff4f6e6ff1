"""Export the notebook series as a static HTML site that students can read without a kernel.

    python -m cnnlib.export                       # execute every notebooks/NN_*.ipynb, write site/
    python -m cnnlib.export --out public/ --no-execute   # use the outputs already saved in the notebooks

Each notebook is executed top to bottom in a fresh kernel, then rendered by nbconvert's HTML exporter with the
figures embedded as PNG data. A widget's output carries a PNG of its starting figure next to the widget view
(cnnlib.widgets); a static page has no kernel to drive the widget, so the page shows that PNG, with its alt text,
and never a second copy. The pages use a higher-contrast palette for prompts and code (``ACCESSIBLE_CSS``) so that
they meet WCAG 2.1 AA (tests/browser/test_export_accessibility.py runs axe-core on them). ``site/index.html``
lists the notebooks in order, each with its title line. The source notebooks are never modified.

The site works offline: its formulas are typeset by a copy of the MathJax that the jupyter-server-mathjax package
installs, in ``site/mathjax/``, which the pages load by a relative path (the page template is
``cnnlib/templates/cnnlib_offline``). With ``--pdf`` (the command's default) each page is also printed to
``NN_topic.pdf`` by a headless Chromium driven by Playwright, after MathJax has typeset it: a handout to print.
"""

import argparse
import concurrent.futures
import html
import os
import re
import shutil
import sys
import time
from pathlib import Path

__all__ = ["ExportError", "export", "find_notebooks", "notebook_title", "plain_title", "static_widgets",
           "copy_mathjax", "find_chromium", "write_pdfs", "quiet_kernels", "main"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "cnnlib_offline"
# jupyter-server-mathjax ships MathJax 2.7 with this one combined configuration, the HTML-CSS output and the STIX
# web fonts; cnnlib_offline/index.html.j2 configures MathJax for exactly that
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_DIR = "mathjax"

NOTEBOOK_PATTERN = re.compile(r"^\d\d_.+\.ipynb$")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# JupyterLab's light theme draws prompts in #b0b0b0 and some code tokens below 4.5:1 on the code background
# (#f5f5f5). These colours keep the hues and reach at least 4.5:1 on #f5f5f5 (WCAG 2.1 AA, normal text).
ACCESSIBLE_CSS = """
<style id="cnnlib-accessible-colours">
:root {
  --jp-mirror-editor-keyword-color: #006300; --jp-mirror-editor-atom-color: #3333aa;
  --jp-mirror-editor-number-color: #006300; --jp-mirror-editor-def-color: #0000c8;
  --jp-mirror-editor-variable-2-color: #00366d; --jp-mirror-editor-variable-3-color: #00613a;
  --jp-mirror-editor-punctuation-color: #004a94; --jp-mirror-editor-property-color: #004a94;
  --jp-mirror-editor-operator-color: #7a14b8; --jp-mirror-editor-comment-color: #2f5f5f;
  --jp-mirror-editor-string-color: #a01c1c; --jp-mirror-editor-string-2-color: #6a0066;
  --jp-mirror-editor-meta-color: #7a14b8; --jp-mirror-editor-qualifier-color: #4a4a4a;
  --jp-mirror-editor-builtin-color: #006300; --jp-mirror-editor-bracket-color: #5e5e3a;
  --jp-mirror-editor-tag-color: #116600; --jp-mirror-editor-attribute-color: #0000b0;
  --jp-mirror-editor-header-color: #0000c8; --jp-mirror-editor-quote-color: #006600;
  --jp-mirror-editor-link-color: #0000b0; --jp-mirror-editor-error-color: #b00000;
  --jp-mirror-editor-hr-color: #595959;
  --jp-cell-inprompt-font-color: #1f5f99; --jp-cell-outprompt-font-color: #a0331a;
  --jp-content-link-color: #0b57a4; --jp-cell-prompt-not-active-font-color: #4a4a4a;
}
.jp-RenderedHTMLCommon a, .jp-RenderedHTMLCommon a:link, .jp-RenderedHTMLCommon a:visited { text-decoration: underline !important; }  /* a link in a sentence is told apart by more than colour */
.jp-Cell .jp-InputPrompt, .jp-Cell .jp-OutputPrompt { color: #4a4a4a !important; opacity: 1 !important; }
.jp-RenderedText pre .ansi-red-fg, .jp-RenderedText pre .ansi-red-intense-fg { color: #b00000; }
.jp-RenderedText pre .ansi-green-fg, .jp-RenderedText pre .ansi-green-intense-fg { color: #006300; }
.jp-RenderedText pre .ansi-cyan-fg, .jp-RenderedText pre .ansi-cyan-intense-fg { color: #00616b; }
.jp-RenderedText pre .ansi-yellow-fg, .jp-RenderedText pre .ansi-yellow-intense-fg { color: #6b5200; }
.jp-RenderedText pre .ansi-blue-fg, .jp-RenderedText pre .ansi-blue-intense-fg { color: #1f4fa0; }
.jp-RenderedText pre .ansi-magenta-fg, .jp-RenderedText pre .ansi-magenta-intense-fg { color: #8a1a8a; }
</style>
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ExportError(RuntimeError):
    """A notebook could not be executed or rendered; the message names it."""


def find_notebooks(directory):
    """The series notebooks ``NN_topic.ipynb`` in ``directory``, in order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ExportError(f"no notebook directory at {directory}")
    return sorted(p for p in directory.iterdir() if NOTEBOOK_PATTERN.match(p.name))


def notebook_title(nb, fallback):
    """The notebook's one-line description: its first ``# `` heading without the ``NN ·`` prefix."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                return re.sub(r"^\d+\s*[·:.\-–—]\s*", "", title) or fallback
    return fallback


def _default_notebook_dir():
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[1] / "notebooks"


def _kernel_sees_this_cnnlib():
    """Put the directory holding this cnnlib first on the kernels' PYTHONPATH, so an export from a checkout runs
    the notebooks against that checkout's code (the kernels inherit our environment)."""
    root = str(Path(__file__).resolve().parents[1])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root] + parts)


def quiet_kernels(client):
    """Have the kernels that ``client`` (an nbclient/nbconvert ExecutePreprocessor) starts talk over channels
    encrypted with CurveZMQ keys that the kernel manager hands out (jupyter_client >= 8.10, for a kernelspec that
    declares support, as ipykernel's does), so ipykernel has no reason to print "Kernel is running over TCP without
    encryption". Where that is not available, nothing changes. Returns ``client``."""
    manager = client.kernel_manager_class
    if "transport_encryption" not in manager.class_trait_names():
        return client
    try:
        manager(transport_encryption="auto")  # refused when pyzmq was built without CurveZMQ
    except Exception:  # noqa: BLE001 - any refusal means: leave the transport as it is
        return client
    client.config.KernelManager.transport_encryption = "auto"
    return client


def _execute(nb, path, timeout, kernel_name):
    from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

    ep = quiet_kernels(ExecutePreprocessor(timeout=timeout, kernel_name=kernel_name, store_widget_state=True))
    try:
        ep.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    except CellExecutionError as exc:
        # the exception text holds the failing cell's source and traceback; keep its head and tail
        text = ANSI.sub("", str(exc))
        if len(text) > 4000:
            text = text[:1500] + "\n[...]\n" + text[-2500:]
        raise ExportError(f"{path.name}: a cell failed while executing:\n{text}") from None
    except Exception as exc:  # kernel died, timeout, missing kernel: all end this notebook's export
        raise ExportError(f"{path.name}: execution failed: {type(exc).__name__}: {exc}") from None


def static_widgets(nb):
    """For a page without a kernel: keep each widget output's PNG fallback and drop its widget view (and the saved
    widget state, when no other widget needs it), so the page shows the figure once instead of an empty widget
    area. Returns ``nb``."""
    views_left = False
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
            views_left = views_left or WIDGET_VIEW in data
    if not views_left:  # a widget without a PNG fallback still needs the saved state to be drawn
        nb.metadata.pop("widgets", None)
    return nb


def figure_alt_texts(nb):
    """{base64 PNG: alt text} of every image output that carries ``metadata["image/png"]["alt"]``."""
    alts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            png, alt = out.get("data", {}).get("image/png"), out.get("metadata", {}).get("image/png", {}).get("alt")
            if png and alt:
                alts["".join(png).replace("\n", "")] = alt
    return alts


def accessible(page, alts=None):
    """Add ACCESSIBLE_CSS after the theme's styles, and give each figure the alt text its output carries (this
    nbconvert writes a generic "No description" instead)."""
    page = page.replace("</head>", ACCESSIBLE_CSS + "</head>", 1)
    if alts:
        def with_alt(match):
            alt = alts.get(match.group(2).replace("\n", ""))
            if alt is None:
                return match.group(0)
            tag = re.sub(r'\salt="[^"]*"', "", match.group(0))
            return tag.replace("<img", f'<img alt="{html.escape(alt, quote=True)}"', 1)

        page = re.sub(r'<img([^>]*?)src="data:image/png;base64,([^"]+)"[^>]*>', with_alt, page)
    return page


def mathjax_source():
    """The folder of the MathJax that the jupyter-server-mathjax package installs (it holds ``MathJax.js``)."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise ExportError("the page formulas need MathJax from the jupyter-server-mathjax package, which is not "
                          "installed: pip install jupyter-server-mathjax (it is a dependency of cnnlib)") from None
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise ExportError(f"jupyter-server-mathjax is installed but has no MathJax.js in {static}")
    return static


def copy_mathjax(out):
    """Copy MathJax into ``out/mathjax`` (all but the translations of its menus other than English), where the
    pages load it from by a relative path. Returns the folder."""
    src, dest = mathjax_source(), Path(out) / MATHJAX_DIR

    def skip(folder, names):
        if Path(folder) == src / "localization":
            return [n for n in names if n != "en"]
        return [n for n in names if n == "__pycache__"]

    shutil.copytree(src, dest, ignore=skip, dirs_exist_ok=True)
    return dest


def html_exporter(mathjax_url=f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"):
    """nbconvert's HTML exporter with cnnlib's page template, MathJax loaded from ``mathjax_url`` (by default the
    copy beside the page that copy_mathjax makes)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATE_DIR)], mathjax_url=mathjax_url)


def find_chromium():
    """The Chromium (or Chrome) to print the handouts with: ``$CNNLIB_CHROMIUM`` if set, else the first of
    chromium, chromium-browser, google-chrome on the PATH; None lets Playwright use a browser it installed."""
    named = os.environ.get("CNNLIB_CHROMIUM")
    if named:
        if not Path(named).is_file():
            raise ExportError(f"CNNLIB_CHROMIUM={named} is not a file")
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _only_local(route):
    """Playwright route: the page may read files and inline data, and nothing from a network."""
    if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


TYPESET = """() => new Promise(done => {
    if (!window.MathJax || !MathJax.Hub) { done("MathJax did not load"); return; }
    MathJax.Hub.Queue(() => done(document.querySelectorAll(".MathJax_Error, .MathJax .merror").length
                                 ? "MathJax reported an error in a formula" : ""));
})"""


def write_pdfs(pages, log=print, timeout_s=120):
    """Print each HTML page (a path in the exported site) to a PDF beside it, ``NN_topic.pdf``, with a headless
    Chromium (find_chromium) driven by Playwright, in print layout, once MathJax has typeset every formula.
    Nothing is fetched from a network. Returns the PDF paths; raises ExportError naming what is missing.

    Playwright runs in a thread of its own, so this also works from code that already drives a browser with
    Playwright's sync API (which allows one per thread), as the browser tests do."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ExportError("the PDF handouts need Playwright: pip install 'cnnlib[export]' (or playwright), "
                          "or export with --no-pdf") from None
    exe = find_chromium()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(_print_pages, [Path(p) for p in pages], exe, log, timeout_s, sync_playwright, PlaywrightError)
        return job.result()


def _print_pages(pages, exe, log, timeout_s, sync_playwright, PlaywrightError):
    # Chromium refuses to start as root with its sandbox on; the pages are our own exported notebooks
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    written = []
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=args, timeout=timeout_s * 1000)
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"no Chromium could be started for the PDF handouts ({exe or 'Playwright default'}: "
                              f"{first}); install Debian's chromium (apt-get install chromium), set "
                              "CNNLIB_CHROMIUM=/path/to/chromium, or export with --no-pdf") from None
        try:
            context = browser.new_context()
            context.set_default_timeout(timeout_s * 1000)
            context.route("**/*", _only_local)
            for page_path in pages:
                start = time.perf_counter()
                tab = context.new_page()
                tab.emulate_media(media="print")
                tab.goto(page_path.resolve().as_uri(), wait_until="load")
                problem = tab.evaluate(TYPESET)
                if problem:
                    raise ExportError(f"{page_path.name}: {problem}; no PDF written")
                pdf = page_path.with_suffix(".pdf")
                tab.pdf(path=str(pdf), format="A4", print_background=True,
                        margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
                tab.close()
                written.append(pdf)
                log(f"{page_path.name}: printed in {time.perf_counter() - start:.1f} s -> {pdf}")
        finally:
            browser.close()
    return written


def plain_title(title):
    """The title as plain text for the index, which has no MathJax: ``$\\hat y - y$`` becomes ``ŷ - y``."""
    title = re.sub(r"\\hat\s*(?:\{\s*(\w)\s*\}|(\w))", lambda m: (m.group(1) or m.group(2)) + "\u0302", title)
    title = re.sub(r"\\([A-Za-z]+)", r"\1", title)  # any other command: its name
    return title.replace("$", "")


NOTATION_PAGE = "notation.html"
NOTATION_LINK = 'href="../docs/notation.md"'  # how every notebook's first cell links the notation table


def write_notation(out, notebook_dir, exporter):
    """Render ``docs/notation.md`` (beside the notebooks' folder) to ``out/notation.html`` with the pages' own
    template and MathJax, so the notebooks' notation links work on the site. -> the page's name, or None when the
    file is not there (then the links are left as they are)."""
    import nbformat

    src = Path(notebook_dir).resolve().parent / "docs" / "notation.md"
    if not src.is_file():
        return None
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(src.read_text(encoding="utf-8"))])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "Notation"}})
    (Path(out) / NOTATION_PAGE).write_text(accessible(body), encoding="utf-8")
    return NOTATION_PAGE


def _index_html(entries, pdf=False):
    def pdf_link(page):
        name = Path(page).with_suffix(".pdf").name
        label = html.escape(f"{Path(page).stem} as a PDF to print", quote=True)
        return f' (<a href="{html.escape(name)}" aria-label="{label}">PDF to print</a>)' if pdf else ""

    items = "\n".join(
        f'  <li><a href="{html.escape(page)}">{html.escape(stem)}</a> — {html.escape(plain_title(title))}'
        f'{pdf_link(page)}</li>'
        for stem, page, title in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cnnlib notebooks</title>
<style>
  body {{ font-family: sans-serif; max-width: 46rem; margin: 2rem auto; line-height: 1.5; padding: 0 1rem; }}
  li {{ margin: 0.4rem 0; }}
</style>
</head>
<body>
<h1>cnnlib: backpropagation in convolutional networks</h1>
<p>The notebooks in order, executed, with their figures. The interactive widgets need a running kernel
(JupyterLab, Voila, Binder or Colab); here each shows the figure of its starting state.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


def export(notebooks=None, out="site", execute=True, timeout=600, kernel_name="python3", log=print, pdf=False):
    """Render ``notebooks`` (paths; default: the series in notebooks/) to HTML pages in ``out``, plus index.html
    and MathJax in ``out/mathjax``; with ``pdf=True`` also one PDF per page (write_pdfs).

    Returns the list of written page paths. Raises ExportError naming every notebook that failed (the pages of
    the others are still written).
    """
    import nbformat

    paths = [Path(p) for p in notebooks] if notebooks else find_notebooks(_default_notebook_dir())
    if not paths:
        raise ExportError("no notebooks to export")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if execute:
        _kernel_sees_this_cnnlib()
    copy_mathjax(out)
    exporter = html_exporter()
    notation = write_notation(out, paths[0].parent, exporter) if paths else None
    written, entries, failures = [], [], []
    for k, path in enumerate(paths, 1):
        start = time.perf_counter()
        tag = f"[{k}/{len(paths)}] {path.name}"
        if execute:
            log(f"{tag}: executing in a fresh kernel ...")
        try:
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception as exc:
                raise ExportError(f"{path.name}: cannot be read as a notebook: {exc}") from None
            if execute:
                _execute(nb, path, timeout, nb.metadata.get("kernelspec", {}).get("name", kernel_name))
            title = notebook_title(nb, path.stem)
            body, _ = exporter.from_notebook_node(static_widgets(nb), resources={"metadata": {"name": title}})
            body = accessible(body, figure_alt_texts(nb))
            if notation:
                body = body.replace(NOTATION_LINK, f'href="{notation}"')
        except ExportError as exc:
            failures.append(str(exc))
            log(f"{tag}: FAILED after {time.perf_counter() - start:.1f} s")
            continue
        page = out / (path.stem + ".html")
        page.write_text(body, encoding="utf-8")
        written.append(page)
        entries.append((path.stem, page.name, title))
        what = "executed and exported" if execute else "exported"
        log(f"{tag}: {what} in {time.perf_counter() - start:.1f} s -> {page}")
    if pdf and written:
        try:
            write_pdfs(written, log=log)
        except ExportError as exc:
            failures.append(f"PDF handouts: {exc}")
            pdf = False
    index = out / "index.html"
    index.write_text(_index_html(entries, pdf=pdf), encoding="utf-8")
    log(f"Wrote {len(written)} page(s){' and their PDFs' if pdf else ''} and {index.resolve()}")
    if failures:
        raise ExportError(f"{len(failures)} notebook(s) failed:\n\n" + "\n\n".join(failures))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.export", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to export (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--out", default="site", help="output directory (default: site/)")
    parser.add_argument("--execute", action=argparse.BooleanOptionalAction, default=True,
                        help="run each notebook in a fresh kernel first (default); --no-execute keeps saved outputs")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True,
                        help="also print each page to NN_topic.pdf with a headless Chromium (default); --no-pdf "
                             "writes the HTML only")
    args = parser.parse_args(argv)
    try:
        export(args.notebooks or None, out=args.out, execute=args.execute, timeout=args.timeout, pdf=args.pdf)
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
