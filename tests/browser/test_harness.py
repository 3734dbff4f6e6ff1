"""The harness itself, on a tiny notebook of our own: if this fails, the servers or the browser are the problem,
not a widget. It drives every kind of control the real widgets use."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


WIDGET_CELL = """\
import ipywidgets as w
import numpy as np
x = np.arange(10.0) ** 2
n = w.IntSlider(value=2, min=0, max=9, description="n"); n.add_class("cnnlib-fixture-n")
mode = w.Dropdown(options=["sum", "max"], value="sum"); mode.add_class("cnnlib-fixture-mode")
flip = w.ToggleButton(value=False, description="flip"); flip.add_class("cnnlib-fixture-flip")
cell = w.Button(description="0,1"); cell.add_class("cnnlib-fixture-cell-0-1")
out = w.HTML(); out.add_class("cnnlib-fixture-readout")
clicks = []
def update(*_):
    part = x[: n.value + 1][::-1] if flip.value else x[: n.value + 1]
    value = part.sum() if mode.value == "sum" else part.max()
    out.value = f"n = {n.value}, {mode.value} = {value:.4f}, first = {part[0]:g}, clicks = {len(clicks)}"
for c in (n, mode, flip):
    c.observe(update, names="value")
cell.on_click(lambda _: (clicks.append(1), update()))
update()
w.VBox([n, mode, flip, cell, out])
"""


def write_fixture(root, name="_fixture_widgets.ipynb"):
    """Write the fixture notebook into the served directory (not the repo) and return its name."""
    nb = new_notebook(cells=[new_markdown_cell("# Fixture\nA harness check."), new_code_cell(WIDGET_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    return name


def drive(ui):
    assert ui.text("cnnlib-fixture-readout") == "n = 2, sum = 5.0000, first = 0, clicks = 0"
    ui.set_slider("cnnlib-fixture-n", 5)
    ui.expect_text("cnnlib-fixture-readout", f"n = 5, sum = {sum(k * k for k in range(6)):.4f}")
    ui.select("cnnlib-fixture-mode", "max")
    ui.expect_text("cnnlib-fixture-readout", "max = 25.0000")
    ui.click("cnnlib-fixture-flip")
    ui.expect_text("cnnlib-fixture-readout", "first = 25")
    ui.click("cnnlib-fixture-cell-0-1")
    ui.expect_text("cnnlib-fixture-readout", "clicks = 1")
    ui.type_slider("cnnlib-fixture-n", 3)
    ui.expect_text("cnnlib-fixture-readout", "n = 3, max = 9.0000, first = 9")


def test_voila_drives_a_fixture_widget(voila, notebook_root, ui):
    ui.open_voila(voila, write_fixture(notebook_root))
    drive(ui)
