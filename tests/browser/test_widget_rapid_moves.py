"""Ten rapid moves on each widget in JupyterLab, as a hand on a slider makes them, then hands off: the figure at
rest must be exactly (pixel for pixel) the figure of that final state drawn by a second widget made in this
process from the notebook's own inputs and moved straight there, and it must be whole: one image, loaded, of the
full size, with the readout of the same state beside it. A stale frame, a blank one or a half-drawn one fails.

The final state is worked out from the moves here (a counter clamped to the slider's range), and the test checks
that the controls on the page show it too; the reference never asks the widget in the browser what it shows."""

import base64
import io
import re
import time

import numpy as np
import pytest

from browser_support import ACTION_TIMEOUT_MS, NOTEBOOKS, lab_run_all, widget_call

SETTLE_S = 2.0  # the figure and readout unchanged this long, and the kernel idle: the widget is at rest

_STATE = """(cls) => {
    const cell = document.querySelector('.' + cls).closest('.jp-Cell');
    const imgs = [...cell.querySelectorAll('.jp-OutputArea img')].filter(i => i.offsetParent !== null);
    const readout = cell.querySelector('.cnnlib-readout');
    return {n: imgs.length, src: imgs.length ? imgs[0].src : null,
            complete: imgs.length ? imgs[0].complete && imgs[0].naturalWidth > 0 : false,
            size: imgs.length ? [imgs[0].naturalWidth, imgs[0].naturalHeight] : null,
            alt: imgs.length ? imgs[0].alt : null,
            readout: readout ? readout.innerText.trim() : null};
}"""

_BYTES = """async (cls) => {
    const cell = document.querySelector('.' + cls).closest('.jp-Cell');
    const img = [...cell.querySelectorAll('.jp-OutputArea img')].filter(i => i.offsetParent !== null)[0];
    const data = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let s = '';
    for (let k = 0; k < data.length; k += 0x8000) { s += String.fromCharCode.apply(null, data.subarray(k, k + 0x8000)); }
    return btoa(s);
}"""


def pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def key(page, cls, name):
    handle = page.locator(f".{cls} .noUi-handle").first
    handle.focus()
    handle.press(name)


def click(page, cls):
    target = page.locator(f".{cls}").first
    (target.locator("button") if target.locator("button").count() else target).first.click()


def select(page, cls, index):
    page.locator(f".{cls} select").first.select_option(index=index)


def slider_value(page, cls):
    return float(page.locator(f".{cls} .noUi-handle").first.get_attribute("aria-valuenow"))


def steps(start, keys, low, high, step=1):
    """Where a slider ends after pressing ``keys`` ("R"/"L") from ``start``, clamped to [low, high]."""
    value = start
    for k in keys:
        value = min(high, max(low, value + (step if k == "R" else -step)))
    return value


def run_keys(page, cls, keys):
    for k in keys:
        key(page, cls, "ArrowRight" if k == "R" else "ArrowLeft")


# ---------------------------------------------------------------------------------------------- the widgets
def case_01(page, ref):
    order = [0, 1, 2, 0, 1, 0, 2, 1, 0, 1]
    for index in order:
        select(page, "cnnlib-deltarule-neuron", index)
    ref.select(1, order[-1])
    return "cnnlib-deltarule-neuron", {}


def case_02(page, ref):
    clicks = [("out", 0, 0), ("in", 0, 0), ("out", 1, 1), ("in", 2, 2), ("out", 2, 1), ("in", 1, 3),
              ("out", 0, 2), ("in", 3, 4), ("out", 1, 0), ("in", 2, 3)]
    for kind, i, j in clicks:
        click(page, f"cnnlib-weightsharing-{kind}-{i}-{j}")
    ref.select(*clicks[-1])
    return "cnnlib-weightsharing-in-0-0", {}


def case_03(page, ref):
    moves = "RR*RRR*RL*"  # * presses the flip toggle
    for m in moves:
        if m == "*":
            click(page, "cnnlib-sliding-flip")
        else:
            key(page, "cnnlib-sliding-step", "ArrowRight" if m == "R" else "ArrowLeft")
    n_steps = ref.step_slider.max
    step = steps(1, [m for m in moves if m != "*"], 1, n_steps)
    ref.step_slider.value = step
    ref.flip_toggle.value = moves.count("*") % 2 == 1
    return "cnnlib-sliding-step", {"cnnlib-sliding-step": step}


def case_04_flow(page, ref):
    rows, cols = "LLRLL", "RRLRR"
    H, W = ref.x.shape
    for r, c in zip(rows, cols):
        key(page, "cnnlib-deltaflow-row", "ArrowRight" if r == "R" else "ArrowLeft")
        key(page, "cnnlib-deltaflow-col", "ArrowRight" if c == "R" else "ArrowLeft")
    row, col = steps(ref.row, rows, 0, H - 1), steps(ref.col, cols, 0, W - 1)
    ref.row_slider.value, ref.col_slider.value = row, col
    return "cnnlib-deltaflow-row", {"cnnlib-deltaflow-row": row, "cnnlib-deltaflow-col": col}


def case_04_flip(page, ref):
    for _ in range(9):
        click(page, "cnnlib-flip-toggle")
    ref.toggle.value = not ref.toggle.value  # nine presses: the opposite of the start
    return "cnnlib-flip-toggle", {}


def case_05(page, ref):
    moves = [("padding", "R"), ("padding", "R"), ("stride", "L"), ("dilation", "R"), ("padding", "L"),
             ("stride", "R"), ("stride", "R"), ("dilation", "L"), ("padding", "R"), ("stride", "L")]
    for part, k in moves:
        key(page, f"cnnlib-stride-{part}", "ArrowRight" if k == "R" else "ArrowLeft")
    final = {}
    for part in ("stride", "padding", "dilation"):
        slider = getattr(ref, f"{part}_slider")
        final[part] = steps(slider.value, [k for p, k in moves if p == part], slider.min, slider.max)
    ref.stride_slider.value, ref.padding_slider.value = final["stride"], final["padding"]
    ref.dilation_slider.value = final["dilation"]
    return "cnnlib-stride-padding", {f"cnnlib-stride-{p}": v for p, v in final.items()}


def case_07(page, ref):
    moves = [(0, 0), (1, 1), "average", (2, 2), (0, 1), "max", (1, 2), (2, 0), "average", (1, 0)]
    for m in moves:
        if isinstance(m, str):
            page.locator(".cnnlib-pooling-mode button", has_text=m).first.click()
        else:
            click(page, f"cnnlib-pooling-out-{m[0]}-{m[1]}")
    ref.mode_toggle.value = "average"
    ref.select(1, 0)
    return "cnnlib-pooling-out-0-0", {}


def case_08(page, ref):
    moves = [("temperature", "L")] * 6 + [("logit-1", "R"), ("logit-1", "R"), ("temperature", "L"), ("logit-0", "L")]
    for part, k in moves:
        key(page, f"cnnlib-softmax-{part}", "ArrowRight" if k == "R" else "ArrowLeft")
    final = {}
    for part, slider in [("temperature", ref.temperature_slider)] + [(f"logit-{k}", s)
                                                                     for k, s in enumerate(ref.logit_sliders)]:
        keys = [k for p, k in moves if p == part]
        final[part] = round(steps(slider.value, keys, slider.min, slider.max, step=0.1), 1)
    ref.temperature_slider.value = final["temperature"]
    for k, s in enumerate(ref.logit_sliders):
        s.value = final[f"logit-{k}"]
    return "cnnlib-softmax-temperature", {f"cnnlib-softmax-{p}": v for p, v in final.items()}


def case_09(page, ref):
    keys = "RRRRRRRLLL"
    run_keys(page, "cnnlib-digit-index", keys)
    index = steps(ref.index, keys, 0, ref.slider.max)
    ref.slider.value = index
    return "cnnlib-digit-index", {"cnnlib-digit-index": index}


def case_11(page, ref):
    moves = [("kernel", "R"), ("stride", "R"), ("kernel", "R"), ("kernel", "R"), ("stride", "L"),
             ("kernel", "L"), ("stride", "L"), ("kernel", "R"), ("stride", "R"), ("kernel", "R")]
    for part, k in moves:
        key(page, f"cnnlib-overlap-{part}", "ArrowRight" if k == "R" else "ArrowLeft")
    K = steps(ref.kernel_slider.value, [k for p, k in moves if p == "kernel"], 1, ref.kernel_slider.max)
    s = steps(ref.stride_slider.value, [k for p, k in moves if p == "stride"], 1, ref.stride_slider.max)
    ref.kernel_slider.value, ref.stride_slider.value = K, s
    return "cnnlib-overlap-kernel", {"cnnlib-overlap-kernel": K, "cnnlib-overlap-stride": s}


CASES = {
    "01": ("01_mlp_delta_rule.ipynb", "delta_rule", case_01),
    "02": ("02_weight_sharing.ipynb", "weight_sharing", case_02),
    "03": ("03_convolution_vs_correlation.ipynb", "sliding_window", case_03),
    "04-flow": ("04_rotation_proof.ipynb", "delta_flow", case_04_flow),
    "04-flip": ("04_rotation_proof.ipynb", "flip_or_not", case_04_flip),
    "05": ("05_channels_stride_padding.ipynb", "stride_padding", case_05),
    "07": ("07_pooling_and_relu.ipynb", "pooling_routing", case_07),
    "08": ("08_softmax_cross_entropy.ipynb", "softmax_explorer", case_08),
    "09": ("09_mnist_training.ipynb", "digit_explorer", case_09),
    "11": ("11_transposed_convolution.ipynb", "overlap_explorer", case_11),
}

_RAN = {}  # notebook -> page already run (the two widgets of notebook 04 share one run)


def reference(notebook, func):
    """The widget made in this process from the notebook's own inputs, drawn once at its start, as on screen."""
    import cnnlib.widgets

    args, kwargs, _ = widget_call(notebook, func)
    ref = getattr(cnnlib.widgets, func)(*args, **{**kwargs, "show": False})
    ref.frame()
    return ref


def settle(page, cls):
    """Wait until the widget's figure and readout have not changed for SETTLE_S and the kernel is idle."""
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000 * 2
    last, since = None, time.monotonic()
    idle = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE, cls)
        now = (state["src"], state["readout"])
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_S and idle.count():
            return state
        time.sleep(0.1)
    raise AssertionError(f"the widget of .{cls} never came to rest: {last}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_ten_rapid_moves_leave_the_figure_of_the_final_state(lab_alone, page, case):
    notebook, func, drive = CASES[case]
    if not (NOTEBOOKS / notebook).exists():
        pytest.skip(f"{notebook} is not in notebooks/")
    page.set_viewport_size({"width": 1440, "height": 900})
    ref = reference(notebook, func)
    lab_run_all(page, lab_alone, notebook)
    anchor, controls = drive(page, ref)
    page.locator(f".{anchor}").first.scroll_into_view_if_needed()
    state = settle(page, anchor)

    for cls, value in controls.items():  # the page's controls show the final state worked out above
        assert slider_value(page, cls) == pytest.approx(value), f"{case}: .{cls} is not at {value}"
    assert state["n"] == 1, f"{case}: {state['n']} figures in the widget's cell, expected one"
    assert state["complete"], f"{case}: the figure at rest is not a loaded image (blank)"
    png = base64.b64decode(page.evaluate(_BYTES, anchor))
    shown, expected = pixels(png), pixels(ref.frame())
    assert shown.shape == expected.shape, f"{case}: figure of {shown.shape[:2]} px, expected {expected.shape[:2]}"
    differ = np.any(shown != expected, axis=2)
    assert not differ.any(), (f"{case}: the figure at rest differs from the final state's in {differ.sum()} pixels "
                              f"(rows {np.flatnonzero(differ.any(axis=1))[[0, -1]]}): stale or half drawn")
    assert state["alt"] == ref.alt_text()
    expected_readout = re.sub(r"<[^>]+>", "", ref.readout_html.replace("<br>", "\n")).replace("&nbsp;", " ")
    assert " ".join(state["readout"].split()) == " ".join(expected_readout.split()), f"{case}: readout"
