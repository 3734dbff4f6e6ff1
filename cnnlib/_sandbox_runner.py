"""The program that runs INSIDE the grading sandbox (see cnnlib/sandbox.py); it needs only Python and numpy.

    python -I -S _sandbox_runner.py JOB_DIR LIB_DIR...

JOB_DIR (read-only) holds job.json ({"function": name, "cases": [[argument, ...], ...], "allowed": [module, ...],
"helpers": text, "refused": {module: what it hands the work to}, "unavailable": {module: why}}), the learner's extracted code (submission.py) and the array
arguments (in_<case>_<arg>.npy). An argument is {"npy": file}, {"int": n}, {"float": v} or {"tuple": [ints]}.

The answers go to the grader through the standard output the runner had when it started (the learner's code gets
/dev/null as its stdout and stderr): for every case one JSON line, {"case": i, "sizes": [bytes, ...]} followed by
that many bytes of .npy data per output (float64), or {"case": i, "error": text}; a line {"case": "load", ...}
when the code cannot even be loaded. The grader trusts none of it beyond "these are the learner's numbers": it
reads the arrays with allow_pickle=False, checks their dtype and shape, and compares them with its own reference.

Before the learner's code runs, an import hook lets that code import only numpy, a few harmless standard
modules and the helpers its exercise allows (the stand-in ``cnnlib`` package in LIB_DIR); every other import
fails with a message naming what it would have handed the work to.
"""

import builtins
import json
import os
import sys

# Standard modules any exercise may import. Everything else of the standard library is out of reach of the
# learner's code (numpy's own imports are not restricted).
ALWAYS = {"numpy", "math", "cmath", "itertools", "functools", "collections", "operator", "typing", "dataclasses",
          "numbers", "fractions", "decimal", "copy", "string", "enum", "abc"}
SUBMISSION = "__submission__"


def _install_hook(allowed, helpers, refused, unavailable):
    """Replace __import__: an import written in the learner's code (whose globals are the submission's) must be
    allowed; imports made inside numpy or the helpers are not restricted."""
    real_import = builtins.__import__

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if globals is not None and globals.get("__name__") == SUBMISSION:
            if level:
                raise ImportError("relative imports are not available while grading")
            top = name.split(".")[0]
            if not (top in ALWAYS or name in allowed or (top == "cnnlib" and name == "cnnlib")):
                raise ImportError(_refusal(name, helpers, refused, unavailable))
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded


def _longest_prefix(name, table):
    for prefix in sorted(table, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return table[prefix]
    return None


def _refusal(name, helpers, refused, unavailable):
    who = _longest_prefix(name, refused)
    if who:
        what = f"this hands the work to {who}; the exercise asks you to derive it"
    else:
        what = _longest_prefix(name, unavailable) or f"`{name}` is not among what this exercise may use"
    return (f"while grading, `import {name}` is refused: {what}. Your code may import numpy (and math, itertools, "
            f"functools, collections){' and ' + helpers if helpers else ''}.")


def _argument(io, spec):
    import numpy as np

    if "npy" in spec:
        return np.load(os.path.join(io, spec["npy"]), allow_pickle=False)
    if "int" in spec:
        return int(spec["int"])
    if "float" in spec:
        return float(spec["float"])
    return tuple(int(v) for v in spec["tuple"])


def _send(channel, case, arrays=(), **fields):
    import io as _io

    import numpy as np

    blobs = []
    for a in arrays:
        buf = _io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        blobs.append(buf.getvalue())
    channel.write(json.dumps({"case": case, "sizes": [len(b) for b in blobs], **fields}).encode() + b"\n")
    for b in blobs:
        channel.write(b)
    channel.flush()


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 400 else text[:400] + " ..."


def main(job_dir, lib_dirs):
    sys.path[:] = [p for p in sys.path if p] + list(lib_dirs)
    sys.dont_write_bytecode = True
    channel = os.fdopen(os.dup(1), "wb")  # the answers' way out; the learner's prints go nowhere
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    try:
        import numpy as np
        import numpy.lib.stride_tricks  # noqa: F401  (loaded before the hook, so that the learner may use it)

        with open(os.path.join(job_dir, "job.json")) as f:
            job = json.load(f)
        allowed = set(job["allowed"])
        for module in sorted(allowed):  # the stand-in helpers load before the learner's code can touch anything
            __import__(module)
        cases = [[_argument(job_dir, a) for a in case] for case in job["cases"]]
        with open(os.path.join(job_dir, "submission.py")) as f:
            code = f.read()
    except BaseException as exc:  # noqa: B036 - the sandbox's own failure, before any learner code ran
        import traceback

        channel.write(json.dumps({"case": "setup", "error": traceback.format_exc()[-1500:]}).encode() + b"\n")
        channel.flush()
        raise SystemExit(3) from exc
    _send(channel, "ready")
    _install_hook(allowed, job.get("helpers", ""), job.get("refused", {}), job.get("unavailable", {}))
    namespace = {"__name__": SUBMISSION, "__builtins__": builtins}
    try:
        exec(compile(code, "<your code>", "exec"), namespace)
        fn = namespace[job["function"]]
    except BaseException as exc:  # noqa: B036 - SystemExit too: nothing of the learner's ends the runner early
        _send(channel, "load", error=_describe(exc))
        return
    for i, args in enumerate(cases):
        try:
            out = fn(*args)
            outs = out if isinstance(out, tuple) else (out,)
            if any(o is None for o in outs):
                _send(channel, i, error="your function returned None; fill in the TODO")
                continue
            arrays = [np.array(o, dtype=np.float64) for o in outs]  # a plain ndarray: no subclass, no object
        except NotImplementedError:
            _send(channel, i, error="not done yet: write the function's body in place of `raise NotImplementedError()`")
            continue
        except BaseException as exc:  # noqa: B036
            _send(channel, i, error=f"raised {_describe(exc)}")
            continue
        _send(channel, i, arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
