"""check_hidden_delta: a correct BP2 passes; each known mistake, written here independently, is named."""

import itertools

import numpy as np
import pytest

from cnnlib.exercises import check_hidden_delta
from cnnlib.exercises.mlp import _cases


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def correct(W_next, delta_next, z):
    # loops over the definition: δ_j = Σ_k W[k, j] δ_k · σ'(z_j)
    out = np.zeros(len(z))
    for j in range(len(z)):
        total = sum(W_next[k, j] * delta_next[k] for k in range(len(delta_next)))
        out[j] = total * sigmoid(z[j]) * (1 - sigmoid(z[j]))
    return out


def no_sigma_prime(W_next, delta_next, z):
    return np.einsum("kj,k->j", W_next, delta_next)


def w_not_transposed(W_next, delta_next, z):
    s = sigmoid(z)
    return np.matmul(W_next, delta_next) * s * (1 - s)  # crashes when W is not square


def w_not_transposed_square_only(W_next, delta_next, z):
    # a learner whose code happens to survive the non-square cases: the square case must still name the mistake
    if W_next.shape[0] != W_next.shape[1]:
        return correct(W_next, delta_next, z)
    return w_not_transposed(W_next, delta_next, z)


def times_activation(W_next, delta_next, z):
    return (delta_next @ W_next) * sigmoid(z)


def z_one_minus_z(W_next, delta_next, z):
    return (delta_next @ W_next) * z * (1 - z)


MISTAKES = {
    "forgot the σ'(z) factor": no_sigma_prime,
    "used W instead of Wᵀ": w_not_transposed,
    "used the activation a instead of σ'(z)": times_activation,
    "used z(1 - z) instead of σ(z)(1 - σ(z))": z_one_minus_z,
}


def test_correct_solution_passes():
    result = check_hidden_delta(correct)
    assert result and result.passed and result.mistake is None
    assert "all 4 cases" in str(result)


def test_vectorised_solution_passes():
    assert check_hidden_delta(lambda W, d, z: (W.T @ d) * sigmoid(z) * (1 - sigmoid(z)))


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_is_named(name):
    result = check_hidden_delta(MISTAKES[name])
    assert not result
    assert result.mistake == name, result.message
    assert str(result).startswith("❌")


def test_w_instead_of_wt_is_named_by_value_on_the_square_case():
    result = check_hidden_delta(w_not_transposed_square_only)
    assert not result and result.mistake == "used W instead of Wᵀ"
    W = _cases()[result.case][0]
    assert W.shape[0] == W.shape[1]


def test_w_instead_of_wt_is_named_by_shape_on_a_non_square_case():
    result = check_hidden_delta(w_not_transposed)
    W = _cases()[result.case][0]
    assert W.shape[0] != W.shape[1] and "shape" in result.message


def test_cases_tell_every_variant_apart():
    variants = {"correct": correct, **MISTAKES}
    for (na, fa), (nb, fb) in itertools.combinations(variants.items(), 2):
        for W, d, z in _cases():
            if W.shape[0] != W.shape[1] and "used W instead of Wᵀ" in (na, nb):
                continue  # the variant does not run there; it is told apart by shape
            a, b = fa(W, d, z), fb(W, d, z)
            assert a.shape != b.shape or not np.allclose(a, b), (na, nb)


def test_random_wrong_answer_reports_first_mismatch():
    result = check_hidden_delta(lambda W, d, z: np.random.default_rng(5).standard_normal(z.shape))
    assert not result and result.mistake is None
    assert "differs first at index" in result.message


def test_wrong_shape_is_reported():
    result = check_hidden_delta(lambda W, d, z: np.zeros(len(z) + 1))
    assert not result and result.mistake is None and "has shape" in result.message


def test_a_function_that_raises_is_reported():
    def broken(W, d, z):
        raise KeyError("oops")

    result = check_hidden_delta(broken)
    assert not result and result.mistake is None
    assert "raised KeyError" in result.message


def test_stub_returning_none_fails_without_raising():
    result = check_hidden_delta(lambda W, d, z: None)
    assert not result and "returned None" in result.message
