"""The max-pool checker of notebook 07: right answers pass, each listed mistake is named, others are located.

Every solution and every mistake below is written here, independently of cnnlib, as plain loops.
"""

import numpy as np
import pytest

from cnnlib.exercises import check_maxpool_backward
from cnnlib.exercises.pooling import CASES


def _out_size(n, k, s):
    return (n - k) // s + 1


# ---- independent solutions (loops) -------------------------------------------------------------------
def maxpool_first_max(x, dout, k, stride):
    dx = np.zeros_like(x, dtype=float)
    for i in range(_out_size(x.shape[0], k, stride)):
        for j in range(_out_size(x.shape[1], k, stride)):
            best = None
            for r in range(i * stride, i * stride + k):
                for c in range(j * stride, j * stride + k):
                    if best is None or x[r, c] > x[best]:
                        best = (r, c)
            dx[best] += dout[i, j]
    return dx


# ---- the mistakes, written independently ---------------------------------------------------------------
def maxpool_isclose_mask(x, dout, k, stride):
    """The isclose mask of a well-known NumPy walk-through, generalised to any stride: compare each window with its max."""
    dx = np.zeros_like(x, dtype=float)
    for i in range(_out_size(x.shape[0], k, stride)):
        for j in range(_out_size(x.shape[1], k, stride)):
            win = x[i * stride:i * stride + k, j * stride:j * stride + k]
            dx[i * stride:i * stride + k, j * stride:j * stride + k] += np.isclose(win, win.max()) * dout[i, j]
    return dx


def maxpool_split_ties(x, dout, k, stride):
    """Tied maxima share the window's gradient."""
    dx = np.zeros_like(x, dtype=float)
    for i in range(_out_size(x.shape[0], k, stride)):
        for j in range(_out_size(x.shape[1], k, stride)):
            win = x[i * stride:i * stride + k, j * stride:j * stride + k]
            ties = win == win.max()
            dx[i * stride:i * stride + k, j * stride:j * stride + k] += ties * dout[i, j] / ties.sum()
    return dx


def maxpool_last_max(x, dout, k, stride):
    """A loop that keeps the entry when it is >= the best so far: the LAST maximum wins."""
    dx = np.zeros_like(x, dtype=float)
    for i in range(_out_size(x.shape[0], k, stride)):
        for j in range(_out_size(x.shape[1], k, stride)):
            best = None
            for r in range(i * stride, i * stride + k):
                for c in range(j * stride, j * stride + k):
                    if best is None or x[r, c] >= x[best]:
                        best = (r, c)
            dx[best] += dout[i, j]
    return dx


def maxpool_overwrite(x, dout, k, stride):
    dx = np.zeros_like(x, dtype=float)
    for i in range(_out_size(x.shape[0], k, stride)):
        for j in range(_out_size(x.shape[1], k, stride)):
            win = x[i * stride:i * stride + k, j * stride:j * stride + k]
            r, c = divmod(int(np.argmax(win)), k)
            dx[i * stride + r, j * stride + c] = dout[i, j]
    return dx


# ---- the cases really contain what the mistakes need ---------------------------------------------------
def test_cases_have_ties_overlap_and_non_square_shapes():
    tied = overlap = non_square = False
    for x, dout, k, s in CASES:
        non_square |= x.shape[0] != x.shape[1]
        overlap |= s < k
        for i in range(dout.shape[0]):
            for j in range(dout.shape[1]):
                win = x[i * s:i * s + k, j * s:j * s + k]
                tied |= np.sum(win == win.max()) > 1
    assert tied and overlap and non_square


def test_no_two_variants_coincide_on_the_cases():
    variants = {"max": maxpool_first_max, "ties": maxpool_isclose_mask, "split": maxpool_split_ties,
                "last": maxpool_last_max, "max-overwrite": maxpool_overwrite}
    names = list(variants)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            fa, fb = variants[names[a]], variants[names[b]]
            assert not all(np.allclose(fa(*c), fb(*c)) for c in CASES), (names[a], names[b])


# ---- max pooling -------------------------------------------------------------------------------------
def test_maxpool_correct_loops_pass():
    result = check_maxpool_backward(maxpool_first_max)
    assert result and result.mistake is None
    assert "all 4 cases" in result.message


def test_maxpool_matches_torch():
    torch = pytest.importorskip("torch")

    def torch_backward(x, dout, k, stride):
        xt = torch.tensor(x[None, None], requires_grad=True)
        torch.nn.functional.max_pool2d(xt, k, stride).backward(torch.tensor(dout[None, None]))
        return xt.grad[0, 0].numpy()

    # the checker's cases agree with PyTorch through an honest solution that passes ...
    assert check_maxpool_backward(maxpool_first_max)
    for x, dout, k, stride in CASES:
        np.testing.assert_allclose(maxpool_first_max(x, dout, k, stride), torch_backward(x, dout, k, stride))
    # ... while handing the work to autograd is refused
    result = check_maxpool_backward(torch_backward)
    assert not result and result.mistake == "used a shortcut" and "torch" in result.message


def test_maxpool_all_ties_named():
    result = check_maxpool_backward(maxpool_isclose_mask)
    assert not result
    assert result.mistake == "routes to all ties"


@pytest.mark.parametrize("fn, name", [(maxpool_split_ties, "splits the gradient among ties"),
                                      (maxpool_last_max, "last maximum wins")])
def test_maxpool_tie_mistakes_named(fn, name):
    result = check_maxpool_backward(fn)
    assert not result and result.mistake == name


def test_maxpool_overwrite_named():
    result = check_maxpool_backward(maxpool_overwrite)
    assert not result
    assert result.mistake == "overwrites instead of accumulating"
    assert CASES[result.case][3] < CASES[result.case][2]  # found on a case whose windows overlap


def test_maxpool_random_wrong_answer_located():
    result = check_maxpool_backward(lambda x, dout, k, stride: np.random.default_rng(0).standard_normal(x.shape))
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_maxpool_wrong_shape_reported():
    result = check_maxpool_backward(lambda x, dout, k, stride: np.zeros(dout.shape))
    assert not result and "has shape" in result.message


def test_maxpool_exception_and_none_reported():
    def boom(x, dout, k, stride):
        raise IndexError("index 9 is out of bounds")

    result = check_maxpool_backward(boom)
    assert not result and "raised IndexError" in result.message
    result = check_maxpool_backward(lambda x, dout, k, stride: None)
    assert not result and "returned None" in result.message


def test_checker_leaves_the_cases_untouched():
    before = [(x.copy(), d.copy()) for x, d, _, _ in CASES]

    def vandal(x, dout, k, stride):
        x[...] = 0
        dout[...] = 0
        return np.zeros_like(x)

    check_maxpool_backward(vandal)
    for (x, d, _, _), (x0, d0) in zip(CASES, before):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(d, d0)
