"""Hand out the notebooks without solutions, and grade a class: nbgrader for the paperwork, a sandbox for the code.

    python -m cnnlib.classroom student                   # student/NN_name.ipynb: no solutions
    python -m cnnlib.classroom student 04_rotation_proof # only some notebooks
    python -m cnnlib.classroom grade submissions/        # grade every submission, then write grades.csv
    python -m cnnlib.classroom grade submissions/ --csv out.csv --timeout 60 --seed 7   # seconds per exercise
    python -m cnnlib.classroom grade submissions/ --course course/   # keep nbgrader's gradebook and feedback

``make student`` and ``make grade SUBMISSIONS=dir [GRADES=file] [TIMEOUT=s]`` run these. The notebooks in
``notebooks/`` are nbgrader's *source* version: each exercise's solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a solution cell, and each exercise's graded test cell (its points) runs the friendly
self-check. Every notebook is one nbgrader assignment, named like the notebook (``04_rotation_proof``).

Grading never runs a submission's notebook. nbgrader's ``generate_assignment`` records the assignments and points
in a gradebook; then every submission is graded on its own (cnnlib.grade: the exercise functions run in a
sandbox on the shown cases and on hidden ones drawn from this run's seed, the verdict is decided here), and the
scores and messages are written into nbgrader's gradebook through its API, so that ``nbgrader export`` and the
feedback files (``generate_feedback``) agree with grades.csv. A notebook that cannot be read (broken or
truncated JSON, empty) gets its row with 0 for each of its exercises and the reason; a notebook whose cells were
duplicated or renamed is graded by its function names, with a note; code that loops, exhausts memory or kills
its process costs only its own exercise. The command exits with 0 unless the course itself is broken.

A submissions folder holds one folder per student, each with that student's notebooks under their original
names (what nbgrader's ``collect``/``zip_collect`` or an LMS export gives after unpacking)::

    submissions/alice/04_rotation_proof.ipynb
    submissions/bob/04_rotation_proof.ipynb
    submissions/bob/08_softmax_cross_entropy.ipynb

grades.csv has one row per student: the points of every exercise of the graded notebooks, the total, the reasons
for every exercise that scored 0, the seed of the hidden cases and the sandbox used. nbgrader is in the
classroom and test extras (``pip install -e ".[classroom]"``), not a dependency of the library.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["NOTEBOOKS", "release", "autograde", "grade_notebook", "main"]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# Seconds one exercise's sandbox may run (all its cases). A sandbox that runs longer is killed: an endless loop
# costs that exercise's points, not the grading run.
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


def _exercises_of(name):
    """[(checker, Exercise)] of one notebook, in order."""
    from .grade import exercises

    return [(c, spec) for c, spec in exercises().items() if spec.notebook == name]


def grade_notebook(path, name, seed, timeout=DEFAULT_TIMEOUT):
    """Grade one student's notebook ``name`` at ``path`` (None: not submitted). Returns ([Verdict or reason text
    per exercise], [notes]). Never raises for anything in the submission."""
    from . import sandbox
    from .grade import Verdict, grade_exercise

    specs = _exercises_of(name)

    def zero(reason):
        return [Verdict(c, s.function, s.title, False, reason, seed=seed) for c, s in specs]

    if path is None:
        return zero("not submitted"), []
    try:
        extracted = sandbox.extract(path)
    except sandbox.SandboxError as exc:
        return zero(str(exc)), [str(exc)]
    notes = list(extracted.notes)
    expected_ids = {f"{s.function}_test" for _, s in specs} | {s.function for _, s in specs}
    seen = [g for g in extracted.grade_ids if not g.startswith("challenge_")]  # optional challenges: ungraded
    if sorted(set(seen)) != sorted(expected_ids) or len(seen) != len(set(seen)):
        renamed = sorted(set(seen) - expected_ids)
        doubled = sorted({g for g in seen if seen.count(g) > 1})
        missing = sorted(expected_ids - set(seen))
        what = "; ".join(t for t in (f"renamed or new cell ids {', '.join(renamed)}" if renamed else "",
                                      f"duplicated cells {', '.join(doubled)}" if doubled else "",
                                      f"missing cells {', '.join(missing)}" if missing else "") if t)
        notes.append(f"the notebook's graded cells were changed ({what}); graded by the function names")
    verdicts = []
    for checker, spec in specs:
        try:
            verdicts.append(grade_exercise(extracted, checker, seed=seed, timeout=timeout))
        except Exception as exc:  # noqa: BLE001 - one odd submission must not stop the class
            verdicts.append(Verdict(checker, spec.function, spec.title, False,
                                    f"could not be graded: {type(exc).__name__}: {exc}", seed=seed))
    return verdicts, notes


def _record(gradebook, student, name, verdicts, notes):
    """Write the verdicts of one (student, notebook) into nbgrader's gradebook: the test cell's auto score and the
    solution cell's comment."""
    from .grade import exercises

    import warnings

    gradebook.update_or_create_student(student)
    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy use warns while it creates the submission's rows
        warnings.simplefilter("ignore")
        gradebook.update_or_create_submission(name, student)
    points = {spec.function: spec.points for spec in exercises().values()}
    for v in verdicts:
        grade = gradebook.find_grade(f"{v.function}_test", name, name, student)
        grade.auto_score = float(points[v.function]) if v.passed else 0.0
        comment = gradebook.find_comment(v.function, name, name, student)
        comment.auto_comment = "\n".join([str(v)] + notes)
    gradebook.db.commit()


def _feedback_notebook(course, student, name, verdicts):
    """The notebook nbgrader's generate_feedback renders: the released version with the student's solution cells
    (their text only, never run) and each graded cell's output replaced by the sandbox's verdict."""
    import nbformat

    nb = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    submitted = course / "submitted" / student / name / f"{name}.ipynb"
    theirs = {}
    try:
        raw = json.loads(submitted.read_text(encoding="utf-8"))
        for cell in raw.get("cells", []):
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid and cell.get("cell_type") == "code":
                src = cell.get("source", "")
                theirs[gid] = "".join(src) if isinstance(src, list) else str(src)
    except (OSError, ValueError, AttributeError):
        pass
    by_test = {f"{v.function}_test": v for v in verdicts}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or not gid:
            continue
        if cell.metadata["nbgrader"].get("solution") and gid in theirs:
            cell.source = theirs[gid]
        if gid in by_test:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=str(by_test[gid]) + "\n")]
    folder = course / "autograded" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def _write_csv(csv_path, rows, columns):
    import csv as _csv

    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = _csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def autograde(submissions, csv="grades.csv", timeout=DEFAULT_TIMEOUT, log=print, course=None, seed=None):
    """Grade every ``submissions/<student>/<notebook>.ipynb`` and write grades.csv to ``csv`` (next to it,
    ``<csv stem>.nbgrader.csv``: nbgrader's own export of the same gradebook). ``course``: an empty folder to build
    the nbgrader course in and keep (gradebook.db, autograded/ and feedback/ for each student); default: a temporary
    one. ``seed``: of the hidden cases (default: a new one, written into the CSV). Returns the CSV's path.
    Raises (ValueError, RuntimeError) only when the course itself is broken or there is nothing to grade."""
    import secrets

    from . import sandbox
    from .grade import FALLBACK_WARNING

    submissions = Path(submissions)
    students = sorted(p for p in submissions.iterdir() if p.is_dir()) if submissions.is_dir() else []
    found = {(s.name, nb.stem): nb for s in students for nb in sorted(s.glob("[0-9][0-9]_*.ipynb"))}
    known = {p.stem for p in _assignments(())}
    found = {k: v for k, v in found.items() if k[1] in known}
    if not found:
        raise ValueError(f"no submissions in {submissions}: expected {submissions}/<student>/NN_name.ipynb")
    wanted = sorted({name for _, name in found})
    everyone = sorted({s for s, _ in found})
    seed = secrets.randbelow(2**32) if seed is None else int(seed)
    kind = sandbox.sandbox_kind()
    log(f"grading {len(found)} notebook(s) of {len(everyone)} student(s) in a {kind} sandbox; hidden cases: seed "
        f"{seed}")
    if kind != "bubblewrap":
        log(FALLBACK_WARNING)
    for name in wanted:  # every exercise has its solution cell and its graded test cell
        cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells}
        for _, spec in _exercises_of(name):
            for cell in (spec.function, f"{spec.function}_test"):
                if cell not in ids:
                    raise RuntimeError(f"the course is broken: notebooks/{name}.ipynb has no nbgrader cell {cell!r} "
                                       f"for the exercise {spec.function}")
    csv = Path(csv).resolve()
    with tempfile.TemporaryDirectory(prefix="cnnlib-course-") as tmp:
        course = Path(course or tmp).resolve()
        course.mkdir(parents=True, exist_ok=True)
        _course(course, _assignments(wanted))
        _nbgrader(course, "generate_assignment", "*", "--force")  # records the graded cells and their points
        try:
            from nbgrader.api import Gradebook
        except ImportError:
            raise RuntimeError("grading a class needs nbgrader: pip install -e \".[classroom]\"") from None

        for name in wanted:  # the course's own solutions must pass in this sandbox, or nobody can be graded
            for v in grade_notebook(NOTEBOOKS / f"{name}.ipynb", name, seed, timeout)[0]:
                if not v.passed:
                    raise RuntimeError(f"the course is broken: the solution of {v.function} in notebooks/{name}.ipynb "
                                       f"does not pass in the {kind} sandbox: {v.message}")

        columns = ["student"] + [s.function for name in wanted for _, s in _exercises_of(name)]
        columns += ["score", "max_score", "reasons", "seed", "sandbox"]
        rows = {s: {"student": s, "score": 0, "max_score": 0, "seed": seed, "sandbox": kind, "reasons": []}
                for s in everyone}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for name in wanted:
                log(f"grading {name} ({sum(n == name for _, n in found)} submission(s))")
                for student in everyone:
                    path = found.get((student, name))
                    if path is not None and path.is_file() and not path.is_symlink():  # for the records; never run
                        target = course / "submitted" / student / name
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.copy(path, target / f"{name}.ipynb")
                    verdicts, notes = grade_notebook(path, name, seed, timeout)
                    _record(gradebook, student, name, verdicts, notes)
                    row = rows[student]
                    for v in verdicts:
                        points = next(s.points for _, s in _exercises_of(name) if s.function == v.function)
                        row[v.function] = points if v.passed else 0
                        row["score"] += row[v.function]
                        row["max_score"] += points
                        if not v.passed:
                            row["reasons"].append(f"{v.function}: {v.message}")
                    row["reasons"] += [f"{name}: {n}" for n in notes if all(n != v.message for v in verdicts)]
                    if path is not None:
                        _feedback_notebook(course, student, name, verdicts)  # the released notebook + their text
        for row in rows.values():
            row["reasons"] = " | ".join(dict.fromkeys(row["reasons"]))
        _write_csv(csv, [rows[s] for s in everyone], columns)
        _nbgrader(course, "export", f"--to={csv.with_suffix('.nbgrader.csv')}")
        try:
            _nbgrader(course, "generate_feedback", "*", "--force")
        except RuntimeError as exc:  # the grades stand; only the HTML feedback is missing
            log(f"nbgrader could not write the feedback files: {str(exc)[:500]}")
    log(f"grades written to {csv}")
    return csv


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.classroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student notebooks (no solutions, no hidden tests)")
    s.add_argument("notebooks", nargs="*", help="only these notebooks (default: all)")
    s.add_argument("--out", default="student", help="output folder (default: student/)")
    g = sub.add_parser("grade", help="grade a folder of submissions in the sandbox and write the grades CSV")
    g.add_argument("submissions", help="a folder with one folder per student")
    g.add_argument("--csv", default="grades.csv", help="where to write the grades (default: grades.csv)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one exercise's sandbox may run (default {DEFAULT_TIMEOUT})")
    g.add_argument("--seed", type=int, default=None,
                   help="seed of the hidden cases (default: a new one, written into the CSV)")
    g.add_argument("--course", default=None, metavar="DIR",
                   help="build the nbgrader course here and keep it (gradebook.db, feedback/); default: temporary")
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            for path in release(args.out, args.notebooks):
                print(path)
        else:
            autograde(args.submissions, args.csv, args.timeout, course=args.course, seed=args.seed)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"classroom: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
