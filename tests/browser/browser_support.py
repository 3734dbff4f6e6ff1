"""Helpers for the browser tests: servers on 127.0.0.1, driving ipywidgets in the DOM, and the inputs a
notebook hands to its widgets. Fixtures and hooks are in conftest.py."""

import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NOTEBOOKS = REPO / "notebooks"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 30_000  # clicks, key presses, readout changes
NOTEBOOK_TIMEOUT_MS = 120_000  # a whole notebook executed by Voila (09 trains a net) before its widgets exist
SERVER_START_S = 90

SERVERS = []  # every server started, so a failing test can show their logs


# ---------------------------------------------------------------------------------------------------- servers
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on 127.0.0.1: started, polled until an URL answers 200, stopped by PID."""

    def __init__(self, name, cmd, ready_url, base_url, env, cwd, log_path):
        self.name, self.cmd, self.ready_url, self.base_url = name, cmd, ready_url, base_url
        self.env, self.cwd, self.log_path = env, cwd, Path(log_path)
        self.proc = None

    def start(self, deadline_s=SERVER_START_S):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        SERVERS.append(self)
        deadline = time.monotonic() + deadline_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with code {self.proc.returncode} before it was ready.\n"
                            f"command: {' '.join(self.cmd)}\n--- log ---\n{self.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(self.ready_url, timeout=5) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"{self.name} did not answer {self.ready_url} within {deadline_s} s (last: {last}).\n"
                    f"--- log ---\n{self.log_tail()}", pytrace=False)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()

    def log_tail(self, n=80):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(lines[-n:])


def local_only(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "file:", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()  # a CDN script (MathJax, the widget html-manager) must not make the test wait on a network


# ---------------------------------------------------------------------------------------------------- widget driving
class UI:
    """Drives ipywidgets in the real DOM by their CSS class ``cnnlib-<widget>-<part>``."""

    def __init__(self, page):
        self.page = page

    def open_voila(self, server, notebook):
        """Open ``notebook`` in Voila; returns when the page (the whole executed notebook) has loaded.

        Voila streams the page while it executes the cells: if the load never ends, the failure names the cell
        that was executing, from the last progress marker on the page."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            resp = self.page.goto(f"{server.base_url}/voila/render/{notebook}", timeout=NOTEBOOK_TIMEOUT_MS)
        except PlaywrightTimeout:
            pytest.fail(f"Voila did not finish executing {notebook} within {NOTEBOOK_TIMEOUT_MS / 1000:.0f} s; "
                        + self._voila_progress(notebook), pytrace=False)
        assert resp is not None and resp.ok, f"Voila answered {resp and resp.status} for {notebook}"
        tracebacks = self.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                       has_text="Traceback (most recent call last)")
        if tracebacks.count():
            pytest.fail(f"{notebook} raised while Voila executed it:\n{tracebacks.first.inner_text()[-3000:]}",
                        pytrace=False)
        return self.page

    def _voila_progress(self, notebook):
        import re

        import nbformat

        try:
            html = self.page.content()
        except Exception as exc:  # noqa: BLE001 - a diagnostic only
            return f"(page content unavailable: {exc})"
        done = re.findall(r"voila_process\((\d+), (\d+)\)", html)
        if not done:
            return "no cell was rendered (kernel start?)"
        index = int(done[-1][0]) + 1
        cells = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
        source = cells[index].source if index < len(cells) else "?"
        return f"it was executing cell {index} of {done[-1][1]}:\n{source[:800]}"

    def el(self, cls):
        """The single element with class ``cls`` (waits until it is rendered)."""
        loc = self.page.locator(f".{cls}")
        loc.first.wait_for(state="visible", timeout=NOTEBOOK_TIMEOUT_MS)
        n = loc.count()
        assert n == 1, f"expected one .{cls} on the page, found {n}"
        return loc

    def text(self, cls):
        return self.el(cls).inner_text().strip()

    def slider_value(self, cls):
        return float(self.el(cls).locator(".noUi-handle").get_attribute("aria-valuenow"))

    def set_slider(self, cls, value, step=1):
        """Move a slider with the keyboard, as a user would: focus its handle and press the arrow keys."""
        handle = self.el(cls).locator(".noUi-handle")
        handle.focus()
        for _ in range(100):
            now = float(handle.get_attribute("aria-valuenow"))
            if abs(now - value) < step / 2:
                return
            handle.press("ArrowRight" if now < value else "ArrowLeft")
        raise AssertionError(f".{cls} did not reach {value} (stuck at {handle.get_attribute('aria-valuenow')})")

    def type_slider(self, cls, value):
        """Type a value into the slider's editable readout and press Enter."""
        readout = self.el(cls).locator(".widget-readout")
        readout.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(str(value))
        self.page.keyboard.press("Enter")

    def click(self, cls, text=None):
        loc = self.el(cls)
        if text is not None:
            loc = loc.locator("button", has_text=text)
        loc.click()

    def select(self, cls, label):
        """Pick the dropdown option whose visible text is ``label``."""
        self.el(cls).locator("select").select_option(label=str(label))

    def numbers(self, cls, pattern):
        """Wait until the readout matches the regex ``pattern``; return its groups as floats."""
        import re

        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        text = ""
        while time.monotonic() < deadline:
            text = self.text(cls)
            m = re.search(pattern, text)
            if m:
                return [float(g) for g in m.groups()]
            time.sleep(0.1)
        raise AssertionError(f".{cls} never matched {pattern!r}; it reads:\n{text}")

    def expect_text(self, cls, expected):
        """Wait (with a deadline) until the readout's text contains ``expected`` (a str or a compiled regex)."""
        from playwright.sync_api import expect

        expect(self.el(cls)).to_contain_text(expected, timeout=ACTION_TIMEOUT_MS)
        return self.text(cls)

    def wait_until(self, cls, check, what):
        """Poll the readout until ``check(text)`` is true, and return the text. A readout may pass through
        intermediate states (the front end batches updates while the kernel is busy), so tests wait for the
        final state rather than read the first change."""
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        text = ""
        while time.monotonic() < deadline:
            text = self.text(cls)
            try:
                if check(text):
                    return text
            except (ValueError, IndexError, AttributeError):
                pass  # a partial or intermediate text: keep polling
            time.sleep(0.15)
        raise AssertionError(f".{cls} never showed {what} within {ACTION_TIMEOUT_MS / 1000:.0f} s; it reads:\n{text}")

    def wait_changed(self, cls, before):
        """Wait until the readout's text differs from ``before``; return the new text."""
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            now = self.text(cls)
            if now != before:
                return now
            time.sleep(0.1)
        raise AssertionError(f".{cls} still reads {before!r} after {ACTION_TIMEOUT_MS / 1000:.0f} s")


def _lab_menu(page, menu, item):
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


_LAB_PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                        .map(p => p.textContent.trim())"""


def lab_run_all(page, server, notebook):
    """Open ``notebook`` in JupyterLab, clear its outputs, run all cells from the Run menu and wait until every
    code cell has run in this kernel (each prompt shows its count, none shows ``*``)."""
    page.goto(f"{server.base_url}/lab/tree/{notebook}?token={server.token}", timeout=NOTEBOOK_TIMEOUT_MS)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():  # the settings say start the preferred kernel; accept it should Lab still ask
        dialog.get_by_role("button", name="Select").click()
    # the kernel is ready when the status bar says Idle
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    _lab_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => ({_LAB_PROMPTS})().every(t => !/\\d/.test(t))", timeout=ACTION_TIMEOUT_MS)
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT_MS / 1000
    for attempt in range(3):
        _lab_menu(page, "Run", "Run All Cells")
        started = time.monotonic()
        while time.monotonic() - started < 20:  # a run-all sent while the kernel connects can be lost: resend
            if any(re.search(r"\d|\*", t) for t in page.evaluate(_LAB_PROMPTS)):
                break
            time.sleep(0.25)
        else:
            continue
        break
    while time.monotonic() < deadline:
        prompts = page.evaluate(_LAB_PROMPTS)
        if prompts and all(re.search(r"\[\d+\]", t) for t in prompts):
            break
        time.sleep(0.25)
    else:
        pending = [k for k, t in enumerate(page.evaluate(_LAB_PROMPTS)) if not re.search(r"\[\d+\]", t)]
        pytest.fail(f"JupyterLab did not finish running {notebook} within {NOTEBOOK_TIMEOUT_MS / 1000:.0f} s "
                    f"({attempt + 1} run-all click(s)); code cells not run: {pending[:10]}", pytrace=False)
    errors = page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                          has_text="Traceback")
    if errors.count():
        pytest.fail(f"{notebook} raised in JupyterLab:\n{errors.first.inner_text()[-3000:]}", pytrace=False)
    return page


# ---------------------------------------------------------------------------------------------------- notebook inputs
class _NoShell:
    """Enough of ``get_ipython()`` for notebook code run outside a kernel: %time runs its statement, other magics
    (%matplotlib, %pip, ...) do nothing."""

    def __init__(self, ns):
        self.ns = ns

    def run_line_magic(self, name, line, *args, **kwargs):
        if name == "time":
            exec(line, self.ns)

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name == "time":
            exec(cell, self.ns)

    def system(self, *args, **kwargs):
        pass

    def getoutput(self, *args, **kwargs):
        return []


class _Reached(Exception):
    pass


def widget_call(notebook, func_name):
    """Run ``notebook``'s own code, in this process, up to its first call of ``cnnlib.widgets.<func_name>`` and
    return ``(args, kwargs, namespace)`` of that call: the exact inputs the widget receives in Voila or
    JupyterLab (same seeds, same random draws), so a test can compute what the readout must show without
    asking the widget."""
    import contextlib
    import io

    import matplotlib
    import matplotlib.pyplot as plt
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    matplotlib.use("Agg")
    import cnnlib.widgets as widgets_module

    calls = []

    def recorder(*args, **kwargs):
        calls.append((args, kwargs))
        raise _Reached

    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    ns = {"__name__": "__main__"}
    ns["get_ipython"] = lambda: _NoShell(ns)
    transform = TransformerManager().transform_cell
    original = getattr(widgets_module, func_name)
    setattr(widgets_module, func_name, recorder)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
                try:
                    exec(compile(transform(cell.source), f"<{notebook} code cell {k}>", "exec"), ns)
                except _Reached:
                    break
    finally:
        setattr(widgets_module, func_name, original)
        plt.close("all")
    if not calls:
        pytest.fail(f"{notebook} never calls cnnlib.widgets.{func_name}", pytrace=False)
    args, kwargs = calls[0]
    return args, kwargs, ns


def serious_violations(axe, page, label, options, found, examples):
    """Run axe-core on ``page`` and add its serious and critical violations to ``found`` (a Counter of (rule,
    impact) -> nodes) and one readable line each to ``examples``."""
    for v in axe.run(page, options=options).response["violations"]:
        if v["impact"] in ("serious", "critical"):
            found[(v["id"], v["impact"])] += len(v["nodes"])
            node = v["nodes"][0]
            examples.append(f"{label}: {v['id']} at {node['target']}: {node.get('failureSummary', '')[:160]}")
