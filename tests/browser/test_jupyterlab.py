"""Notebook 04 in JupyterLab, as a student uses it: open it, Run → Run All Cells, wait for the kernel to finish,
then move the delta-flow sliders and read the sum the widget shows."""

import pytest
import scipy.signal

from browser_support import NOTEBOOKS, lab_run_all, widget_call

NB = "04_rotation_proof.ipynb"
NUM = r"(-?\d+\.\d+)"


def test_04_run_all_then_drive_delta_flow(jupyterlab, page, ui):
    if not (NOTEBOOKS / NB).exists():
        pytest.skip(f"{NB} is not in notebooks/ yet")
    (x, W, delta), _, _ = widget_call(NB, "delta_flow")
    dx = scipy.signal.convolve2d(delta, W, "full")  # ∂C/∂x of z = x ⋆ W, computed independently

    lab_run_all(page, jupyterlab, NB)
    for r, c in [(x.shape[0] - 1, 0), (2, 2)]:
        ui.set_slider("cnnlib-deltaflow-row", r)
        ui.set_slider("cnnlib-deltaflow-col", c)
        (total,) = ui.numbers("cnnlib-deltaflow-readout", rf"sum = {NUM} = dx\[{r}, {c}\]")
        assert total == pytest.approx(dx[r, c], abs=6e-5)
