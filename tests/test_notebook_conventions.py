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


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def test_exercises_are_in_nbgrader_markup(nb):
    """Each exercise: a solution cell (nbgrader metadata, the answer between the solution markers), then a graded
    test cell that runs the checker and shows its verdict (grading happens in a sandbox). One to three per notebook."""
    all_cells = cells(nb)
    challenges = [c for c in all_cells if _nbgrader(c).get("grade_id", "").startswith("challenge_")]
    assert len(challenges) == 1 and not _nbgrader(challenges[0]).get("grade"), "one optional, ungraded challenge"
    solutions = [i for i, c in enumerate(all_cells)
                 if _nbgrader(c).get("solution") and not _nbgrader(c)["grade_id"].startswith("challenge_")]
    assert 1 <= len(solutions) <= 3, f"one to three exercises, found {len(solutions)}"
    ids = [_nbgrader(c)["grade_id"] for c in all_cells if _nbgrader(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for i in solutions:
        cell = all_cells[i]
        text = source(cell)
        assert re.search(r"### BEGIN SOLUTION\n.+\n\s*### END SOLUTION", text, flags=re.S), text
        assert not cell["metadata"].get("jupyter", {}).get("source_hidden"), "students must see the stub"
        fn = re.match(r"def (\w+)\(", text).group(1)
        test = all_cells[i + 1]
        meta = _nbgrader(test)
        assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0, f"{fn}: no graded test cell"
        body = source(test)
        checker = re.search(rf"(check_\w+)\({fn}\)", body)
        assert checker, f"{fn}: its test cell never calls a checker on it"
        # the self-check shows its verdict and never stops Run All; grading runs the function in a sandbox
        assert "assert" not in body and "HIDDEN TESTS" not in body, f"{fn}: the test cell must not stop Run All"


def test_no_teaching_cell_uses_an_exercise_function(nb):
    """Run All in the student version fails only in the test cells: nothing else may call a student's function."""
    all_cells = cells(nb)
    functions = [re.match(r"def (\w+)\(", source(c)).group(1) for c in all_cells if _nbgrader(c).get("solution")]
    for cell in all_cells:
        if cell["cell_type"] != "code" or _nbgrader(cell):
            continue
        for fn in functions:
            assert not re.search(rf"(?<![\w.]){fn}\s*\(", source(cell)), f"a teaching cell calls {fn}"
    assert "_solution" not in "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")


def test_readme_table_lists_every_notebook_with_its_colab_link():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if f"(notebooks/{path.name})" in line), None)
        assert row is not None, f"README's notebook table has no row for {path.name}"
        assert f"/blob/main/notebooks/{path.name})" in row, f"{path.name}: the row lacks its Colab link"


# --- One notation across the series (docs/notation.md) -------------------------------------------------------------
NOTATION = Path(__file__).resolve().parents[1] / "docs" / "notation.md"


def _teaching_cells(nb_path):
    """(index, cell) of every cell but an exercise's: its task markdown (the cell before a solution cell) and its
    nbgrader cells belong to the exercises, which are checked with them. Code is searched too: formulas in comments
    and printed labels are prose."""
    all_cells = cells(nb_path)
    exercise = {i for i, c in enumerate(all_cells) if _nbgrader(c)}
    exercise |= {i - 1 for i, c in enumerate(all_cells) if _nbgrader(c).get("solution")}
    return [(k, c) for k, c in enumerate(all_cells) if k not in exercise]


def test_notation_file_exists_and_fixes_the_core_letters():
    text = NOTATION.read_text()
    for needle in ["| L |", "| N, n |", "| C, c |", "| F, f |", "| (u, v) |", "| (i, j) |", "| s, p, d |",
                   "rot180", "⋆", "Indices start at 0", "| Q, q |", "| R |"]:
        assert needle in text, f"docs/notation.md lacks {needle!r}"


def test_first_cell_links_the_notation_page(nb):
    top = source(cells(nb)[0])
    assert "](../docs/notation.md)" in top, f"{nb.name}: the first cell must link ../docs/notation.md"


def _no_teaching_cell_matches(nb_path, pattern, rule):
    for k, cell in _teaching_cells(nb_path):
        found = pattern.search(source(cell))
        assert not found, f"{nb_path.name} cell {k}: {found.group(0)!r}; {rule} (docs/notation.md)"


ONE_BASED_SUM = re.compile(r"(Σ|\\sum)_\{?\s*[a-z]\s*=\s*1\b")
COST_AS_C = re.compile(r"∂C\s*/\s*∂|\\partial C\b|dC/d[a-zA-Zδ]|\\frac\{\\partial C\}")
OLD_KERNEL_INDICES = re.compile(r"\b[Wk]\[(?:[a-z], ?)*m, ?[nk]\]|\b[Wk]_\{?m, ?[nk]\}?|\\sum_\{?m\s*=")
OUTPUT_LAYER_AS_L = re.compile(r"\\delta\^L\b|[za]\^L(?![A-Za-z0-9{])|δ\^L\b|δᴸ")


def test_sums_start_at_zero(nb):
    _no_teaching_cell_matches(nb, ONE_BASED_SUM, "indices start at 0")


def test_the_cost_is_L_never_C(nb):
    _no_teaching_cell_matches(nb, COST_AS_C, "the cost is L, not C")


def test_kernel_indices_are_u_v(nb):
    """The kernel is indexed W[..., u, v]; the old (m, n) and (m, k) pairs are gone (n is the sample index)."""
    _no_teaching_cell_matches(nb, OLD_KERNEL_INDICES, "kernel indices are (u, v)")


def test_the_output_layer_is_out_not_L(nb):
    """L is the cost, so the output layer is written with the superscript 'out' (δ^out, z^out)."""
    _no_teaching_cell_matches(nb, OUTPUT_LAYER_AS_L, "the output layer is 'out'")


def test_the_checks_catch_the_old_forms():
    """Negative test: each pattern above flags the forms the series used before, and passes the new ones."""
    assert ONE_BASED_SUM.search(r"$\sum_{c=1}^{C}$") and ONE_BASED_SUM.search("Σ_{c=1}^C")
    assert not ONE_BASED_SUM.search(r"$\sum_{c=0}^{C-1}$")
    assert COST_AS_C.search(r"$\partial C/\partial W$") and COST_AS_C.search("∂C/∂x")
    assert not COST_AS_C.search(r"$\partial L/\partial W$")
    assert OLD_KERNEL_INDICES.search("W[m, n]") and OLD_KERNEL_INDICES.search(r"\sum_{m=0}^{4}")
    assert not OLD_KERNEL_INDICES.search("W[f, c, u, v]")
    assert OUTPUT_LAYER_AS_L.search(r"$\delta^L = \hat y - y$") and OUTPUT_LAYER_AS_L.search("a^L_n")
    assert not OUTPUT_LAYER_AS_L.search(r"$\delta^{\text{out}} = \hat y - y$")


def test_markdown_has_no_control_characters(nb):
    """A "\\t" typed in a Python string turns \\text{...} into a TAB and "ext{...}": the formula then renders broken."""
    for k, cell in enumerate(cells(nb)):
        if cell["cell_type"] == "markdown":
            bad = sorted({repr(ch) for ch in source(cell) if ord(ch) < 32 and ch != "\n"})
            assert not bad, f"{nb.name} cell {k}: control characters {bad} in the markdown"
