"""pyproject.toml, environment.yml and binder/environment.yml must describe the same dependencies, and the runtime
set must be exactly what cnnlib and the notebooks import (plus JupyterLab, which opens them)."""

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from PyPI
CONDA_TO_PIP = {"pytorch": "torch"}
# needed at run time but never imported: the application that opens the notebooks
RUNTIME_TOOLS = {"jupyterlab"}


def split(spec):
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def runtime_requirements():
    return dict(split(r.split(";")[0]) for r in project()["dependencies"])


def all_pip_requirements():
    reqs = list(project()["dependencies"])
    for extra in project()["optional-dependencies"].values():
        reqs += extra
    return dict(split(r.split(";")[0]) for r in reqs)


def conda_environment(path):
    env = yaml.safe_load(path.read_text())
    conda, pip_section = {}, None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep["pip"]
            continue
        name, spec = split(dep)
        conda[CONDA_TO_PIP.get(name, name)] = spec
    python = conda.pop("python")
    conda.pop("pip")
    return env, conda, python, pip_section


def test_environment_yml_lists_everything_pyproject_lists():
    env, conda, python, _ = conda_environment(ROOT / "environment.yml")
    assert python == project()["requires-python"]
    assert conda == all_pip_requirements()


def test_binder_environment_is_the_runtime_only():
    env, conda, python, _ = conda_environment(ROOT / "binder" / "environment.yml")
    assert python == project()["requires-python"]
    assert conda == runtime_requirements()


def test_conda_forge_channel_and_pip_installs_the_project():
    for path, project_dir in ((ROOT / "environment.yml", "."), (ROOT / "binder" / "environment.yml", "..")):
        env, _, _, pip_section = conda_environment(path)
        assert env["channels"] == ["conda-forge"]
        # conda runs the pip section from the folder of the environment file
        assert pip_section is not None and any(line.strip() == f"-e {project_dir}" for line in pip_section), path


# --------------------------------------------------------------------------------------- imports vs dependencies
def _guarded(handlers):
    """True if one of a try statement's handlers catches ImportError (so the import inside is optional)."""
    for handler in handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
            return True
    return False


def _imports(tree):
    """-> (required, optional): top-level module names imported outside / inside `try: ... except ImportError`."""
    required, optional = set(), set()

    def visit(node, in_guard):
        if isinstance(node, ast.Try):
            guard = in_guard or _guarded(node.handlers)
            for child in node.body:
                visit(child, guard)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, in_guard)
            return
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            names = []
        for name in names:
            (optional if in_guard else required).add(name.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child, in_guard)

    visit(tree, False)
    return required, optional


def _sources():
    for path in sorted((ROOT / "cnnlib").rglob("*.py")):
        yield path.relative_to(ROOT), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                # IPython magics (%matplotlib, !pip) are not Python
                lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                         else line for line in "".join(cell["source"]).splitlines()]
                yield f"{path.relative_to(ROOT)} cell {i}", "\n".join(lines)


def _third_party(modules, required=True):
    dists = importlib.metadata.packages_distributions()
    found = {}
    for module in modules - set(sys.stdlib_module_names) - {"cnnlib", "__future__"}:
        if module not in dists and not required:  # an optional package that is not installed here (make test TORCH=)
            found[module] = {module.lower()}
            continue
        assert module in dists, f"{module} is imported but no installed distribution provides it"
        found[module] = {d.lower() for d in dists[module]}
    return found


def imported_distributions():
    required, optional = set(), set()
    for _, text in _sources():
        r, o = _imports(ast.parse(text))
        required |= r
        optional |= o
    return _third_party(required), _third_party(optional - required, required=False)


def test_runtime_dependencies_are_what_cnnlib_and_the_notebooks_import():
    required, _ = imported_distributions()
    imported = set().union(*required.values())
    assert set(runtime_requirements()) == imported | RUNTIME_TOOLS, (
        f"imported without a guard: {sorted(imported)}; runtime dependencies: {sorted(runtime_requirements())}")


def test_optional_imports_are_in_an_extra_not_the_runtime():
    _, optional = imported_distributions()
    extras = {split(r)[0] for reqs in project()["optional-dependencies"].values() for r in reqs}
    for module, dists in optional.items():
        assert dists & extras, f"{module} is imported under `except ImportError` but no extra provides it"
        assert not dists & set(runtime_requirements()), f"{module} is optional in the code but a runtime dependency"


def test_the_import_scan_sees_guards():
    # the scanner itself: a guarded import is optional, a plain one required, a relative one ignored
    code = "import a\nfrom . import b\ntry:\n    import c.d\nexcept ImportError:\n    import e\n"
    assert _imports(ast.parse(code)) == ({"a", "e"}, {"c"})


def test_heavy_data_stacks_are_not_dependencies():
    runtime = set(runtime_requirements())
    assert not runtime & {"mlxtend", "pandas", "scikit-learn", "scipy", "torch", "pytest", "playwright", "voila"}
    assert {split(r)[0] for r in project()["optional-dependencies"]["reference"]} == {"torch"}


def test_makefile_lab_installs_the_runtime_only():
    make = (ROOT / "Makefile").read_text()
    setup = re.search(r"^setup:.*\n((?:\t.*\n)+)", make, re.M).group(1)
    assert "pip install -e ." in setup and "[test]" not in setup and "torch" not in setup.lower()
    assert re.search(r"^lab: setup$", make, re.M)
    assert re.search(r"^test: setup-test$", make, re.M)


def test_embedded_mnist_is_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cnnlib"]
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "README.md"):
        assert (ROOT / "cnnlib" / "embedded_mnist" / name).is_file()
        assert any(Path(name).match(pattern.split("/")[-1]) for pattern in data)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
