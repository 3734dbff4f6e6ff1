"""The softmax-CE checker of notebook 08: right answers pass, each listed mistake is named, others are located.

Solutions and mistakes are written here independently (scipy's softmax, torch autograd, numerical gradients).
"""

import numpy as np
import pytest
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import softmax as sp_softmax

from cnnlib.exercises import check_softmax_ce_backward
from cnnlib.exercises.softmax import CASES


def onehot(labels, K):
    y = np.zeros((len(labels), K))
    y[np.arange(len(labels)), labels] = 1.0
    return y


def correct(logits, labels):
    return (sp_softmax(logits, axis=1) - onehot(labels, logits.shape[1])) / logits.shape[0]


def forgot_mean(logits, labels):
    return sp_softmax(logits, axis=1) - onehot(labels, logits.shape[1])


def logits_not_probs(logits, labels):
    return (logits - onehot(labels, logits.shape[1])) / logits.shape[0]


def sign_error(logits, labels):
    return -correct(logits, labels)


def numerical_answer(logits, labels, h=1e-5):
    """Central differences of the batch-mean cost, written with scipy's log_softmax."""
    def cost(z):
        return -np.mean(sp_log_softmax(z, axis=1)[np.arange(len(labels)), labels])

    z = logits - logits.max(axis=1, keepdims=True)  # the cost does not change; the differences get exact
    num = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        num[idx] = (cost(zp) - cost(zm)) / (2 * h)
    return num


def test_a_numerical_gradient_passes():
    assert check_softmax_ce_backward(numerical_answer)
    np.testing.assert_allclose(correct(*CASES[0]), numerical_answer(*CASES[0]), atol=1e-9)


def test_correct_passes():
    result = check_softmax_ce_backward(correct)
    assert result and result.mistake is None
    assert f"all {len(CASES)} cases" in result.message


def test_torch_autograd_passes():
    torch = pytest.importorskip("torch")

    def torch_backward(logits, labels):
        z = torch.tensor(logits, requires_grad=True)
        torch.nn.functional.cross_entropy(z, torch.tensor(labels)).backward()
        return z.grad.numpy()

    for logits, labels in CASES:  # the checker's expectations (through `correct`, which passes) match PyTorch
        np.testing.assert_allclose(correct(logits, labels), torch_backward(logits, labels), atol=1e-12)
    result = check_softmax_ce_backward(torch_backward)
    assert not result and result.mistake == "used a shortcut" and "torch" in result.message


@pytest.mark.parametrize("fn, name", [
    (forgot_mean, "forgot 1/N"),
    (logits_not_probs, "used logits instead of probabilities"),
    (sign_error, "sign error"),
])
def test_each_mistake_named(fn, name):
    result = check_softmax_ce_backward(fn)
    assert not result
    assert result.mistake == name


def test_cases_make_the_mistakes_distinguishable():
    assert all(len(labels) > 1 for _, labels in CASES)  # otherwise 1/N changes nothing
    variants = [correct, forgot_mean, logits_not_probs, sign_error]
    for a in range(len(variants)):
        for b in range(a + 1, len(variants)):
            assert not np.allclose(variants[a](*CASES[0]), variants[b](*CASES[0]))


def test_naive_softmax_fails_on_huge_logits():
    def naive(logits, labels):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(logits)
            return (e / e.sum(axis=1, keepdims=True) - onehot(labels, logits.shape[1])) / logits.shape[0]

    result = check_softmax_ce_backward(naive)
    assert not result and result.mistake == "naive softmax overflows"
    assert result.case == len(CASES) - 1
    assert "overflows" in result.message and "maximum" in result.message


def test_random_wrong_answer_located():
    result = check_softmax_ce_backward(lambda z, y: correct(z, y) + np.where(np.arange(z.shape[1]) == 2, 0.05, 0.0))
    assert not result and result.mistake is None
    assert "differs first at index (0, 2)" in result.message


def test_exception_and_none_reported():
    def boom(logits, labels):
        raise ValueError("shapes (4,3) and (4,) not aligned")

    result = check_softmax_ce_backward(boom)
    assert not result and "raised ValueError" in result.message
    result = check_softmax_ce_backward(lambda z, y: None)
    assert not result and "returned None" in result.message
