"""Every widget in JupyterLab, after Run All: its cell shows exactly one figure, and that figure changes when a
control changes (it is the live one, never a stale copy of the starting state). Its controls pass axe-core's
WCAG 2.1 A/AA rules (every slider, button and list has a name a screen reader announces) and move from the keyboard."""

import time

import pytest

from browser_support import ACTION_TIMEOUT_MS, NOTEBOOKS, lab_run_all

# notebook -> list of (CSS class of a control inside the widget, how to move it)
WIDGETS = {
    "01_mlp_delta_rule.ipynb": [("cnnlib-deltarule-neuron", ("select", 1))],
    "02_weight_sharing.ipynb": [("cnnlib-weightsharing-out-0-0", ("click",))],
    "03_convolution_vs_correlation.ipynb": [("cnnlib-sliding-step", ("key", "ArrowRight"))],
    "04_rotation_proof.ipynb": [("cnnlib-deltaflow-row", ("key", "ArrowLeft")), ("cnnlib-flip-toggle", ("click",))],
    "05_channels_stride_padding.ipynb": [("cnnlib-stride-padding", ("key", "ArrowRight"))],
    "07_pooling_and_relu.ipynb": [("cnnlib-pooling-out-1-1", ("click",))],
    "08_softmax_cross_entropy.ipynb": [("cnnlib-softmax-temperature", ("key", "ArrowRight"))],
    "09_mnist_training.ipynb": [("cnnlib-digit-picks", ("select", 2))],
    "11_transposed_convolution.ipynb": [("cnnlib-overlap-kernel", ("key", "ArrowRight"))],
}

_FIGURES = """(cls) => {
    const cell = document.querySelector('.' + cls).closest('.jp-Cell');
    return [...cell.querySelectorAll('.jp-OutputArea img')].filter(i => i.offsetParent !== null).map(i => i.src);
}"""


def _figures(page, cls):
    return page.evaluate(_FIGURES, cls)


WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


def _axe_violations(page, cls):
    """axe-core's WCAG 2.1 A/AA violations inside the widget that holds ``.cls`` (its controls and figure)."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate("""(cls) => {
        document.querySelectorAll('[data-cnnlib-axe]').forEach(e => e.removeAttribute('data-cnnlib-axe'));
        const cell = document.querySelector('.' + cls).closest('.jp-Cell');
        cell.querySelector('.jp-OutputArea').setAttribute('data-cnnlib-axe', '1');
    }""", cls)
    response = Axe().run(page, context="[data-cnnlib-axe]", options=WCAG).response
    return [f"{v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']][:3]}" for v in response["violations"]]


def _move(page, cls, how):
    control = page.locator(f".{cls}").first
    if how[0] == "click":
        (control.locator("button") if control.locator("button").count() else control).first.click()
    elif how[0] == "select":
        select = control.locator("select")
        select.select_option(index=how[1])
    else:
        handle = control.locator(".noUi-handle")
        handle.focus()
        handle.press(how[1])


@pytest.mark.parametrize("notebook", sorted(WIDGETS))
def test_each_widget_shows_one_live_figure(lab_alone, page, notebook):
    jupyterlab = lab_alone
    if not (NOTEBOOKS / notebook).exists():
        pytest.skip(f"{notebook} is not in notebooks/")
    page.set_viewport_size({"width": 1440, "height": 900})
    lab_run_all(page, jupyterlab, notebook)
    for cls, how in WIDGETS[notebook]:
        page.locator(f".{cls}").first.wait_for(state="visible", timeout=ACTION_TIMEOUT_MS)
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        while not _figures(page, cls) and time.monotonic() < deadline:
            time.sleep(0.2)
        before = _figures(page, cls)
        assert len(before) == 1, f"{notebook}: the cell of .{cls} shows {len(before)} figures, expected one"
        page.wait_for_timeout(300)  # let the page name new slider handles (one animation frame)
        violations = _axe_violations(page, cls)
        assert not violations, f"{notebook}: axe-core finds in the widget of .{cls}: {violations}"
        _move(page, cls, how)
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        after = before
        while time.monotonic() < deadline:
            after = _figures(page, cls)
            if len(after) == 1 and after != before:
                break
            time.sleep(0.2)
        assert len(after) == 1, f"{notebook}: after moving .{cls} its cell shows {len(after)} figures"
        assert after != before, f"{notebook}: the figure did not change when .{cls} changed"


@pytest.mark.parametrize("notebook", ["04_rotation_proof.ipynb", "09_mnist_training.ipynb"])
def test_saved_notebook_without_a_kernel_shows_figures_not_widget_text(lab_alone, page, notebook):
    """Opened as saved, before anything runs, every widget shows the PNG of its starting state."""
    if not (NOTEBOOKS / notebook).exists():
        pytest.skip(f"{notebook} is not in notebooks/")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{lab_alone.base_url}/lab/tree/{notebook}?token={lab_alone.token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=ACTION_TIMEOUT_MS * 4)
    cells = len(WIDGETS[notebook])
    count = """() => [...document.querySelectorAll('.jp-Cell')]
        .filter(c => /widgets\\.[a-z_]+\\(/.test(c.querySelector('.jp-InputArea')?.textContent || ''))
        .map(c => c.querySelectorAll('.jp-OutputArea img').length)"""
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000  # a long notebook on a busy machine renders slowly
    figures = page.evaluate(count)
    while figures != [1] * cells and time.monotonic() < deadline:
        time.sleep(0.5)
        figures = page.evaluate(count)
    raw = page.locator(".jp-OutputArea-output", has_text="VBox(children=")
    assert raw.count() == 0, f"{notebook} shows a widget's repr instead of its figure"
    assert figures == [1] * cells, f"{notebook}: figures per widget cell without a kernel: {figures}"
