"""Run a learner's exercise function in a sandbox and bring back plain float arrays, nothing else.

    code = extract(Path("alice/04_rotation_proof.ipynb")).code_for("convolution_layer_backward")
    outputs = run_function(code, "convolution_layer_backward", cases, allow={"cnnlib.signal": ("rot180",)})

The grader (cnnlib/grade.py, cnnlib/classroom.py) decides; this module only runs. ``extract`` reads a notebook
or a .py file WITHOUT running it and keeps, for one exercise function, the definitions and imports that function
needs. ``run_function`` writes that code and the case arguments into a fresh folder and runs
``_sandbox_runner.py`` on them in a separate process:

- with bubblewrap (``bwrap``, Linux): no network and no other namespace shared with the machine, an unprivileged
  user without capabilities, a read-only view of the Python interpreter's standard library, numpy, the job's
  inputs and a stand-in ``cnnlib`` package holding only the helpers the exercise allows, and its own small /tmp
  as the only writable place. It sees neither the course folder, nor the gradebook, nor other submissions, nor
  the grades file. The answers come back through a pipe.
- without bwrap (macOS, Windows, or a Linux that forbids it): a plain child process in a fresh temporary folder,
  with the same time and memory limits and the same import hook, but WITHOUT file-system isolation: code there
  can read and write every file the grader's user can (``sandbox_kind()`` says which one runs; the environment
  variable CNNLIB_SANDBOX=subprocess forces it, for tests).

Either way a time limit (the process is killed) and a memory limit (RLIMIT_AS) apply, and the learner's code can
import only numpy, a few harmless standard modules and the allowed helpers. The answers come back as .npy
data read with ``allow_pickle=False``: float64 arrays or an error text, never an object.
"""

import ast
import inspect
import json
import os
import shutil
import signal as _signal
import subprocess
import symtable
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Extracted", "SandboxBroken", "SandboxError", "extract", "run_function", "sandbox_kind", "REFUSED",
           "UNAVAILABLE"]

RUNNER = Path(__file__).with_name("_sandbox_runner.py")
MAX_ANSWER_BYTES = 256 * 2**20     # the grader reads at most this much of a sandbox's answers
TMP_BYTES = 64 * 2**20             # the sandbox's /tmp (and the largest file it may write)
MAX_SUBMISSION_BYTES = 100 * 2**20  # a larger notebook is not read
DEFAULT_MEMORY = 2 * 2**30         # bytes of address space the sandboxed process may use
MAX_PROCESSES = 64                 # processes the sandbox's user may run (not enforced when grading as root)

# What an import the exercise does not allow would hand the work to (shown in the refusal) ...
REFUSED = {
    "scipy": "scipy, whose correlate and convolve routines do this exercise's work",
    "torch": "PyTorch's autograd, which computes the gradient for you",
    "jax": "an automatic-differentiation library, which computes the gradient for you",
    "tensorflow": "an automatic-differentiation library, which computes the gradient for you",
    "autograd": "an automatic-differentiation library, which computes the gradient for you",
    "cnnlib": "cnnlib's own code, which computes this for you",
    "cnnlib.layers": "cnnlib's layers (Conv2D, ConvTranspose2D, MaxPool2D, Dense ...), whose forward and backward "
                     "passes compute this",
    "cnnlib.model": "Sequential, whose backward pass computes this",
    "cnnlib.autodiff": "cnnlib.autodiff's Tensor, which computes the gradient for you",
    "cnnlib.gradcheck": "numerical_gradient, which estimates this gradient for you",
    "cnnlib.weight_sharing": "conv_matrix and tie_gradient, which build the answer for you",
    "cnnlib.speed": "cnnlib.speed's convolutions, which compute this for you",
    "cnnlib.transposed": "cnnlib.transposed, which computes this for you",
    "cnnlib.losses": "the loss layers, which compute this gradient for you",
    "cnnlib.signal": "the 2-D operation the exercise asks you to build without",
    "cnnlib.exercises": "the checker's reference, which is what your answer is compared with",
}
# ... and why the modules that hand over no work are not there either.
UNAVAILABLE = {
    "os": "the sandbox has no files of yours to work with",
    "sys": "the interpreter's internals do not help with this exercise",
    "inspect": "reading the grader's frames finds only your inputs",
    "subprocess": "the sandbox runs no other programs",
    "socket": "the sandbox has no network",
}


class SandboxError(Exception):
    """The submission cannot be read or its function not extracted; the message says why, for the learner."""


class SandboxBroken(RuntimeError):
    """The sandbox itself failed before any of the learner's code ran: a problem of this machine or course."""


# ---- reading a submission without running it ------------------------------------------------------------
def _cell_source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _python(source):
    """IPython's magics and shell escapes turned into Python (or dropped), as the kernel would."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # IPython is missing: drop magic lines ourselves
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    return TransformerManager().transform_cell(source)


def _bound_names(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = []  # x = ..., x, y = ...; not a.b = ... or a[i] = ..., which bind nothing
        for t in targets:
            stack = [t]
            while stack:
                t = stack.pop()
                if isinstance(t, ast.Name):
                    names.append(t.id)
                elif isinstance(t, (ast.Tuple, ast.List)):
                    stack += t.elts
                elif isinstance(t, ast.Starred):
                    stack.append(t.value)
        return names
    return []


def _used_names(node):
    """The module-level names a top-level statement refers to (not its functions' own local variables)."""
    names = set()

    def walk(table):
        for sym in table.get_symbols():
            if sym.is_referenced() and (table.get_type() == "module" or sym.is_global()):
                names.add(sym.get_name())
        for child in table.get_children():
            walk(child)

    walk(symtable.symtable(ast.unparse(node), "<statement>", "exec"))
    return names


@dataclass
class Extracted:
    """The top-level bindings of a submission, in order: ``bindings[name]`` = (statement, position) of the LAST
    statement that binds ``name``. ``syntax_errors``: (where, message, names the broken cell seems to define).
    ``notes``: things worth telling the instructor (a function defined twice, a cell's metadata changed)."""

    path: Path
    bindings: dict = field(default_factory=dict)
    definitions: dict = field(default_factory=dict)   # function name -> how many times it is defined
    syntax_errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    grade_ids: list = field(default_factory=list)

    def defines(self, name):
        """``name`` is bound at top level: a def, or an assignment or import (a lambda, an alias)."""
        return name in self.bindings

    def syntax_error_for(self, name):
        """The syntax error of a cell that defines ``name`` (when no correct definition exists), or None."""
        for where, message, names in self.syntax_errors:
            if name in names:
                return f"syntax error in {where}: {message}"
        return None

    def code_for(self, name):
        """The source of ``name``'s definition and of every top-level definition, assignment and import it needs,
        in notebook order. Imports keep only the names that are needed."""
        if not self.defines(name):
            raise SandboxError(self.syntax_error_for(name) or f"{self.path.name} defines no function {name!r}")
        try:
            return self._code_for(name)
        except (RecursionError, MemoryError, ValueError) as exc:
            raise SandboxError(f"the code of {name} cannot be read ({type(exc).__name__}: nested too deeply?)") \
                from None

    def _code_for(self, name):
        needed, todo, picked = set(), [name], {}
        while todo:
            n = todo.pop()
            if n in needed or n not in self.bindings:
                continue
            needed.add(n)
            node, pos = self.bindings[n]
            picked[pos] = node
            todo += sorted(_used_names(node) - needed)
        parts = []
        for pos in sorted(picked):
            node = picked[pos]
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                keep = [a for a in node.names if (a.asname or a.name).split(".")[0] in needed]
                node = type(node)(**{**{f: getattr(node, f) for f in node._fields}, "names": keep})
            parts.append(ast.unparse(node))
        return "\n\n".join(parts) + "\n"


def _read_cells(path):
    """[(where, source)] of the code in ``path``: each code cell of a notebook, or the whole .py file."""
    if path.is_symlink() or not path.is_file():
        raise SandboxError(f"{path.name} is not a regular file (a link or a device?); hand in the notebook itself")
    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        raise SandboxError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES // 2**20} MB; clear its outputs")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SandboxError(f"{path.name} is not UTF-8 text ({exc.reason})") from None
    if path.suffix == ".py":
        return [(path.name, text)], []
    if path.suffix != ".ipynb":
        raise SandboxError(f"expected a .py file or an .ipynb notebook, got {path.name}")
    if not text.strip():
        raise SandboxError(f"{path.name} is empty")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SandboxError(f"{path.name} is not a readable notebook (broken JSON at line {exc.lineno}: "
                           f"{exc.msg}; was it truncated?)") from None
    except RecursionError:
        raise SandboxError(f"{path.name} is not a readable notebook (its JSON is nested too deeply)") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SandboxError(f"{path.name} is not a notebook: it has no list of cells")
    out, grade_ids = [], []
    k = 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        if isinstance(meta, dict) and meta.get("grade_id"):
            grade_ids.append(str(meta["grade_id"]))
        if cell.get("cell_type") == "code":
            out.append((f"code cell {k}", _cell_source(cell)))
            k += 1
    return out, grade_ids


def extract(path):
    """Read ``path`` (.ipynb or .py) without running any of it. Raises SandboxError when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise SandboxError(f"no submission at {path}")
    cells, grade_ids = _read_cells(path)
    ex = Extracted(path, grade_ids=grade_ids)
    position = 0
    for where, source in cells:
        try:
            tree = ast.parse(_python(source) if path.suffix == ".ipynb" else source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            names = [line.split("def ", 1)[1].split("(")[0].strip() for line in source.splitlines()
                     if line.lstrip().startswith("def ")]
            if isinstance(exc, SyntaxError):
                text = (f"line {exc.lineno}: " if exc.lineno else "") + str(exc.msg)
            else:
                text = f"the cell cannot be read ({type(exc).__name__})"
            ex.syntax_errors.append((where, text, names))
            continue
        for node in tree.body:
            for name in _bound_names(node):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    ex.definitions[name] = ex.definitions.get(name, 0) + 1
                ex.bindings[name] = (node, position)
            position += 1
    for name, count in ex.definitions.items():
        if count > 1:
            ex.notes.append(f"{name} is defined {count} times; the last definition is graded")
    return ex


# ---- the stand-in cnnlib the sandbox sees -------------------------------------------------------------------
def _helper_module(module, names, modes):
    """Source of a module holding only ``names`` of cnnlib's ``module`` and what they need from it. A helper in
    ``modes`` accepts only those ``mode`` values."""
    import importlib

    real = importlib.import_module(module)
    tree = ast.parse(inspect.getsource(real))
    bindings = {}
    for pos, node in enumerate(tree.body):
        for name in _bound_names(node):
            bindings[name] = (pos, node)
    missing = [n for n in names if n not in bindings]
    if missing:
        raise ValueError(f"{module} has no {', '.join(missing)} to allow")
    needed, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in needed or n not in bindings:
            continue
        needed.add(n)
        todo += sorted(_used_names(bindings[n][1]) - needed)
    parts = []
    for pos, node in sorted({bindings[n] for n in needed}, key=lambda pn: pn[0]):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not (getattr(node, "module", None) or node.names[0].name).startswith("numpy"):
                continue  # the helpers of cnnlib import numpy only; anything else stays out
        parts.append(ast.unparse(node))
    for name, allowed in modes.items():
        if name not in names:
            continue
        sig = inspect.signature(getattr(real, name))
        call = ", ".join(p for p in sig.parameters)
        parts.append(f"_{name}_any_mode = {name}\n\n"
                     f"def {name}{sig}:\n"
                     f"    if mode not in {tuple(allowed)!r}:\n"
                     f"        raise ValueError(f\"{name}: this exercise allows only mode {' or '.join(map(repr, allowed))}; "
                     f"got {{mode!r}}. Do that step yourself.\")\n"
                     f"    return _{name}_any_mode({call})")
    parts.append(f"__all__ = {sorted(names)!r}")
    parts.append(f"""def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise ImportError(f"while grading, {module}.{{name}} is refused: it hands the work to {REFUSED[module]}. This "
                      f"exercise may use only {', '.join(sorted(names))} from {module}")""")
    return "\n\n".join(parts) + "\n"


def _write_helpers(root, allow, modes):
    """The stand-in package ``cnnlib`` in ``root``: one module per allowed module, and an __init__ that gives
    the allowed names and refuses every other one with a message."""
    pkg = root / "cnnlib"
    pkg.mkdir()
    lines = ['"""Stand-in for cnnlib inside the grading sandbox: only the helpers this exercise allows."""']
    for module, names in sorted(allow.items()):
        sub = module.split(".", 1)[1]
        (pkg / f"{sub}.py").write_text(_helper_module(module, tuple(names), modes))
        lines.append(f"from .{sub} import {', '.join(sorted(names))}")
    allowed = sorted(n for names in allow.values() for n in names)
    lines.append(f"""

def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise ImportError(f"while grading, cnnlib.{{name}} is refused: it hands the work to cnnlib's own code, which "
                      f"computes this for you. This exercise may use only {', '.join(allowed) or 'numpy'} from cnnlib")
""")
    (pkg / "__init__.py").write_text("\n".join(lines))


# ---- running ------------------------------------------------------------------------------------------------
def _numpy_dirs():
    root = Path(np.__file__).resolve().parent
    return [d for d in (root, root.parent / "numpy.libs") if d.exists()]


_KIND = None
_OWN_USER = True  # run the sandbox as an unprivileged user of its own (needs bwrap's user namespaces)


def sandbox_kind():
    """"bubblewrap" when bwrap can start a sandbox here, else "subprocess" (no file-system isolation)."""
    global _KIND, _OWN_USER
    if _KIND is None:
        _KIND = "subprocess"
        if os.environ.get("CNNLIB_SANDBOX") != "subprocess" and shutil.which("bwrap"):
            for own_user in (True, False):  # a setuid bwrap may refuse a user namespace but still isolate
                _OWN_USER = own_user
                with tempfile.TemporaryDirectory(prefix="cnnlib-sandbox-probe-") as tmp:
                    probe = subprocess.run(_bwrap_prefix(Path(tmp), [], Path(tmp), Path(tmp))
                                           + [str(_interpreter()), "-I", "-S", "-c", "pass"],
                                           capture_output=True, timeout=60)
                if probe.returncode == 0:
                    _KIND = "bubblewrap"
                    break
    return _KIND


def _interpreter():
    return Path(os.path.realpath(sys.executable))


def _bwrap_prefix(job, lib_dirs, helpers, empty):
    """bwrap's command line: no namespace shared with the machine, an unprivileged user, read-only Python + numpy
    + helpers + the job, a small writable /tmp, and nothing else of the file system."""
    base = Path(sys.base_prefix).resolve()
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all"]
    if _OWN_USER:
        cmd += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    cmd += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for d in ("/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.lexists(d):
            cmd += ["--ro-bind", d, d]  # usually symlinks into /usr on current distributions
    if not str(base).startswith("/usr/"):
        cmd += ["--ro-bind", str(base), str(base)]
    interp = _interpreter()
    if not str(interp).startswith(("/usr/", str(base))):
        cmd += ["--ro-bind", str(interp), str(interp)]
    # the interpreter's own site-packages (scipy, torch, cnnlib ...) and the system's Python packages stay hidden
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for hidden in (base / "lib" / version / "site-packages", Path("/usr/lib/python3/dist-packages"),
                   Path(f"/usr/lib/{version}/site-packages"), Path(f"/usr/local/lib/{version}"),
                   Path("/usr/local/lib/python3"), Path(f"/usr/lib/{version}/dist-packages")):
        if hidden.is_dir():
            cmd += ["--ro-bind", str(empty), str(hidden)]
    for d in lib_dirs:
        cmd += ["--ro-bind", str(d), f"/sandbox/lib/{d.name}"]
    cmd += ["--ro-bind", str(helpers), "/sandbox/helpers", "--ro-bind", str(job), "/sandbox/job",
            "--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
            "--remount-ro", "/", "--chdir", "/tmp"]
    return cmd


def _limits(memory, cpu_seconds):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (TMP_BYTES, TMP_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))  # (root is exempt)
    return apply


def _env():
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _save_case(job, i, args):
    specs = []
    for j, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype == object:
                raise ValueError("a case argument is an object array")
            name = f"in_{i}_{j}.npy"
            np.save(job / name, a, allow_pickle=False)
            specs.append({"npy": name})
        elif isinstance(a, (bool, int, np.integer)):
            specs.append({"int": int(a)})
        elif isinstance(a, (float, np.floating)):
            specs.append({"float": float(a)})
        elif isinstance(a, tuple) and all(isinstance(v, (int, np.integer)) for v in a):
            specs.append({"tuple": [int(v) for v in a]})
        else:
            raise ValueError(f"a case argument of type {type(a).__name__} cannot go into the sandbox")
    return specs


def _read_capped(stream, limit, into):
    """Read ``stream`` into the bytearray ``into``, at most ``limit`` bytes; then stop listening (the writer gets
    a broken pipe)."""
    while True:
        try:
            chunk = os.read(stream.fileno(), 1 << 16)  # what is there now: a detached child may hold the pipe open
        except OSError:
            break
        if not chunk:
            break
        into += chunk[:max(0, limit - len(into))]
        if len(into) >= limit:
            break
    stream.close()


def _array(data):
    """A float64 ndarray from .npy bytes, or an error text. Never unpickles, never keeps a subclass."""
    import io as _io

    try:
        a = np.load(_io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - malformed bytes are the learner's problem, reported as text
        return f"an output that is not a plain array of numbers ({type(exc).__name__})"
    if type(a) is not np.ndarray or a.dtype != np.float64:
        return "an output that is not an array of float64 numbers"
    return a


def _parse(data):
    """{case: tuple of arrays or error text} from the runner's byte stream; stops at the first malformed record."""
    records, pos = {}, 0
    while pos < len(data):
        end = data.find(b"\n", pos, pos + 65536)
        if end < 0:
            break
        try:
            head = json.loads(data[pos:end].decode("utf-8"))
            case, sizes = head["case"], [int(n) for n in head.get("sizes", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            break
        pos = end + 1
        if any(n < 0 for n in sizes) or pos + sum(sizes) > len(data):
            break
        arrays = []
        for n in sizes:
            arrays.append(_array(bytes(data[pos:pos + n])))
            pos += n
        if case in records:  # the first answer counts
            continue
        if case == "ready":
            records[case] = True
        elif head.get("error") is not None:
            records[case] = str(head["error"])[:500]
        else:
            bad = [a for a in arrays if isinstance(a, str)]
            records[case] = bad[0] if bad else tuple(arrays)
    return records


@dataclass
class Run:
    """What came back from the sandbox: ``outputs[i]`` is a tuple of float64 arrays, or an error text for case i.
    ``load_error``: the code could not even be loaded; ``timed_out``; ``kind``: bubblewrap or subprocess."""

    outputs: list
    load_error: str = None
    timed_out: bool = False
    kind: str = "bubblewrap"


def run_function(code, function, cases, n_outputs, allow=None, modes=None, timeout=60.0, memory=DEFAULT_MEMORY):
    """Run ``function`` (defined by ``code``) on every case in a sandbox and return a Run. ``n_outputs[i]``: how
    many output arrays case i must give back."""
    import threading

    kind = sandbox_kind()
    allow, modes = dict(allow or {}), dict(modes or {})
    with tempfile.TemporaryDirectory(prefix="cnnlib-sandbox-") as tmp:
        tmp = Path(tmp)
        job, helpers, empty = tmp / "job", tmp / "helpers", tmp / "empty"
        for d in (job, helpers, empty):
            d.mkdir()
        shutil.copy(RUNNER, helpers / "runner.py")
        _write_helpers(helpers, allow, modes)
        (job / "submission.py").write_text(code)
        spec = {"function": function, "cases": [_save_case(job, i, c) for i, c in enumerate(cases)],
                "allowed": sorted(allow), "refused": REFUSED, "unavailable": UNAVAILABLE,
                "helpers": " and ".join(f"{m} ({', '.join(sorted(n))})" for m, n in sorted(allow.items()))}
        (job / "job.json").write_text(json.dumps(spec))
        if kind == "bubblewrap":
            cmd = _bwrap_prefix(job, _numpy_dirs(), helpers, empty) + [
                str(_interpreter()), "-I", "-S", "/sandbox/helpers/runner.py", "/sandbox/job", "/sandbox/lib",
                "/sandbox/helpers"]
            cwd = tmp
        else:
            libs, cwd = tmp / "lib", tmp / "work"
            libs.mkdir()
            cwd.mkdir()
            for d in _numpy_dirs():
                os.symlink(d, libs / d.name)
            cmd = [str(_interpreter()), "-I", "-S", str(helpers / "runner.py"), str(job), str(libs), str(helpers)]
        data = bytearray()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_limits(memory, int(timeout) + 2))
        reader = threading.Thread(target=_read_capped, args=(proc.stdout, MAX_ANSWER_BYTES, data), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, _signal.SIGKILL)  # the whole session: nothing the learner started survives
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        reader.join(5)
        records = _parse(bytes(data))
    outputs = []
    for i in range(len(cases)):
        got = records.get(i)
        if isinstance(got, tuple) and len(got) != n_outputs[i]:
            got = f"expected {n_outputs[i]} output(s), got {len(got)}"
        if got is None:
            got = (f"timed out after {timeout:g} s (an endless loop?)" if timed_out else
                   "your code ended the grading process before it gave this case's answer")
        outputs.append(got)
    if "ready" not in records:
        setup = records.get("setup")
        raise SandboxBroken(f"the {kind} sandbox did not start"
                            + (f": {setup}" if isinstance(setup, str) else " (the interpreter or bwrap failed)"))
    load = records.get("load")
    return Run(outputs, load_error=load if isinstance(load, str) else None, timed_out=timed_out, kind=kind)
