"""environment.yml (conda-forge, Binder) and pyproject.toml (pip) must describe the same dependencies."""

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from PyPI
CONDA_TO_PIP = {"pytorch": "torch"}


def split(spec):
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def pip_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return project, dict(split(r.split(";")[0]) for r in reqs)


def conda_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip_section = {}, None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep["pip"]
            continue
        name, spec = split(dep)
        conda[CONDA_TO_PIP.get(name, name)] = spec
    return env, conda, pip_section


def test_same_packages_and_specifiers():
    project, pip = pip_requirements()
    env, conda, _ = conda_environment()
    python = conda.pop("python")
    conda.pop("pip")
    assert python == project["requires-python"]
    assert conda == pip


def test_conda_forge_channel_and_pip_installs_the_project():
    env, _, pip_section = conda_environment()
    assert env["channels"] == ["conda-forge"]
    assert pip_section is not None and any(line.strip() in ("-e .", ".") for line in pip_section)


def test_runtime_dependencies_are_the_documented_ones():
    project, _ = pip_requirements()
    names = {split(r)[0] for r in project["dependencies"]}
    assert names == {"numpy", "matplotlib", "ipywidgets", "jupyterlab", "tqdm", "mlxtend"}
    assert {split(r)[0] for r in project["optional-dependencies"]["reference"]} == {"torch"}
    assert {"pytest", "nbval", "hypothesis", "scipy"} <= {split(r)[0] for r in project["optional-dependencies"]["test"]}


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
