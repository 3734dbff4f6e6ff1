"""Every notebook of the series follows the conventions of the course (issue: notebooks 01-04 and later)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LIBRARY_NAMES = {"Conv2D", "Dense", "ReLU", "MaxPool2D", "AvgPool2D", "Sequential", "SGD", "correlate2d",
                 "convolve2d", "rot180", "numerical_gradient", "rel_error", "check_layer", "load_mnist"}


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def nb(request):
    return request.param


def test_the_series_is_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 7


def test_top_cell_has_title_objectives_and_prerequisites(nb):
    top = source(cells(nb)[0])
    assert top.startswith(f"# {nb.name[:2]}"), "the first cell starts with the numbered title"
    objectives = re.findall(r"^\s*\d\.\s", top, flags=re.M)
    assert 3 <= len(objectives) <= 5, f"3-5 numbered learning objectives, found {len(objectives)}"
    assert re.search(r"already know|prerequisite", top, flags=re.I), "says what the reader should already know"


def test_first_code_cell_installs_only_on_colab(nb):
    first = source(next(c for c in cells(nb) if c["cell_type"] == "code"))
    assert '"google.colab" in sys.modules' in first and "pip install" in first


def test_committed_executed(nb):
    code = [c for c in cells(nb) if c["cell_type"] == "code" and source(c).strip()]
    assert all(c.get("execution_count") is not None for c in code), "re-execute the notebook before committing"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in one fresh kernel"


def test_asserts_what_it_teaches_and_never_redefines_the_library(nb):
    code = "\n".join(source(c) for c in cells(nb) if c["cell_type"] == "code")
    assert code.count("assert") >= 3
    redefined = {name for name in LIBRARY_NAMES if re.search(rf"^(def|class) {name}\b", code, flags=re.M)}
    assert not redefined, f"library code redefined in the notebook: {redefined}"


def test_exercises_have_a_hidden_reference_solution_that_is_checked(nb):
    all_cells = cells(nb)
    solutions = [i for i, c in enumerate(all_cells) if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, "at least one exercise with a reference solution"
    for i in solutions:
        assert all_cells[i]["metadata"].get("jupyter", {}).get("source_hidden") is True
    checked = "\n".join(source(c) for c in all_cells[solutions[-1]:] if c["cell_type"] == "code")
    assert re.search(r"assert \w+", checked), "the reference solution is run through its checker and asserted"


def test_readme_table_lists_every_notebook_with_its_colab_link():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if f"(notebooks/{path.name})" in line), None)
        assert row is not None, f"README's notebook table has no row for {path.name}"
        assert f"/blob/main/notebooks/{path.name})" in row, f"{path.name}: the row lacks its Colab link"
