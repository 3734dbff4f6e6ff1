"""The optional challenges: each notebook has one, its self-check catches a wrong backward, says "not attempted"
for an untouched stub, and never raises. The notebooks' own solutions are checked where the notebooks run."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cnnlib.exercises.challenges import gradient_self_check

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def swish(z, beta):
    return z / (1 + np.exp(-beta * z))


def swish_right(g, z, beta):
    s = 1 / (1 + np.exp(-beta * z))
    return g * (s + beta * z * s * (1 - s)), np.sum(g * z * z * s * (1 - s))


ARGS = (np.random.default_rng(0).standard_normal((3, 4)), np.array(0.7))


def test_a_right_backward_passes():
    result = gradient_self_check("swish", swish, swish_right, ARGS, wrt=(0, 1), names=("dz", "dβ"))
    assert result, result.message
    assert "dz, dβ agree with central differences" in str(result)


@pytest.mark.parametrize("wrong", [
    lambda g, z, b: (g / (1 + np.exp(-b * z)), swish_right(g, z, b)[1]),          # forgot the inner term
    lambda g, z, b: (swish_right(g, z, b)[0], np.mean(g * z)),                     # a wrong dβ
    lambda g, z, b: (swish_right(g, z, b)[0].T, swish_right(g, z, b)[1]),          # wrong shape
    lambda g, z, b: swish_right(g, z, b)[0],                                       # one gradient of two
])
def test_a_wrong_backward_is_caught(wrong):
    result = gradient_self_check("swish", swish, wrong, ARGS, wrt=(0, 1), names=("dz", "dβ"))
    assert not result
    assert str(result).startswith("✗")


def test_an_untouched_stub_says_not_attempted_and_a_crash_is_reported():
    def stub(g, z, beta):
        raise NotImplementedError()

    def crash(g, z, beta):
        return g @ np.ones(7)
    assert "not attempted" in str(gradient_self_check("swish", swish, stub, ARGS, wrt=(0, 1)))
    assert "raised ValueError" in str(gradient_self_check("swish", swish, crash, ARGS, wrt=(0, 1)))


def test_every_notebook_ends_its_exercises_with_one_optional_challenge():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        meta = [c.get("metadata", {}).get("nbgrader", {}) for c in cells]
        ids = [m.get("grade_id") for m in meta]
        gid = f"challenge_{path.name[:2]}"
        assert ids.count(gid) == 1, path.name
        at = ids.index(gid)
        last_test = max(i for i, m in enumerate(meta) if m.get("grade"))
        assert at == last_test + 2, f"{path.name}: the challenge must follow the last exercise"
        assert not meta[at].get("grade") and meta[at].get("solution")          # ungraded, solution stripped
        assert "Optional challenge" in "".join(cells[at - 1]["source"])
        assert "optional and ungraded" in "".join(cells[at - 1]["source"]).lower()
        assert "gradient_self_check(" in "".join(cells[at + 1]["source"])
        assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", "".join(cells[at]["source"]), flags=re.S)


def _challenge(path):
    cells = json.loads(path.read_text())["cells"]
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    at = ids.index(f"challenge_{path.name[:2]}")
    return "".join(cells[at]["source"]), "".join(cells[at + 1]["source"])


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_each_challenge_solution_passes_and_its_stub_does_not(path):
    from cnnlib.signal import correlate2d, rot180

    solution, check = _challenge(path)
    check = check.replace("gradient_self_check(", "RESULT = gradient_self_check(", 1)
    ns = {"np": np, "correlate2d": correlate2d, "rot180": rot180}
    exec(solution + "\n" + check, ns)
    assert ns["RESULT"], ns["RESULT"].message
    stub = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "raise NotImplementedError()", solution, flags=re.S)
    ns = {"np": np, "correlate2d": correlate2d, "rot180": rot180}
    exec(stub + "\n" + check, ns)
    assert not ns["RESULT"] and "not attempted" in ns["RESULT"].message


def test_three_challenges_against_pytorch():
    """Independent of finite differences: pixel shuffle, layer norm over channels and grouped convolution."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    ns = {"np": np}
    for nb in ("05", "09", "11"):
        exec(_challenge(next(NOTEBOOKS.glob(f"{nb}_*.ipynb")))[0], ns)
    x = rng.standard_normal((8, 3, 4))
    g = rng.standard_normal((2, 6, 8))
    xt = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.pixel_shuffle(xt[None], 2)[0] * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ns["pixel_shuffle"](x, 2), torch.nn.functional.pixel_shuffle(
        torch.tensor(x[None]), 2)[0].numpy())
    np.testing.assert_allclose(ns["pixel_shuffle_backward"](g, x, 2), xt.grad.numpy(), atol=1e-12)

    x, gamma, beta = rng.standard_normal((4, 3, 5)), rng.standard_normal(4), rng.standard_normal(4)
    g = rng.standard_normal(x.shape)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    y = torch.nn.functional.layer_norm(xt.permute(1, 2, 0), (4,), gt, bt, eps=1e-5).permute(2, 0, 1)
    (y * torch.tensor(g)).sum().backward()
    for mine, theirs in zip(ns["channel_norm_backward"](g, x, gamma, beta, 1e-5), (xt, gt, bt)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), atol=1e-10)

    x, W = rng.standard_normal((4, 7, 8)), rng.standard_normal((6, 2, 3, 2))
    xt, Wt = torch.tensor(x[None], requires_grad=True), torch.tensor(W, requires_grad=True)
    z = torch.nn.functional.conv2d(xt, Wt, stride=2, groups=2)[0]
    np.testing.assert_allclose(ns["grouped_forward"](x, W, 2, 2), z.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(z.shape)
    (z * torch.tensor(g)).sum().backward()
    dx, dW = ns["grouped_backward"](g, x, W, 2, 2)
    np.testing.assert_allclose(dx, xt.grad[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), atol=1e-12)
