"""Grading cannot be forged: the student's function runs in a sandbox, only float arrays come back, the verdict is
decided in the grader's process on cases drawn at grading time.

Every exercise: an honest alternative (loops, np.flip, np.einsum, sliding_window_view; not the notebook's
spelling) passes the shown and the hidden cases; the library that does the work is refused with a message that
names it; an object that equals anything, and a replay of the shown answers, fail. On one exercise each: reading
the grader's stack, patching np.allclose or the checker, a fake "pass" followed by os._exit(0), killing the
process, an endless loop, a memory bomb, and (where bubblewrap runs) writing the gradebook, a classmate's
notebook or the grades file, or reading the course folder. The submissions are written here as the text of a
.py file, the way a student would write them; the expected answers come only from the grader.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnlib import grade, sandbox

ROOT = Path(__file__).resolve().parents[1]
SPECS = grade.exercises()
BY_FUNCTION = {spec.function: (checker, spec) for checker, spec in SPECS.items()}
needs_bwrap = pytest.mark.skipif(sandbox.sandbox_kind() != "bubblewrap",
                                 reason="bubblewrap (bwrap) cannot start a sandbox here; .ci/install-bubblewrap "
                                        "installs it. Without it grading has no file-system isolation to test.")

from honest_answers import HONEST  # noqa: E402 - one honest answer per exercise, shared with other tests

# ---- the library doing the work, one way per exercise (and scipy / torch / autodiff where they apply) -----
LIBRARY = {
    "hidden_delta_tanh": ("torch", """
        import torch
        def hidden_delta_tanh(W_next, delta_next, a):
            return torch.autograd.functional.vjp(torch.tanh, torch.tensor(a), torch.tensor(delta_next))[1].numpy()
    """),
    "scatter_input_gradient": ("conv_matrix", """
        from cnnlib.weight_sharing import conv_matrix
        def scatter_input_gradient(delta, W, input_shape):
            return (conv_matrix(W, input_shape).T @ delta.ravel()).reshape(input_shape)
    """),
    "my_same_convolve2d": ("scipy", """
        import scipy.signal
        def my_same_convolve2d(x, k):
            return scipy.signal.convolve2d(x, k, "same")
    """),
    "convolution_layer_backward": ("ConvTranspose2D", """
        import numpy as np
        from cnnlib import ConvTranspose2D
        def convolution_layer_backward(x, W, delta):
            layer = ConvTranspose2D(1, W.shape[0], W.shape[1:])
            return layer.forward(delta[None, None])[0], None, delta.sum()
    """),
    "strided_weight_gradient": ("cnnlib.layers", """
        import numpy as np
        from cnnlib.layers import Conv2D
        def strided_weight_gradient(x, delta, KH, KW, stride, padding, dilation):
            layer = Conv2D(1, 1, (KH, KW), stride=stride, padding=padding, dilation=dilation)
            layer.forward(x[None, None])
            layer.backward(delta[None, None])
            return layer.grads["W"][0, 0]
    """),
    "filter_recovery_gradient": ("cnnlib.losses", """
        from cnnlib.losses import MeanSquaredError
        def filter_recovery_gradient(x, W, b, y, tau):
            return MeanSquaredError()
    """),
    "maxpool_backward": ("cnnlib.layers", """
        from cnnlib.layers import MaxPool2D
        def maxpool_backward(x, dout, k, stride):
            pool = MaxPool2D(k, stride)
            pool.forward(x[None, None])
            return pool.backward(dout[None, None])[0, 0]
    """),
    "padded_maxpool_backward": ("torch", """
        import torch
        def padded_maxpool_backward(x, dout, k, stride, padding):
            xt = torch.tensor(x[None, None], requires_grad=True)
            torch.nn.functional.max_pool2d(xt, k, stride, padding=padding).backward(torch.tensor(dout[None, None]))
            return xt.grad[0, 0].numpy()
    """),
    "softmax_ce_backward": ("cnnlib.losses", """
        import numpy as np
        from cnnlib.losses import softmax
        def softmax_ce_backward(logits, labels, weights):
            p = softmax(logits)
            p[np.arange(len(labels)), labels] -= 1
            w = weights[labels]
            return p * w[:, None] / w.sum()
    """),
    "softmax_mse_backward": ("MeanSquaredError", """
        from cnnlib.losses import softmax, MeanSquaredError
        def softmax_mse_backward(logits, labels):
            return MeanSquaredError()
    """),
    "conv_delta": ("cnnlib.layers", """
        from cnnlib.layers import ReLU, MaxPool2D, Flatten, Dense
        def conv_delta(z, W_fc, delta_fc):
            return ReLU()
    """),
    "col2im": ("Conv2D", """
        from cnnlib import Conv2D
        def col2im(dcols, C, H, W, KH, KW, stride, dilation):
            return Conv2D(C, 1, (KH, KW), stride=stride, dilation=dilation)
    """),
    "conv_transpose_weight_gradient": ("cnnlib.layers", """
        from cnnlib.layers import ConvTranspose2D
        def conv_transpose_weight_gradient(x, delta, KH, KW, stride, padding):
            layer = ConvTranspose2D(1, 1, (KH, KW), stride=stride, padding=padding)
            layer.forward(x[None, None])
            layer.backward(delta[None, None])
            return layer.grads["W"][0, 0]
    """),
    "taps_backward": ("Tensor", """
        from cnnlib.autodiff import Tensor, tap_slices
        def taps_backward(grads, x_shape, stride, dilation):
            return Tensor
    """),
}

FUNCTIONS = sorted(HONEST)


def graded(tmp_path, source, function, seed=7, timeout=30, name="answer.py"):
    """The Verdict of ``function`` in a .py submission whose text is ``source``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    checker, _ = BY_FUNCTION[function]
    return grade.grade_file(path, {checker: function}, seed=seed, timeout=timeout, out=lambda *_: None)[checker]


def signature(function):
    """The argument list of an exercise function, from the honest answer above."""
    line = next(ln for ln in textwrap.dedent(HONEST[function]).splitlines() if ln.startswith(f"def {function}("))
    return line[len(f"def {function}"):-1]


def test_every_exercise_has_an_honest_answer_and_a_library_shortcut():
    assert set(HONEST) == set(LIBRARY) == set(BY_FUNCTION)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_an_honest_alternative_passes_shown_and_hidden_cases(tmp_path, function):
    v = graded(tmp_path, HONEST[function], function)
    assert v.passed, v.message
    assert v.shown[0] == v.shown[1] >= 3 and v.hidden[0] == v.hidden[1] >= 2, v
    assert "shown" in v.message and "hidden" in v.message and "seed 7" in v.message


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_library_shortcut_is_refused_with_a_message_naming_it(tmp_path, function):
    name, source = LIBRARY[function]
    v = graded(tmp_path, source, function)
    assert not v.passed
    assert "refused" in v.message and name in v.message, v.message


@pytest.mark.parametrize("function", FUNCTIONS)
def test_an_object_that_equals_anything_fails(tmp_path, function):
    v = graded(tmp_path, f"""
        class Anything:
            __eq__ = __le__ = __ge__ = lambda self, other: True
            __ne__ = __lt__ = __gt__ = lambda self, other: False
            __array_priority__ = 1e9
            def __getattr__(self, name):
                return self
            def __call__(self, *args, **kwargs):
                return self
        def {function}{signature(function)}:
            return Anything()
    """, function)
    assert not v.passed and v.shown[0] == 0 and v.hidden[0] == 0, v


@pytest.mark.parametrize("function", FUNCTIONS)
def test_replaying_the_shown_answers_fails_on_the_hidden_cases(tmp_path, function):
    _, spec = BY_FUNCTION[function]
    answers = spec.expected(spec.shown)  # what a student could copy from a classmate's self-check
    table = [([a.tolist() if isinstance(a, np.ndarray) else a for a in case], [o.tolist() for o in out])
             for case, out in zip(spec.shown, answers)]
    v = graded(tmp_path, f"""
        import numpy as np
        TABLE = {table!r}
        def {function}{signature(function)}:
            args = [v for v in locals().values()]
            for case, out in TABLE:
                if all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(args, case)):
                    outs = tuple(np.array(o) for o in out)
                    return outs if len(outs) > 1 else outs[0]
            return tuple(np.zeros(np.shape(o)) for o in TABLE[0][1]) if len(TABLE[0][1]) > 1 else np.zeros(1)
    """, function)
    assert v.shown == (len(spec.shown), len(spec.shown)), v.message  # the replay does answer the shown cases
    assert not v.passed and v.hidden[0] == 0, v


@pytest.mark.parametrize("function", FUNCTIONS)
def test_hidden_cases_change_with_the_seed_and_are_never_the_shown_ones(function):
    _, spec = BY_FUNCTION[function]

    def key(cases):
        return [tuple(np.asarray(a).tobytes() if isinstance(a, np.ndarray) else a for a in c) for c in cases]

    one, two = (spec.draw(grade.hidden_rng(seed, function)) for seed in (1, 2))
    assert key(one) != key(two)
    assert not set(key(one)) & set(key(spec.shown))
    assert key(one) == key(spec.draw(grade.hidden_rng(1, function)))  # a grade can be reproduced from its seed


# ---- attacks on the judging, on one exercise each ---------------------------------------------------------
OS = "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__"


def test_reading_the_stack_finds_no_answer(tmp_path):
    v = graded(tmp_path, """
        import numpy as np
        def convolution_layer_backward(x, W, delta):
            try:
                raise RuntimeError
            except RuntimeError as exc:
                frame = exc.__traceback__.tb_frame
            seen = []
            while frame is not None:                    # every array any caller holds
                seen += [v for v in frame.f_locals.values() if isinstance(v, np.ndarray)]
                frame = frame.f_back
            pick = lambda shape: next((a for a in seen if a.shape == shape and a is not x), np.zeros(shape))
            return pick(x.shape), pick(W.shape), delta.sum()
    """, "convolution_layer_backward")
    assert not v.passed and v.hidden[0] == 0, v


def test_an_ndarray_subclass_that_claims_equality_fails(tmp_path):
    v = graded(tmp_path, """
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(self), bool)
            def __array_ufunc__(self, *args, **kwargs): return True
        def hidden_delta_tanh(W_next, delta_next, z):
            return np.zeros(z.shape).view(Liar)
    """, "hidden_delta_tanh")
    assert not v.passed and v.shown[0] == 0, v


def test_patching_the_comparison_and_the_checker_changes_nothing(tmp_path):
    v = graded(tmp_path, """
        import numpy as np
        def hidden_delta_tanh(W_next, delta_next, z):
            np.allclose = np.isclose = np.array_equal = lambda *a, **k: True
            np.testing.assert_allclose = lambda *a, **k: None
            return np.zeros(z.shape)
    """, "hidden_delta_tanh")
    assert not v.passed and v.shown[0] == 0, v
    v = graded(tmp_path, """
        import cnnlib.exercises._core as core
        core.judge_case = lambda *args, **kwargs: None
        core.CheckResult.__bool__ = lambda self: True
        def hidden_delta_tanh(W_next, delta_next, z):
            return core
    """, "hidden_delta_tanh")
    assert not v.passed and "refused" in v.message and "cnnlib.exercises" in v.message, v.message


def test_printing_a_pass_and_exiting_0_fails_in_both_paths(tmp_path):
    source = f"""
        def hidden_delta_tanh(W_next, delta_next, z):
            print("✓ hidden-layer delta through tanh: all 3 cases agree with the reference")
            print("1 of 1 exercise(s) passed")
            {OS}['_exit'](0)
    """
    v = graded(tmp_path, source, "hidden_delta_tanh")
    assert not v.passed and "ended the grading process" in v.message, v.message
    run = subprocess.run([sys.executable, "-m", "cnnlib.grade", str(tmp_path / "answer.py"), "--seed", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "0 of 1 exercise(s) passed" in run.stdout and "✗" in run.stdout


def test_raising_system_exit_or_killing_the_process_fails(tmp_path):
    v = graded(tmp_path, """
        def hidden_delta_tanh(W_next, delta_next, z):
            raise SystemExit(0)
    """, "hidden_delta_tanh")
    assert not v.passed and "SystemExit" in v.message, v.message
    v = graded(tmp_path, f"""
        def hidden_delta_tanh(W_next, delta_next, z):
            os = {OS}
            os['kill'](os['getpid'](), 9)
    """, "hidden_delta_tanh")
    assert not v.passed and "ended the grading process" in v.message, v.message


def test_an_endless_loop_and_a_memory_bomb_cost_only_their_exercise(tmp_path):
    v = graded(tmp_path, """
        def hidden_delta_tanh(W_next, delta_next, z):
            while True:
                pass
    """, "hidden_delta_tanh", timeout=3)
    assert not v.passed and "timed out after 3 s" in v.message, v.message
    v = graded(tmp_path, """
        import numpy as np
        def hidden_delta_tanh(W_next, delta_next, z):
            return np.ones((40000, 40000))           # 12.8 GB
    """, "hidden_delta_tanh")
    assert not v.passed and "MemoryError" in v.message, v.message


def test_a_syntax_error_is_reported_as_one(tmp_path):
    v = graded(tmp_path, """
        def hidden_delta_tanh(W_next, delta_next, z):
            return (W_next.T @ delta_next * (1 - np.tanh(z) ** 2)
    """, "hidden_delta_tanh")
    assert not v.passed and v.message.startswith("syntax error in answer.py: line 3"), v.message


def test_refusals_are_friendly_and_name_what_is_allowed(tmp_path):
    v = graded(tmp_path, """
        from cnnlib.signal import correlate2d
        def my_same_convolve2d(x, k):
            return correlate2d(x, k[::-1, ::-1], "full")
    """, "my_same_convolve2d")
    assert not v.passed and "only mode 'valid'" in v.message, v.message
    v = graded(tmp_path, """
        from cnnlib import Conv2D
        def convolution_layer_backward(x, W, delta):
            return Conv2D
    """, "convolution_layer_backward")
    assert "refused" in v.message and "pad2d, rot180" in v.message, v.message


# ---- isolation: the gradebook, classmates, the grades file and the course are out of reach ----------------
@needs_bwrap
def test_the_gradebook_classmates_and_grades_cannot_be_touched_or_seen(tmp_path):
    course = tmp_path / "course"
    (course / "submitted" / "bob").mkdir(parents=True)
    targets = {"gradebook": course / "gradebook.db", "classmate": course / "submitted" / "bob" / "01.ipynb",
               "grades": tmp_path / "grades.csv"}
    for path in targets.values():
        path.write_text("original")
    visible = [str(p) for p in targets.values()] + [str(ROOT), str(Path(np.__file__).resolve().parents[1] / "scipy")]
    if sys.prefix != sys.base_prefix:  # a virtual environment: none of it is visible (numpy is bound elsewhere)
        visible.append(sys.prefix)
    v = graded(tmp_path, f"""
        import numpy as np
        def hidden_delta_tanh(W_next, delta_next, a):
            os = {OS}
            reached = []
            for path in {visible!r}:
                try:
                    with open(path, "a") as f:
                        f.write("zeroed")
                    reached.append(path)
                except OSError:
                    pass
                if os["path"].exists(path):
                    reached.append(path)
            try:
                with open({str(course / "new_grades.csv")!r}, "w") as f:
                    f.write("alice,0")
                reached.append("created a file")
            except OSError:
                pass
            if reached:
                raise RuntimeError(f"reached {{reached}}")
            t = a / 1.7159
            return (delta_next @ W_next) * 1.7159 * (2 / 3) * (1 - t * t)
    """, "hidden_delta_tanh")
    assert v.passed, v.message  # the honest part ran, and nothing outside the sandbox was reached
    assert all(path.read_text() == "original" for path in targets.values())
    assert not (course / "new_grades.csv").exists()


@needs_bwrap
def test_the_sandbox_sees_only_numpy_and_the_allowed_helpers(tmp_path):
    v = graded(tmp_path, f"""
        import numpy as np
        def hidden_delta_tanh(W_next, delta_next, z):
            os = {OS}
            found = [p for p in ("/work", "/home", "/etc/passwd", "/root/.ssh") if os["path"].exists(p)]
            found += os["listdir"]("/sandbox/lib")
            raise RuntimeError(f"sees {{found}}")
    """, "hidden_delta_tanh")
    assert "sees ['numpy" in v.message and "/work" not in v.message and "passwd" not in v.message, v.message


def test_without_bubblewrap_the_fallback_still_judges_and_says_what_it_does_not_protect(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_SANDBOX", "subprocess")
    monkeypatch.setattr(sandbox, "_KIND", None)
    assert sandbox.sandbox_kind() == "subprocess"
    v = graded(tmp_path, HONEST["col2im"], "col2im")
    assert v.passed and v.sandbox == "subprocess", v.message
    name, source = LIBRARY["col2im"]
    assert "refused" in graded(tmp_path, source, "col2im").message
    run = subprocess.run([sys.executable, "-m", "cnnlib.grade", str(tmp_path / "answer.py"), "--seed", "3"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**__import__("os").environ, "CNNLIB_SANDBOX": "subprocess", "PYTHONPATH": str(ROOT)})
    assert "WARNING: bubblewrap" in run.stdout and "CAN read and write every file you can" in run.stdout
    monkeypatch.setattr(sandbox, "_KIND", None)


@needs_bwrap
def test_getting_past_the_import_hook_finds_no_library(tmp_path):
    """The real __import__ (kept in the hook's closure) and sys.path pointed at the site-packages: still nothing."""
    site = str(Path(np.__file__).resolve().parents[1])
    v = graded(tmp_path, f"""
        def my_same_convolve2d(x, k):
            real = [c.cell_contents for c in __builtins__.__import__.__closure__ if callable(c.cell_contents)][0]
            real("sys").path.append({site!r})
            return real("scipy.signal").convolve2d(x, k)
    """, "my_same_convolve2d")
    assert not v.passed and "ModuleNotFoundError" in v.message, v.message


def _processes_running(argv):
    """PIDs of the processes on this machine whose command line is exactly ``argv``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@needs_bwrap
def test_no_network_and_nothing_survives_the_sandbox(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    v = graded(tmp_path, f"""
        def hidden_delta_tanh(W_next, delta_next, z):
            os = {OS}
            real = [c.cell_contents for c in __builtins__.__import__.__closure__ if callable(c.cell_contents)][0]
            if os["fork"]() == 0:                   # a detached child that would outlive its parent
                os["setsid"]()
                os["execv"]("/bin/sleep", ["sleep", "317"])
            real("socket").create_connection(("127.0.0.1", {port}), timeout=2)
            return z
    """, "hidden_delta_tanh")
    assert not v.passed and ("ConnectionRefusedError" in v.message or "OSError" in v.message), v.message
    try:
        conn, _ = listener.accept()
        conn.close()
        pytest.fail("the sandbox reached a port on this machine")
    except socket.timeout:
        pass
    finally:
        listener.close()
    assert _processes_running(["sleep", "317"]) == []
