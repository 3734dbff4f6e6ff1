"""Hand out the notebooks without solutions, and grade a class, with nbgrader.

    python -m cnnlib.classroom student                   # student/NN_name.ipynb: no solutions, no hidden tests
    python -m cnnlib.classroom student 04_rotation_proof # only some notebooks
    python -m cnnlib.classroom grade submissions/        # autograde, then write grades.csv
    python -m cnnlib.classroom grade submissions/ --csv out.csv --timeout 60   # seconds per cell (default 120)

``make student`` and ``make grade SUBMISSIONS=dir [TIMEOUT=60]`` run these. The notebooks in ``notebooks/`` are
nbgrader's *source* version: each exercise's solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a cell with nbgrader metadata, and each graded test cell calls the exercise's checker, with
extra cases between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. Every notebook is one nbgrader
assignment, named like the notebook (``04_rotation_proof``).

Both commands build a throw-away nbgrader course directory in a temporary folder and run nbgrader's own
commands there (``generate_assignment``, ``autograde``, ``export``); nothing is kept but the output.

A submissions folder holds one folder per student, each with that student's notebooks under their original
names (what nbgrader's ``collect``/``zip_collect`` or an LMS export gives after unpacking)::

    submissions/alice/04_rotation_proof.ipynb
    submissions/bob/04_rotation_proof.ipynb
    submissions/bob/08_softmax_cross_entropy.ipynb

nbgrader is in the test extras (``pip install -e ".[test]"``), not a dependency of the library.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["NOTEBOOKS", "release", "autograde", "main"]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# Seconds per cell while autograding. nbgrader interrupts a cell that runs longer (KeyboardInterrupt, then
# CellTimeoutError in its output): that cell fails, and the same kernel goes on with the notebook's next cells and
# then with the other submissions. An endless loop costs its exercise's points, not the grading run.
DEFAULT_TIMEOUT = 120


def _nbgrader(course, *args, timeout=None):
    """Run one nbgrader command in ``course``; raise with its log when it fails."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"]
    env = dict(os.environ)
    # nbgrader runs the `alembic` script of its own environment: put that environment's scripts first on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    run = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=timeout, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"nbgrader {args[0]} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout + run.stderr


def _assignments(names):
    """The notebooks to use: every NN_name.ipynb of notebooks/, or the named ones (with or without .ipynb)."""
    everything = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return everything
    paths = []
    for name in names:
        stem = Path(name).stem
        match = [p for p in everything if p.stem == stem or p.stem.startswith(stem + "_")]
        if not match:
            raise ValueError(f"no notebook {name!r} in {NOTEBOOKS}")
        paths.extend(match)
    return paths


def _course(root, notebooks):
    """An nbgrader course in ``root`` with one source assignment per notebook; returns the assignment names."""
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.db_url = 'sqlite:///' + __import__('os').path.abspath('gradebook.db')\n")
    names = []
    for nb in notebooks:
        folder = root / "source" / nb.stem
        folder.mkdir(parents=True)
        shutil.copy(nb, folder / nb.name)
        names.append(nb.stem)
    return names


def release(out="student", names=()):
    """Write the student version of the notebooks (nbgrader ``generate_assignment``) to ``out``. Returns the
    written paths."""
    notebooks = _assignments(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="cnnlib-course-") as tmp:
        course = Path(tmp)
        assignments = _course(course, notebooks)
        _nbgrader(course, "generate_assignment", "*", "--force")  # every assignment of this course, in one run
        for name in assignments:
            released = course / "release" / name / f"{name}.ipynb"
            shutil.copy(released, out / released.name)
            written.append(out / released.name)
    return written


def autograde(submissions, csv="grades.csv", timeout=DEFAULT_TIMEOUT, log=print, course=None):
    """Autograde every ``submissions/<student>/<notebook>.ipynb`` and write nbgrader's grades CSV to ``csv``.
    ``course``: an empty folder to build the nbgrader course in and keep (its ``autograded/`` folder then holds
    each graded notebook with the checkers' messages); default: a temporary one. Returns the CSV's path."""
    submissions = Path(submissions)
    students = sorted(p for p in submissions.iterdir() if p.is_dir()) if submissions.is_dir() else []
    found = {(s.name, nb.stem): nb for s in students for nb in sorted(s.glob("[0-9][0-9]_*.ipynb"))}
    if not found:
        raise ValueError(f"no submissions in {submissions}: expected {submissions}/<student>/NN_name.ipynb")
    wanted = sorted({name for _, name in found})
    csv = Path(csv).resolve()
    with tempfile.TemporaryDirectory(prefix="cnnlib-course-") as tmp:
        course = Path(course or tmp).resolve()
        course.mkdir(parents=True, exist_ok=True)
        _course(course, _assignments(wanted))
        _nbgrader(course, "generate_assignment", "*", "--force")  # records the graded cells and points
        for (student, name), path in found.items():
            target = course / "submitted" / student / name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / f"{name}.ipynb")
        for name in wanted:
            log(f"autograding {name} ({sum(n == name for _, n in found)} submission(s))")
            _nbgrader(course, "autograde", name, "--force", f"--Execute.timeout={int(timeout)}")
        _nbgrader(course, "export", f"--to={csv}")
    log(f"grades written to {csv}")
    return csv


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.classroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student notebooks (no solutions, no hidden tests)")
    s.add_argument("notebooks", nargs="*", help="only these notebooks (default: all)")
    s.add_argument("--out", default="student", help="output folder (default: student/)")
    g = sub.add_parser("grade", help="autograde a folder of submissions and write the grades CSV")
    g.add_argument("submissions", help="a folder with one folder per student")
    g.add_argument("--csv", default="grades.csv", help="where to write the grades (default: grades.csv)")
    g.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                   help=f"seconds a cell may run while autograding (default {DEFAULT_TIMEOUT})")
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            for path in release(args.out, args.notebooks):
                print(path)
        else:
            autograde(args.submissions, args.csv, args.timeout)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"classroom: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
