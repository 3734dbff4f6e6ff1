"""The static HTML export passes axe-core's WCAG 2.1 A and AA rules with no serious or critical violation, on every
page, and every figure in it has a non-empty alt text."""

import collections

import pytest

from browser_support import NOTEBOOKS, serious_violations

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cnnlib.export import export, find_notebooks

    notebooks = find_notebooks(NOTEBOOKS)
    if not notebooks:
        pytest.skip("no notebooks yet")
    out = tmp_path_factory.mktemp("site")
    export(notebooks, out=out, execute=False, log=lambda _: None)
    return out


def test_export_has_no_serious_or_critical_wcag_violations(site, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found = collections.Counter()
    examples = []
    for html in sorted(site.glob("*.html")):
        page.goto(html.as_uri(), wait_until="load")
        serious_violations(axe, page, html.name, WCAG, found, examples)
    assert not found, f"axe-core violations {dict(found)}:\n" + "\n".join(examples[:15])


def test_every_exported_figure_has_alt_text(site, page):
    missing = []
    for html in sorted(site.glob("*.html")):
        page.goto(html.as_uri(), wait_until="load")
        alts = page.locator("img").evaluate_all("els => els.map(e => e.getAttribute('alt') || '')")
        bad = [a for a in alts if len(a.split()) < 4 or a.startswith("No description")]
        if bad:
            missing.append(f"{html.name}: {len(bad)} of {len(alts)} images without a description")
    assert not missing, "\n".join(missing)
