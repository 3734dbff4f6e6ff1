"""The mistakes a newcomer makes first get an error or a warning that names the class, what was expected and what
arrived: a learning rate typed as text, a file that is not a saved model, raw 0..255 images, logits that overflowed,
and a learning rate so large that the loss explodes while staying finite."""

import warnings
import zipfile

import numpy as np
import pytest

from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnlib.input_scale import InputScaleWarning, warn_if_unscaled
from cnnlib.losses import MeanSquaredError, SoftmaxCrossEntropy
from cnnlib.model import Sequential
from cnnlib.optim import SGD
from cnnlib.train import GROWTH_LIMIT, TrainingDiverged, fit


def dense_net(seed=0):
    return Sequential(Dense(4, 3, rng=np.random.default_rng(seed)))


def conv_net(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2D(1, 2, 3, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Dense(2 * 3 * 3, 3, rng=rng))


# ------------------------------------------------------------------------------------------------ optimizer settings
@pytest.mark.parametrize("kwargs,match", [
    ({"lr": "0.1"}, r"SGD expected the learning rate lr to be a real number \(int or float\), got str '0.1'"),
    ({"lr": None}, r"SGD expected the learning rate lr to be a real number .*got NoneType None"),
    ({"lr": [0.1]}, r"SGD expected the learning rate lr to be a real number .*got list \[0.1\]"),
    ({"lr": True}, r"got bool True"),
    ({"lr": 0.1, "momentum": "0.9"}, r"SGD expected momentum to be a real number \(int or float\), got str '0.9'"),
    ({"lr": 0.1, "momentum": np.array([0.9])}, r"SGD expected momentum to be a real number .*got ndarray"),
])
def test_sgd_names_a_setting_that_is_not_a_number(kwargs, match):
    with pytest.raises(TypeError, match=match):
        SGD(dense_net(), **kwargs)


def test_sgd_accepts_numpy_numbers_and_checks_a_changed_lr():
    opt = SGD(dense_net(), lr=np.float32(0.5), momentum=np.float64(0.25))
    assert (opt.lr, opt.momentum) == (0.5, 0.25) and type(opt.lr) is float
    opt.lr = 2  # a schedule between epochs
    assert opt.lr == 2.0
    with pytest.raises(TypeError, match="got str '0.01'"):
        opt.lr = "0.01"
    with pytest.raises(ValueError, match="lr > 0, got -1"):
        opt.lr = -1
    assert opt.lr == 2.0  # a refused value leaves the old one


def test_sgd_with_numpy_numbers_steps_like_plain_floats():
    x = np.random.default_rng(1).standard_normal((5, 4))
    nets = []
    for lr, momentum in ((np.float32(0.5), np.float64(0.5)), (0.5, 0.5)):
        net = dense_net()
        opt = SGD(net, lr, momentum)
        for _ in range(2):
            net.backward(net.forward(x))  # ∂L/∂out = out: L = ||out||²/2
            opt.step()
        nets.append(net)
    np.testing.assert_array_equal(nets[0][0].params["W"], nets[1][0].params["W"])


# ------------------------------------------------------------------------------------------------ loading a junk file
def _junk(tmp_path):
    files = {"text.npz": b"this is not a model\n" * 4, "empty.npz": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "one.npy", np.zeros(3))
    np.savez(tmp_path / "objects.npz", **{"0.W": np.array([{"a": 1}], dtype=object)})
    good = tmp_path / "good.npz"
    dense_net().save(good)
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:40])
    return tmp_path


@pytest.mark.parametrize("name,match", [
    ("text.npz", r"it starts with the bytes b'this is ', and an \.npz archive starts with b'PK'"),
    ("empty.npz", r"is empty, expected an \.npz archive of named arrays"),
    ("one.npy", r"is a single \.npy array, expected an \.npz archive"),
    ("objects.npz", r"is not an \.npz archive of named arrays.*Object arrays cannot be loaded"),
    ("cut.npz", r"is not an \.npz archive of named arrays.*BadZipFile"),
])
def test_load_names_the_loader_and_the_file_and_never_unpickles(tmp_path, name, match):
    path = _junk(tmp_path) / name
    with pytest.raises(ValueError, match=match) as info:
        dense_net().load(path)
    message = str(info.value)
    assert message.startswith(f"Sequential.load: {path} ")
    assert "allow_pickle" not in message.split("(")[0]  # the advice is never "load it unsafely"


def test_load_still_reads_what_save_wrote(tmp_path):
    net, other = dense_net(0), dense_net(1)
    net.save(tmp_path / "net.npz")
    assert zipfile.is_zipfile(tmp_path / "net.npz")
    other.load(tmp_path / "net.npz")
    np.testing.assert_array_equal(other[0].params["W"], net[0].params["W"])


# ------------------------------------------------------------------------------------------------ unscaled images
def digits(dtype, scale, n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 1, 8, 8)) * scale).astype(dtype)
    return x, rng.integers(0, 3, n)


def test_fit_warns_once_about_uint8_images_and_says_how_to_scale(recwarn):
    x, y = digits(np.uint8, 255)
    net = conv_net()
    fit(net, SoftmaxCrossEntropy(), SGD(net, 1e-4), x, y, epochs=2, batch_size=8, progress=False)
    said = [w for w in recwarn.list if issubclass(w.category, InputScaleWarning)]
    assert len(said) == 1, [str(w.message) for w in said]
    message = str(said[0].message)
    assert message.startswith("fit got integer inputs (uint8, values 0 to 254)")
    assert "x = x.astype(np.float32) / 255" in message
    assert said[0].filename == __file__  # points at the caller's line


def test_first_forward_warns_about_values_far_outside_unit_range_once():
    net = conv_net()
    x, _ = digits(np.float64, 255.0)
    with pytest.warns(InputScaleWarning, match=r"Sequential.forward \(first layer\) got inputs from .* to 25\d\.\d+, "
                                                r"far outside \[0, 1\]; .*x = x / 25\d"):
        net.forward(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.forward(x)  # once per model


@pytest.mark.parametrize("x", [
    np.random.default_rng(0).random((4, 1, 8, 8)),  # [0, 1]
    (np.random.default_rng(0).random((4, 1, 8, 8)) - 0.13) / 0.31,  # standardised MNIST-like pixels
    np.random.default_rng(0).standard_normal((4, 1, 8, 8)) * 2.5,
])
def test_scaled_inputs_pass_silently(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv_net().forward(x)
        assert warn_if_unscaled(x, "test") is False


def test_integer_inputs_beyond_255_get_their_own_divisor():
    with pytest.warns(InputScaleWarning, match=r"int32, values -4000 to 4095.*/ 4095"):
        assert warn_if_unscaled(np.array([-4000, 4095], dtype=np.int32), "x", stacklevel=2)


# ------------------------------------------------------------------------------------------------ non-finite logits
@pytest.mark.parametrize("bad,kind", [(np.inf, r"\+inf"), (-np.inf, "-inf"), (np.nan, "NaN")])
def test_softmax_ce_names_non_finite_logits(bad, kind):
    logits = np.zeros((3, 4))
    logits[2, 1] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from inf - inf on the way
        with pytest.raises(ValueError, match=rf"SoftmaxCrossEntropy expected finite logits, got {kind} logits "
                                             r"\(first at row 2, column 1\); 1 of 12 values are not finite"):
            SoftmaxCrossEntropy().forward(logits, np.array([0, 1, 2]))


def test_mse_names_non_finite_predictions_and_targets():
    with pytest.raises(ValueError, match=r"MeanSquaredError expected finite predictions, got \+inf predictions"):
        MeanSquaredError().forward(np.array([[0.0, np.inf]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"MeanSquaredError expected finite targets, got -inf targets"):
        MeanSquaredError().forward(np.zeros((1, 2)), np.array([[0.0, -np.inf]]))


def test_the_finite_logits_check_does_not_change_the_loss():
    # log softmax by hand: -(z_y - log Σ e^z), averaged
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    y = np.array([1, 2])
    expected = -np.mean([2.0 - np.log(np.exp(z[0]).sum()), 3.0 - np.log(np.exp(z[1]).sum())])
    assert SoftmaxCrossEntropy().forward(z, y) == pytest.approx(expected, rel=1e-14)


# ------------------------------------------------------------------------------------------------ divergence
def test_fit_stops_when_the_loss_grows_by_orders_of_magnitude():
    x, y = digits(np.float64, 1.0, n=64)
    net = conv_net()
    with pytest.raises(TrainingDiverged, match=r"fit: the loss grew from \d\.\d+ \(first batch\) to [\d.e+]+ "
                                               r"at step \d+, epoch \d+, batch \d+, more than 1000 times: training "
                                               r"diverged; try a lower learning rate \(now lr=1e\+06\)") as info:
        fit(net, SoftmaxCrossEntropy(), SGD(net, 1e6), x, y, epochs=3, batch_size=8, progress=False)
    grown = float(str(info.value).split(" to ")[1].split()[0])
    assert np.isfinite(grown) and grown > GROWTH_LIMIT  # finite and absurd: the case a NaN check misses
    assert isinstance(info.value, FloatingPointError)


def test_a_normal_run_is_never_stopped():
    x, y = digits(np.float64, 1.0, n=64)
    net = conv_net()
    history = fit(net, SoftmaxCrossEntropy(), SGD(net, 0.05, momentum=0.9), x, y, epochs=3, batch_size=8,
                  progress=False)
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))


def test_a_non_finite_stop_names_epoch_batch_and_step():
    x, y = digits(np.float64, 1.0, n=16)
    net = conv_net()
    net[0].params["W"][0, 0, 0, 0] = np.inf
    with pytest.raises(TrainingDiverged, match=r"at step 1, epoch 1, batch 1: layer 0 \(Conv2D\) parameter W"):
        fit(net, SoftmaxCrossEntropy(), SGD(net, 0.1), x, y, epochs=1, batch_size=8, progress=False)
