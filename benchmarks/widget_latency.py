"""How long each notebook widget takes to answer a control change in a real browser.

JupyterLab on 127.0.0.1, the system Chromium driven by Playwright at 1440x900. For every widget the script opens
its notebook, runs all cells, then changes one control many times, one change at a time, and measures in the page
the time from the input event (key press, click, dropdown change) to the first animation frame that shows the new
figure: the widget cell's single visible image has a new ``src`` and has finished loading. It prints the median and
the 95th percentile per widget.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/widget_latency.py            # all widgets, 20 changes each
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/widget_latency.py --only 05 09 --samples 30
    PYTHONPATH=/tmp/old /work/venv/bin/python benchmarks/widget_latency.py --repo /tmp/old   # another checkout

``--repo`` names the checkout whose notebooks are run and whose cnnlib the kernel imports (default: this one).
The numbers depend on the load of the machine: the script prints ``os.getloadavg()`` before and after.
"""

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browser_support import CHROMIUM_ARGS, Server, free_port, lab_run_all, local_only  # noqa: E402

# name -> (notebook, CSS class of the control, the moves alternated between samples)
WIDGETS = {
    "01 delta rule": ("01_mlp_delta_rule.ipynb", "cnnlib-deltarule-neuron", [("select", 0), ("select", 1)]),
    "02 weight sharing": ("02_weight_sharing.ipynb", None,
                          [("click", "cnnlib-weightsharing-out-0-0"), ("click", "cnnlib-weightsharing-out-1-1")]),
    "03 sliding window": ("03_convolution_vs_correlation.ipynb", "cnnlib-sliding-step",
                          [("key", "ArrowRight"), ("key", "ArrowLeft")]),
    "04 delta flow": ("04_rotation_proof.ipynb", "cnnlib-deltaflow-row", [("key", "ArrowLeft"), ("key", "ArrowRight")]),
    "04 flip or not": ("04_rotation_proof.ipynb", "cnnlib-flip-toggle", [("click", None), ("click", None)]),
    "05 stride/padding": ("05_channels_stride_padding.ipynb", "cnnlib-stride-padding",
                          [("key", "ArrowRight"), ("key", "ArrowLeft")]),
    "07 pooling routing": ("07_pooling_and_relu.ipynb", None,
                           [("click", "cnnlib-pooling-out-1-1"), ("click", "cnnlib-pooling-out-0-0")]),
    "08 softmax": ("08_softmax_cross_entropy.ipynb", "cnnlib-softmax-temperature",
                   [("key", "ArrowRight"), ("key", "ArrowLeft")]),
    "09 digit explorer": ("09_mnist_training.ipynb", "cnnlib-digit-index",
                          [("key", "ArrowRight"), ("key", "ArrowLeft")]),
    "11 overlap": ("11_transposed_convolution.ipynb", "cnnlib-overlap-kernel",
                   [("key", "ArrowRight"), ("key", "ArrowLeft")]),
}

# Arms a listener: the first input event after arming stamps t0; every animation frame after it looks at the
# visible images of the widget's cell and stamps t1 when there is one image, with a new src, fully loaded.
ARM = """([cls, before]) => new Promise((resolve) => {
    const cell = document.querySelector('.' + cls).closest('.jp-Cell');
    const state = {t0: null};
    const stamp = () => { if (state.t0 === null) { state.t0 = performance.now(); } };
    const events = ['keydown', 'pointerdown', 'mousedown', 'input', 'change'];
    events.forEach(e => document.addEventListener(e, stamp, true));
    window.__cnnlibResult = null;
    const deadline = performance.now() + 60000;
    function look() {
        const now = performance.now();
        const imgs = [...cell.querySelectorAll('.jp-OutputArea img')].filter(i => i.offsetParent !== null);
        if (state.t0 !== null && imgs.length === 1 && imgs[0].src !== before && imgs[0].complete
                && imgs[0].naturalWidth > 0) {
            events.forEach(e => document.removeEventListener(e, stamp, true));
            window.__cnnlibResult = {ms: now - state.t0, src: imgs[0].src};
            return;
        }
        if (now > deadline) { window.__cnnlibResult = {ms: null, src: before}; return; }
        requestAnimationFrame(look);
    }
    requestAnimationFrame(look);
    resolve(true);
})"""

SRC = """(cls) => {
    const cell = document.querySelector('.' + cls).closest('.jp-Cell');
    const imgs = [...cell.querySelectorAll('.jp-OutputArea img')].filter(i => i.offsetParent !== null);
    return imgs.length === 1 ? imgs[0].src : null;
}"""


def lab_env(repo, home):
    """Scratch Jupyter/IPython dirs, the checkout's cnnlib first on the kernel's path, a quiet Lab."""
    config, settings = home / "config", home / "lab-settings"
    (settings / "@jupyterlab").mkdir(parents=True)
    config.mkdir(parents=True)
    (config / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {"news_url": None}}))
    for name, value in {"docmanager-extension/plugin": {"autosave": False},
                        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                        "notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True}}.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ)
    env.update({"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
                "IPYTHONDIR": str(home / "ipython"), "JUPYTER_PLATFORM_DIRS": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONPATH": str(repo)})
    return env


def move(page, cls, how):
    kind, arg = how
    if kind == "click":
        target = page.locator(f".{arg or cls}").first
        (target.locator("button") if target.locator("button").count() else target).first.click()
    elif kind == "select":
        page.locator(f".{cls}").first.locator("select").select_option(index=arg)
    else:
        handle = page.locator(f".{cls}").first.locator(".noUi-handle")
        handle.focus()
        handle.press(arg)


def percentile(values, q):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest-rank
    return ordered[k]


def measure(page, name, samples, log):
    notebook, cls, moves = WIDGETS[name]
    anchor = cls or moves[0][1]
    page.locator(f".{anchor}").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    times = []
    for k in range(samples + 1):  # the first change warms up (fonts, caches) and is not counted
        before = page.evaluate(SRC, anchor)
        page.evaluate(ARM, [anchor, before])
        move(page, cls, moves[k % len(moves)])
        page.wait_for_function("() => window.__cnnlibResult !== null", timeout=65_000, polling=50)
        result = page.evaluate("() => window.__cnnlibResult")
        if result["ms"] is None:
            log(f"  {name}: change {k} never showed a new figure within 60 s")
            continue
        if k:
            times.append(result["ms"])
        page.wait_for_timeout(400)  # let any further output of this change arrive before the next one
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="checkout to run (notebooks and cnnlib)")
    parser.add_argument("--samples", type=int, default=20, help="changes measured per widget")
    parser.add_argument("--only", nargs="*", default=None, help="widget name prefixes, e.g. 05 09")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw times here")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    names = [n for n in WIDGETS if not args.only or any(n.startswith(p) for p in args.only)]
    repo = args.repo.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="cnnlib-latency-"))
    root = scratch / "notebooks"
    shutil.copytree(repo / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
           f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    server = Server("jupyterlab", cmd, f"{base}/api/status?token={token}", base, lab_env(repo, scratch / "home"),
                    root, scratch / "lab.log")
    server.token = token
    print(f"checkout {repo}; load average before: {os.getloadavg()}", flush=True)
    results = {}
    server.start()
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS)
        for notebook in dict.fromkeys(WIDGETS[n][0] for n in names):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.route("**/*", local_only)
            page = context.new_page()
            lab_run_all(page, server, notebook)
            for name in [n for n in names if WIDGETS[n][0] == notebook]:
                try:
                    times = measure(page, name, args.samples, print)
                except Exception as exc:  # noqa: BLE001 - report it and go on with the other widgets
                    print(f"{name:20s} FAILED: {str(exc).splitlines()[0]}", flush=True)
                    times = []
                results[name] = times
                if times:
                    print(f"{name:20s} median {statistics.median(times):7.0f} ms   p95 {percentile(times, 95):7.0f} ms"
                          f"   max {max(times):7.0f} ms   (n = {len(times)})", flush=True)
            # end the kernel before the next notebook, so that each runs alone
            # and forget the open tabs: a restored workspace would reopen this notebook beside the next one
            page.evaluate("""async (token) => {
                const r = await fetch('/api/sessions?token=' + token);
                for (const s of await r.json()) {
                    await fetch('/api/sessions/' + s.id + '?token=' + token, {method: 'DELETE'});
                }
                await fetch('/lab/api/workspaces/default?token=' + token, {method: 'DELETE'});
            }""", token)
            context.close()
        browser.close()
    finally:
        pw.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")
    print(f"{'widget':20s} {'median':>8s} {'p95':>8s}")
    for name, times in results.items():
        if times:
            print(f"{name:20s} {statistics.median(times):6.0f}ms {percentile(times, 95):6.0f}ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
