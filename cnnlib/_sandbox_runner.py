"""The program that runs INSIDE the grading sandbox (see cnnlib/sandbox.py); it needs only Python and numpy.

    python -I -S _sandbox_runner.py IO_DIR LIB_DIR...

IO_DIR holds job.json ({"function": name, "cases": [[argument, ...], ...], "allowed": [module, ...],
"messages": {module: text}}), the learner's extracted code (submission.py) and the array arguments
(in_<case>_<arg>.npy). An argument is {"npy": file}, {"int": n}, {"float": v} or {"tuple": [ints]}.
For every case the runner calls the function and writes each output as out_<case>_<k>.npy (float64, no pickle)
and status_<case>.json. The grader trusts neither the statuses nor anything printed: it reads the arrays
(allow_pickle=False), checks their dtype and shape, and compares them with its own reference.

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


def _install_hook(allowed, helpers, messages):
    """Replace __import__: an import written in the learner's code (whose globals are the submission's) must be
    allowed; imports made inside numpy or the helpers are not restricted."""
    real_import = builtins.__import__

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if globals is not None and globals.get("__name__") == SUBMISSION:
            if level:
                raise ImportError("relative imports are not available while grading")
            top = name.split(".")[0]
            if not (top in ALWAYS or name in allowed or (top == "cnnlib" and name == "cnnlib")):
                raise ImportError(_refusal(name, helpers, messages))
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded


def _refusal(name, helpers, messages):
    for prefix in sorted(messages, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            what = messages[prefix]
            break
    else:
        what = f"`{name}` is not among what this exercise may use"
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


def _status(io, i, **fields):
    with open(os.path.join(io, f"status_{i}.json"), "w") as f:
        json.dump(fields, f)


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 400 else text[:400] + " ..."


def main(io, lib_dirs):
    sys.path[:] = [p for p in sys.path if p] + list(lib_dirs)
    sys.dont_write_bytecode = True
    import numpy as np
    import numpy.lib.stride_tricks  # noqa: F401  (loaded before the hook, so that the learner may use it)

    with open(os.path.join(io, "job.json")) as f:
        job = json.load(f)
    allowed = set(job["allowed"])
    for module in sorted(allowed):  # the stand-in helpers load before the learner's code can touch anything
        __import__(module)
    cases = [[_argument(io, a) for a in case] for case in job["cases"]]
    with open(os.path.join(io, "submission.py")) as f:
        code = f.read()
    _install_hook(allowed, job.get("helpers", ""), job.get("messages", {}))
    namespace = {"__name__": SUBMISSION, "__builtins__": builtins}
    try:
        exec(compile(code, "<your code>", "exec"), namespace)
        fn = namespace[job["function"]]
    except BaseException as exc:  # noqa: B036 - SystemExit too: nothing of the learner's ends the runner early
        _status(io, "load", error=_describe(exc))
        return
    for i, args in enumerate(cases):
        try:
            out = fn(*args)
            outs = out if isinstance(out, tuple) else (out,)
            if any(o is None for o in outs):
                _status(io, i, error="your function returned None; fill in the TODO")
                continue
            arrays = [np.array(o, dtype=np.float64) for o in outs]  # a plain ndarray: no subclass, no object
        except NotImplementedError:
            _status(io, i, error="not done yet: write the function's body in place of `raise NotImplementedError()`")
            continue
        except BaseException as exc:  # noqa: B036
            _status(io, i, error=f"raised {_describe(exc)}")
            continue
        for k, a in enumerate(arrays):
            np.save(os.path.join(io, f"out_{i}_{k}.npy"), a, allow_pickle=False)
        _status(io, i, outputs=len(arrays))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
