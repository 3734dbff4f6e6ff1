"""Real-browser tests: Chromium (Debian's, driven by Playwright) against Voila and JupyterLab on 127.0.0.1.

Everything here is marked ``browser``; skip it locally with ``pytest -m "not browser"``. Install the browser with
``.ci/install-browser``. Every wait has a deadline: a browser that cannot start or a server that never answers
fails the test with the reason and the server's log, it never hangs.

Fixtures
  browser      one headless Chromium for the session
  page         a fresh page (own context) per test; requests leaving 127.0.0.1 are blocked
  voila        one Voila server for the session, serving a scratch copy of notebooks/
  jupyterlab   one JupyterLab server for the session, same scratch copy, autosave off
  notebook_root the scratch copy (the tests may add fixture notebooks to it)
  ui           helpers that drive ipywidgets on a page (sliders, buttons, dropdowns) and read readouts
  lab_alone    the JupyterLab server with no kernel running and no tab open (before and after the test)
"""

import json
import os
import urllib.request
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from browser_support import (ACTION_TIMEOUT_MS, CHROMIUM_ARGS, HERE, LAUNCH_TIMEOUT_MS, NOTEBOOKS, REPO, SERVERS,
                             UI, Server, free_port, local_only)

_STAGE = {"start": None, "end": None, "ran": 0}


# ---------------------------------------------------------------------------------------------------- pytest hooks
def pytest_configure(config):
    config.addinivalue_line("markers",
                            "browser: drives a real Chromium against Voila/JupyterLab (slow; needs chromium)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if config.pluginmanager.hasplugin("timeout"):
                item.add_marker(pytest.mark.timeout(400))  # a backstop only: every wait below has its own deadline


def pytest_runtest_setup(item):
    if _STAGE["start"] is None and item.get_closest_marker("browser"):
        _STAGE["start"] = time.monotonic()


def pytest_runtest_logfinish(nodeid, location):
    # the stage ends with its last browser test, not with the notebooks that pytest runs after it
    if _STAGE["start"] is not None and "tests/browser/" in nodeid:
        _STAGE["end"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("browser") and report.when == "call":
        _STAGE["ran"] += 1
    if report.failed and item.get_closest_marker("browser"):
        for server in SERVERS:
            report.sections.append((f"{server.name} log (last lines)", server.log_tail()))
        page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if page is not None and report.when == "call":
            try:
                shot = Path(tempfile.gettempdir()) / "cnnlib-browser-screenshots" / f"{item.name}.png"
                shot.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(shot), full_page=False, timeout=10_000)
                report.sections.append(("screenshot", str(shot)))
            except Exception as exc:  # noqa: BLE001 - a diagnostic only
                report.sections.append(("screenshot", f"not taken: {exc}"))
        console = getattr(item, "_browser_console", None)
        if console:
            report.sections.append(("browser console", "\n".join(console[-60:])))


def pytest_terminal_summary(terminalreporter):
    if _STAGE["start"] is not None:
        took = (_STAGE["end"] or time.monotonic()) - _STAGE["start"]
        terminalreporter.write_line(f"browser stage: {_STAGE['ran']} tests in {took:.1f} s "
                                    "(servers and browser included)")


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    """Environment for the servers and their kernels: scratch Jupyter/IPython dirs (nothing of the user's is read
    or written), this checkout's cnnlib first on the path, Lab settings that keep it quiet and never autosave."""
    home = tmp_path_factory.mktemp("jupyter-home")
    config, settings = home / "config", home / "lab-settings"
    for d in (config, settings / "@jupyterlab"):
        d.mkdir(parents=True)
    (config / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {"news_url": None}}))
    lab_settings = {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
    }
    for name, value in lab_settings.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    })
    return env


@pytest.fixture(scope="session")
def notebook_root(tmp_path_factory):
    """A scratch copy of notebooks/: the servers execute it, and JupyterLab may dirty it, never the repo."""
    root = tmp_path_factory.mktemp("served") / "notebooks"
    if NOTEBOOKS.is_dir():
        shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    else:
        root.mkdir()
    return root


@pytest.fixture(scope="session")
def voila(notebook_root, jupyter_env, tmp_path_factory):
    port = free_port()
    cmd = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--show_tracebacks=True", "--ServerApp.port_retries=0", str(notebook_root)]
    base = f"http://127.0.0.1:{port}"
    server = Server("voila", cmd, base + "/", base, jupyter_env, notebook_root,
                    tmp_path_factory.mktemp("logs") / "voila.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jupyterlab(notebook_root, jupyter_env, tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
           f"--ServerApp.root_dir={notebook_root}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    server = Server("jupyterlab", cmd, f"{base}/api/status?token={token}", base, jupyter_env, notebook_root,
                    tmp_path_factory.mktemp("logs") / "jupyterlab.log")
    server.token = token
    server.start()
    yield server
    server.stop()


def _shut_down_kernels_and_tabs(server):
    """End every kernel of this session's notebooks and forget the open tabs, so that the next notebook runs alone
    (the Lab server is shared by the session, and a restored workspace would reopen and restart every notebook)."""
    def call(method, path):
        req = urllib.request.Request(f"{server.base_url}{path}?token={server.token}", method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    for session in json.loads(call("GET", "/api/sessions")):
        call("DELETE", f"/api/sessions/{session['id']}")
    try:
        call("DELETE", "/lab/api/workspaces/default")
    except OSError:
        pass  # no saved workspace yet


@pytest.fixture
def lab_alone(jupyterlab):
    _shut_down_kernels_and_tabs(jupyterlab)
    yield jupyterlab
    _shut_down_kernels_and_tabs(jupyterlab)



# ---------------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: run .ci/install-browser (Debian's chromium through apt).",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"Python playwright is missing ({exc}); install the test extras.", pytrace=False)
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
    except Exception as exc:  # noqa: BLE001 - any launch failure ends the stage with its reason
        pw.stop()
        pytest.fail(f"Chromium ({exe}) could not start within {LAUNCH_TIMEOUT_MS / 1000:.0f} s: {exc}", pytrace=False)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.route("**/*", local_only)
    pg = context.new_page()
    console = request.node._browser_console = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    yield pg
    context.close()


@pytest.fixture
def ui(page):
    return UI(page)
