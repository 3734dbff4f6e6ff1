"""Open the notebook series in JupyterLab, the same way as root (containers) and as a normal user.

    python -m cnnlib.lab                      # trust notebooks/NN_*.ipynb, then jupyter lab notebooks/
    python -m cnnlib.lab --port 8890          # any other option goes to jupyter lab
    python -m cnnlib.lab --prepare            # after re-executing them: kernelspec + trust, no server

JupyterLab refuses to start as root without ``--allow-root``; this adds it only for root. The series' own
notebooks are trusted first (their saved outputs, such as the widgets' HTML, are shown and the server logs no
"not trusted"): Jupyter keeps that trust in a database of the user's, so it is given on each machine, never
stored in the files. ``--prepare`` (run by ``make notebooks``) also sets each notebook's kernelspec metadata to
the installed Python kernel's (name, display name, language), so that JupyterLab has nothing to change when it
opens one and the notebook does not show as modified, and keeps only the PNG of each saved widget output (the
notebooks are saved without widget state, so a saved widget view could only say "model not found").
"""

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["series", "trust", "match_kernelspec", "saved_figures_only", "lab_command", "main"]


def series(directory=None):
    """The series notebooks NN_*.ipynb: of ``directory``, else ./notebooks, else the checkout's notebooks/."""
    from .export import find_notebooks

    if directory is None:
        here = Path.cwd() / "notebooks"
        directory = here if here.is_dir() else Path(__file__).resolve().parents[1] / "notebooks"
    return find_notebooks(directory)


def trust(paths):
    """Sign each notebook in the user's trust database (what ``jupyter trust`` does). -> how many were new."""
    import nbformat
    from nbformat.sign import NotebookNotary

    notary, signed = NotebookNotary(), 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)
            signed += 1
    return signed


def installed_kernelspec(name="python3"):
    """{"name", "display_name", "language"} of the kernel ``name`` as installed for this Python (ipykernel's
    "Python 3 (ipykernel)" when it comes with jupyterlab), from ``jupyter kernelspec list --json``."""
    import json

    run = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], capture_output=True,
                         text=True)
    specs = json.loads(run.stdout).get("kernelspecs", {}) if run.returncode == 0 else {}
    if name not in specs:
        raise SystemExit(f"cnnlib.lab: no Jupyter kernel named {name!r} is installed ({run.stderr.strip()[-300:]}); "
                         "install ipykernel (it comes with jupyterlab)")
    spec = specs[name]["spec"]
    return {"name": name, "display_name": spec["display_name"], "language": spec["language"]}


def match_kernelspec(paths, spec):
    """Set each notebook's metadata.kernelspec to ``spec`` where it differs; only that key is rewritten.
    -> the paths changed."""
    import nbformat

    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if dict(nb.metadata.get("kernelspec", {})) != spec:
            nb.metadata["kernelspec"] = dict(spec)
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def saved_figures_only(paths):
    """Keep only the PNG of each saved widget output of a notebook saved without widget state (as ``make
    notebooks`` saves them): its widget view could never be drawn, and JupyterLab would show "Error displaying
    widget: model not found" in place of the figure until the cell runs again. -> the paths changed."""
    import nbformat

    from .export import WIDGET_VIEW, static_widgets

    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if "widgets" in nb.metadata or not any(WIDGET_VIEW in o.get("data", {}) for c in nb.cells
                                               for o in c.get("outputs", [])):
            continue
        nbformat.write(static_widgets(nb), path)
        changed.append(path)
    return changed


def lab_command(args, notebook_dir, root=None):
    """The jupyter lab command line: ``--allow-root`` for root only, then ``args``, then the folder."""
    if root is None:
        root = hasattr(os, "geteuid") and os.geteuid() == 0
    return [sys.executable, "-m", "jupyterlab"] + (["--allow-root"] if root else []) + list(args) + [str(notebook_dir)]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    prepare = "--prepare" in argv
    argv = [a for a in argv if a != "--prepare"]
    paths = series()
    if not paths:
        raise SystemExit("cnnlib.lab: no notebooks/NN_*.ipynb here or in the checkout")
    if prepare:
        changed = match_kernelspec(paths, installed_kernelspec())
        print(f"cnnlib.lab: kernelspec set in {len(changed)} of {len(paths)} notebook(s)")
        figures = saved_figures_only(paths)
        print(f"cnnlib.lab: saved widget outputs reduced to their figures in {len(figures)} notebook(s)")
    signed = trust(paths)
    print(f"cnnlib.lab: {len(paths)} notebook(s) trusted ({signed} newly signed)")
    if prepare:
        return 0
    cmd = lab_command(argv, paths[0].parent)
    if os.name == "posix":  # become jupyter lab: a signal to this process (Ctrl-C, a stop) reaches the server itself
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
