"""The static HTML export of the real series, opened in Chromium: every page loads from disk and every figure
(the PNGs saved in the notebooks) is decoded and drawn."""

import nbformat
import pytest

from browser_support import NOTEBOOKS


def png_outputs(nb):
    """How many figures the notebook's own cells show (not counting the ones inside widget state)."""
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cnnlib.export import export, find_notebooks

    notebooks = find_notebooks(NOTEBOOKS)
    if not notebooks:
        pytest.skip("no notebooks yet")
    out = tmp_path_factory.mktemp("site")
    export(notebooks, out=out, execute=False, log=lambda _: None)  # the committed, executed notebooks
    return out, notebooks


def test_index_links_every_page_in_order(site, page):
    out, notebooks = site
    page.goto((out / "index.html").as_uri())
    hrefs = page.locator("ol li a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs == [p.stem + ".html" for p in notebooks]


def test_every_page_shows_its_figures(site, page):
    out, notebooks = site
    missing = []
    for nb_path in notebooks:
        expected = png_outputs(nbformat.read(nb_path, as_version=4))
        page.goto((out / (nb_path.stem + ".html")).as_uri(), wait_until="load")
        sizes = page.locator("img").evaluate_all(
            "els => els.filter(e => e.src.startsWith('data:image/png')).map(e => e.complete ? e.naturalWidth : 0)")
        drawn = sum(w > 0 for w in sizes)
        if drawn < expected or 0 in sizes:
            missing.append(f"{nb_path.name}: {drawn} of {len(sizes)} images drawn, the notebook has {expected}")
    assert not missing, "figures missing in the export:\n" + "\n".join(missing)
