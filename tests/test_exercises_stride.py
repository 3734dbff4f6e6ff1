"""The "strided conv backward" checker (notebook 05): right answers pass, each named mistake is recognised by
name, other wrong answers get a location. Every answer here is written independently of cnnlib, as loops that
scatter δ[i, j]·W back onto the window each output came from."""

import numpy as np
import pytest

from cnnlib.exercises import check_strided_conv_backward
from cnnlib.exercises.stride import CASES


def scatter(delta, W, step, kernel=None):
    """Σ over outputs (i, j) of delta[i, j]·kernel placed at (i·step, j·step); kernel defaults to W."""
    kernel = W if kernel is None else kernel
    (Ho, Wo), (KH, KW) = delta.shape, kernel.shape
    out = np.zeros(((Ho - 1) * step + KH, (Wo - 1) * step + KW))
    for i in range(Ho):
        for j in range(Wo):
            out[i * step:i * step + KH, j * step:j * step + KW] += delta[i, j] * kernel
    return out


def crop(a, p):
    return a[p:a.shape[0] - p, p:a.shape[1] - p]


def correct(delta, W, stride, padding):
    return crop(scatter(delta, W, stride), padding)


def no_zeros(delta, W, stride, padding):
    return crop(scatter(delta, W, 1), padding)


def stride_zeros(delta, W, stride, padding):
    return crop(scatter(delta, W, stride + 1), padding)


def no_crop(delta, W, stride, padding):
    return scatter(delta, W, stride)


def not_rotated(delta, W, stride, padding):
    # a full correlation of the spread delta with W places W turned by 180 degrees at every output
    return crop(scatter(delta, W, stride, kernel=W[::-1, ::-1]), padding)


MISTAKES = {"no zeros inserted": no_zeros, "wrong number of zeros": stride_zeros,
            "forgot to crop the padding": no_crop, "kernel not rotated": not_rotated}


def test_correct_solution_passes():
    result = check_strided_conv_backward(correct)
    assert result and result.passed and result.mistake is None
    assert "all 4 cases" in result.message


def test_cases_match_torch_autograd():
    """The checker's reference (and our loops) equal PyTorch's gradient for the forward conv on each case."""
    torch = pytest.importorskip("torch")
    for delta, W, s, p in CASES:
        H = (delta.shape[0] - 1) * s + W.shape[0] - 2 * p
        Wd = (delta.shape[1] - 1) * s + W.shape[1] - 2 * p
        x = torch.zeros((1, 1, H, Wd), dtype=torch.float64, requires_grad=True)
        z = torch.nn.functional.conv2d(x, torch.tensor(W)[None, None], stride=s, padding=p)
        assert tuple(z.shape[2:]) == delta.shape  # the case really fits exactly
        z.backward(torch.tensor(delta)[None, None])
        np.testing.assert_allclose(correct(delta, W, s, p), x.grad[0, 0].numpy(), rtol=1e-12, atol=1e-12)


def test_cases_use_strides_above_one_padding_and_uneven_shapes():
    assert {s for _, _, s, _ in CASES} >= {2, 3}
    assert any(p == 0 for *_, p in CASES) and any(p > 0 for *_, p in CASES)
    assert any(d.shape[0] != d.shape[1] for d, *_ in CASES)
    for _, W, _, _ in CASES:
        assert W.shape[0] != W.shape[1] or not np.allclose(W, W[::-1, ::-1])


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_is_recognised_by_name(name):
    result = check_strided_conv_backward(MISTAKES[name])
    assert not result
    assert result.mistake == name, result.message


def test_mistakes_are_distinguishable_where_they_first_fail():
    """At the first case where a mistake goes wrong, it differs from the right answer and from every other mistake."""
    for name, fn in MISTAKES.items():
        k = next(i for i, c in enumerate(CASES)
                 if fn(*c).shape != correct(*c).shape or not np.allclose(fn(*c), correct(*c)))
        mine = fn(*CASES[k])
        for other, gn in MISTAKES.items():
            if other != name:
                theirs = gn(*CASES[k])
                assert mine.shape != theirs.shape or not np.allclose(mine, theirs), (name, other, k)


def test_random_wrong_answer_gets_a_location():
    rng = np.random.default_rng(7)
    result = check_strided_conv_backward(lambda delta, W, s, p: rng.standard_normal(correct(delta, W, s, p).shape))
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_one_wrong_entry_is_located():
    def almost(delta, W, s, p):
        dx = correct(delta, W, s, p)
        dx[1, 2] += 1.0
        return dx

    result = check_strided_conv_backward(almost)
    assert not result and result.mistake is None
    assert "differs first at index (1, 2)" in result.message


def test_function_that_raises_is_reported():
    def broken(delta, W, s, p):
        raise IndexError("index 9 is out of bounds")

    result = check_strided_conv_backward(broken)
    assert not result
    assert "raised IndexError" in result.message and "out of bounds" in result.message


def test_stub_returning_none_fails_without_raising():
    result = check_strided_conv_backward(lambda delta, W, s, p: None)
    assert not result and "returned None" in result.message
