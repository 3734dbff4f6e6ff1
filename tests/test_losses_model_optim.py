"""Losses, Sequential (including save/load), SGD and the training helpers."""

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.losses import MeanSquaredError, SoftmaxCrossEntropy, softmax
from cnnlib.model import Sequential
from cnnlib.optim import SGD
from cnnlib.train import evaluate, fit


def small_net(rng, dtype=np.float64):
    return Sequential(layers.Conv2D(1, 2, 3, rng=rng, dtype=dtype), layers.ReLU(), layers.MaxPool2D(2),
                      layers.Flatten(), layers.Dense(8, 3, rng=rng, dtype=dtype))


def test_softmax_ce_hand_worked():
    # two equal logits: p = 1/2 each, loss = log 2, gradient = (p - onehot) / N
    loss = SoftmaxCrossEntropy()
    assert loss.forward(np.array([[0.0, 0.0]]), np.array([1])) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [[0.5, -0.5]])
    # batch of two: the gradient carries 1/N
    loss.forward(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([0, 1]))
    np.testing.assert_allclose(loss.backward(), [[-0.25, 0.25], [0.25, -0.25]])


def test_softmax_ce_gradient_is_numerical():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda z: np.array(loss.forward(z, labels)), logits, np.array(1.0))
    assert rel_error(analytic, numeric) < 1e-8


def test_softmax_ce_is_stable_at_1e4():
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([1, 2]))
    grad = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value == pytest.approx((2e4 + np.log(2)) / 2)  # row 0 costs 2e4, row 1 costs log 2
    assert np.all(np.isfinite(softmax(np.array([[1e4, -1e4]]))))


def test_mse_hand_worked_and_numerical():
    loss = MeanSquaredError()
    assert loss.forward(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])) == pytest.approx(
        0.5 * (1 + 4 + 4) / 2)
    np.testing.assert_allclose(loss.backward(), [[0.5, 1.0], [0.0, -1.0]])
    rng = np.random.default_rng(1)
    a, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss.forward(a, y)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda v: np.array(loss.forward(v, y)), a, np.array(1.0))
    assert rel_error(analytic, numeric) < 1e-8


def test_sequential_gradient_check_and_parameters():
    rng = np.random.default_rng(2)
    net = small_net(rng)
    x = rng.standard_normal((2, 1, 6, 6))
    errors = check_layer(net, x, rng=rng)
    assert set(errors) == {"x", "0.W", "0.b", "4.W", "4.b"}
    assert max(errors.values()) < 1e-7
    names = [name for name, _, _ in net.parameters()]
    assert names == ["0.W", "0.b", "4.W", "4.b"]
    for _, p, g in net.parameters():
        assert g.shape == p.shape


def test_sgd_updates_in_place_and_momentum_by_hand():
    dense = layers.Dense(1, 1, rng=np.random.default_rng(0))
    dense.params["W"][...] = 1.0
    net = Sequential(dense)
    W = dense.params["W"]
    opt = SGD(net, lr=0.1, momentum=0.5)
    dense.grads = {"W": np.array([[2.0]]), "b": np.array([0.0])}
    opt.step()  # v = 2, W = 1 - 0.2
    assert W[0, 0] == pytest.approx(0.8)
    opt.step()  # v = 0.5*2 + 2 = 3, W = 0.8 - 0.3
    assert W[0, 0] == pytest.approx(0.5)
    assert dense.params["W"] is W  # same array: updated in place


def test_sgd_reduces_the_loss_on_a_fixed_batch():
    rng = np.random.default_rng(3)
    net, loss = small_net(rng), SoftmaxCrossEntropy()
    x, y = rng.standard_normal((8, 1, 6, 6)), rng.integers(0, 3, 8)
    opt = SGD(net, lr=0.1, momentum=0.9)
    first = loss.forward(net.forward(x), y)
    for _ in range(30):
        loss.forward(net.forward(x), y)
        net.backward(loss.backward())
        opt.step()
    assert loss.forward(net.forward(x), y) < 0.5 * first


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    net = small_net(rng)
    x = rng.standard_normal((3, 1, 6, 6))
    net.save(tmp_path / "net.npz")
    other = small_net(np.random.default_rng(99))
    assert not np.allclose(other.forward(x), net.forward(x))
    other.load(tmp_path / "net.npz")
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
    with np.load(tmp_path / "net.npz", allow_pickle=False) as f:  # plain arrays, no pickle needed
        assert sorted(f.files) == ["0.W", "0.b", "4.W", "4.b"]


def test_load_refuses_mismatched_file_and_says_which(tmp_path):
    rng = np.random.default_rng(5)
    small_net(rng).save(tmp_path / "a.npz")
    wider = Sequential(layers.Conv2D(1, 3, 3, rng=rng), layers.ReLU(), layers.MaxPool2D(2), layers.Flatten(),
                       layers.Dense(12, 3, rng=rng), layers.Dense(3, 2, rng=rng))
    with pytest.raises(ValueError) as err:
        wider.load(tmp_path / "a.npz")
    msg = str(err.value)
    assert "0.W: the model has shape (3, 1, 3, 3), the file has (2, 1, 3, 3)" in msg
    assert "missing from the file: 5.W, 5.b" in msg
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        wider.load(tmp_path / "nope.npz")


def test_fit_learns_a_separable_problem_and_returns_history():
    rng = np.random.default_rng(6)
    # class = which half of the image holds a bright 2x2 blob
    y = rng.integers(0, 2, 200)
    x = 0.1 * rng.standard_normal((200, 1, 6, 6))
    for n in range(200):
        r, c = rng.integers(0, 5), rng.integers(0, 2) + 3 * y[n]
        x[n, 0, r:r + 2, c:c + 2] += 2.0
    net, loss = small_net(rng), SoftmaxCrossEntropy()
    hist = fit(net, loss, SGD(net, 0.05, momentum=0.9), x, y, epochs=5, batch_size=20, x_val=x, y_val=y,
               rng=rng, progress=False)
    assert len(hist["loss"]) == len(hist["val_acc"]) == 5
    assert hist["loss"][-1] < hist["loss"][0]
    _, acc = evaluate(net, loss, x, y)
    assert acc > 0.95 and acc == pytest.approx(hist["val_acc"][-1])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_fit_stops_with_a_clear_error_when_the_loss_explodes():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((64, 1, 6, 6)) * 100, rng.integers(0, 3, 64)
    net = small_net(rng)
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        fit(net, SoftmaxCrossEntropy(), SGD(net, 1e6), x, y, epochs=3, batch_size=8, progress=False)


def test_float32_training_step_stays_float32():
    rng = np.random.default_rng(8)
    net, loss = small_net(rng, np.float32), SoftmaxCrossEntropy()
    x = rng.standard_normal((4, 1, 6, 6)).astype(np.float32)
    loss.forward(net.forward(x), rng.integers(0, 3, 4))
    net.backward(loss.backward())
    SGD(net, 0.1, momentum=0.9).step()
    assert all(p.dtype == np.float32 for _, p, _ in net.parameters())


def test_softmax_of_one_vector_and_bad_shapes():
    z = np.array([1.0, 2.0, 3.0])
    expected = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(softmax(z), expected, rtol=1e-15)
    np.testing.assert_allclose(softmax(z[None]), expected[None], rtol=1e-15)
    np.testing.assert_allclose(softmax(np.array([1, 2, 3])), expected, rtol=1e-15)  # integers are cast
    with pytest.raises(ValueError, match=r"log_softmax expected logits of shape \(N, Q\) or \(Q,\), got \(2, 2, 2\)"):
        softmax(np.zeros((2, 2, 2)))


def test_sequential_repr_is_stable_and_readable():
    net = small_net(np.random.default_rng(0))
    text = repr(net)
    assert "ReLU()" in text and "Flatten()" in text and "Dense(8, 3)" in text and "0x" not in text
    assert "MaxPool2D(kernel_size=(2, 2), stride=(2, 2))" in text
