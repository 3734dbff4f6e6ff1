"""NaN and inf are never hidden: every layer propagates a NaN as PyTorch does, `fit` stops at the first non-finite
parameter or gradient and names it, `Sequential.load` refuses a corrupted file; progress bars stay quiet in logs."""

import io

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.losses import SoftmaxCrossEntropy
from cnnlib.model import Sequential
from cnnlib.optim import SGD
from cnnlib.progress import progress_bar
from cnnlib.train import fit


def _layers_and_inputs():
    rng = np.random.default_rng(0)
    x4 = rng.standard_normal((2, 2, 6, 7))
    return [
        ("Conv2D", layers.Conv2D(2, 3, 3, padding=1, rng=rng), x4),
        ("Conv2D strided", layers.Conv2D(2, 3, (2, 3), stride=2, dilation=(1, 2), rng=rng), x4),
        ("ConvTranspose2D", layers.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, rng=rng), x4),
        ("Dense", layers.Dense(5, 4, rng=rng), rng.standard_normal((3, 5))),
        ("ReLU", layers.ReLU(), x4),
        ("Sigmoid", layers.Sigmoid(), x4),
        ("Tanh", layers.Tanh(), x4),
        ("Flatten", layers.Flatten(), x4),
        ("MaxPool2D", layers.MaxPool2D(2), x4),
        ("MaxPool2D overlapping", layers.MaxPool2D(3, stride=1), x4),
        ("AvgPool2D", layers.AvgPool2D(2), x4),
    ]


def _torch_forward(name, layer, x):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = torch.from_numpy(x)
    if name.startswith("Conv2D"):
        return F.conv2d(t, torch.from_numpy(layer.params["W"]), torch.from_numpy(layer.params["b"]),
                        stride=layer.stride, padding=layer.padding, dilation=layer.dilation).numpy()
    if name == "ConvTranspose2D":
        return F.conv_transpose2d(t, torch.from_numpy(layer.params["W"]), torch.from_numpy(layer.params["b"]),
                                  stride=layer.stride, padding=layer.padding, output_padding=layer.output_padding,
                                  dilation=layer.dilation).numpy()
    if name == "Dense":
        return F.linear(t, torch.from_numpy(layer.params["W"]), torch.from_numpy(layer.params["b"])).numpy()
    if name.startswith("MaxPool2D"):
        return F.max_pool2d(t, layer.kernel_size, layer.stride).numpy()
    if name == "AvgPool2D":
        return F.avg_pool2d(t, layer.kernel_size, layer.stride).numpy()
    return {"ReLU": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
            "Flatten": lambda a: a.flatten(1)}[name](t).numpy()


CASES = _layers_and_inputs()


@pytest.mark.parametrize("name,layer,x", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_comes_out_as_pytorch_says(name, layer, x, bad):
    x = x.copy()
    x.flat[7] = bad
    ours = layer.forward(x)
    theirs = _torch_forward(name, layer, x)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,layer,x", CASES, ids=[c[0] for c in CASES])
def test_nan_input_is_never_hidden(name, layer, x):
    # without PyTorch: a NaN going in must come out somewhere (np.fmax-style ReLUs turned it into 0)
    x = x.copy()
    x.flat[7] = np.nan
    assert np.isnan(layer.forward(x)).any(), name


def test_relu_of_nan_is_nan_and_its_gradient_is_zero():
    relu = layers.ReLU()
    np.testing.assert_array_equal(relu.forward(np.array([[np.nan, -1.0, 2.0]])), [[np.nan, 0.0, 2.0]])
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])  # 1[x > 0], as torch


# ------------------------------------------------------------------------------------------------ fit
def small_net():
    rng = np.random.default_rng(1)
    return Sequential(layers.Conv2D(1, 2, 3, rng=rng), layers.ReLU(), layers.MaxPool2D(2), layers.Flatten(),
                      layers.Dense(2 * 3 * 3, 4, rng=rng))


def small_data():
    rng = np.random.default_rng(2)
    return rng.standard_normal((40, 1, 8, 8)), rng.integers(0, 4, 40)


@pytest.mark.parametrize("index,key,cls", [(0, "W", "Conv2D"), (0, "b", "Conv2D"), (4, "W", "Dense"),
                                           (4, "b", "Dense")])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fit_stops_at_a_corrupted_parameter_and_names_it(index, key, cls, bad):
    model = small_net()
    model[index].params[key].flat[0] = bad
    before = {name: p.copy() for name, p, _ in model.parameters()}
    x, y = small_data()
    with pytest.raises(FloatingPointError) as info:
        fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.05), x, y, epochs=2, batch_size=8, progress=False)
    message = str(info.value)
    assert f"layer {index} ({cls}) parameter {key}" in message
    assert "epoch 1, batch 1" in message and "lower learning rate (now lr=0.05)" in message
    for name, p, _ in model.parameters():  # stopped before any update
        np.testing.assert_array_equal(p, before[name])


class LeakyGradDense(layers.Dense):
    """A Dense whose weight gradient turns NaN on the third batch: the output and loss stay finite."""

    calls = 0

    def backward(self, dout):
        dx = super().backward(dout)
        LeakyGradDense.calls += 1
        if LeakyGradDense.calls == 3:
            self.grads["W"][0, 0] = np.nan
        return dx


def test_fit_stops_at_a_non_finite_gradient_before_the_update():
    rng = np.random.default_rng(3)
    model = Sequential(layers.Flatten(), LeakyGradDense(64, 4, rng=rng))
    x, y = small_data()
    with pytest.raises(FloatingPointError, match=r"layer 1 \(LeakyGradDense\) gradient of W has 1 NaN .* "
                                                 r"epoch 1, batch 3 \(after backward\)"):
        fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.05), x, y, epochs=1, batch_size=8, progress=False)
    assert np.isfinite(model[1].params["W"]).all()  # the NaN gradient never reached the weights


def test_fit_stops_when_an_update_overflows():
    model = small_net()
    x, y = small_data()
    x = x * 1e30  # finite input, but one step of lr 1e30 sends the weights to inf
    with pytest.raises(FloatingPointError, match=r"(parameter|output|loss|gradient).*epoch 1, batch [12]"):
        fit(model, SoftmaxCrossEntropy(), SGD(model, lr=1e300), x, y, epochs=1, batch_size=8, progress=False)


def test_load_refuses_non_finite_parameters(tmp_path):
    model = small_net()
    model[4].params["W"][1, 2] = np.nan
    model[0].params["b"][0] = -np.inf
    path = tmp_path / "bad.npz"
    model.save(path)
    fresh = small_net()
    original = {name: p.copy() for name, p, _ in fresh.parameters()}
    with pytest.raises(ValueError, match=r"Sequential.load: .*bad.npz.*0.b holds 1 non-finite .*4.W holds 1 non-finite"):
        fresh.load(path)
    for name, p, _ in fresh.parameters():  # nothing was loaded
        np.testing.assert_array_equal(p, original[name])


# ------------------------------------------------------------------------------------------------ progress bars
def test_progress_bar_in_a_log_writes_a_few_updates_not_one_per_step():
    log = io.StringIO()  # not a terminal
    bar = progress_bar(5000, desc="fit", unit="batch", stream=log)
    for _ in range(5000):
        bar.update(1)
    bar.close()
    text = log.getvalue()
    assert text.count("\r") + text.count("\n") <= 4, text
    assert "5000/5000" in text and "100%" in text


def test_progress_bar_in_a_terminal_is_live():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = progress_bar(3, desc="fit", unit="batch", stream=term)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert "3/3" in term.getvalue()


def test_fit_writes_few_lines_to_a_log(capsys):
    model = small_net()
    x, y = small_data()
    fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.05), x, y, epochs=20, batch_size=4)  # 200 steps
    err = capsys.readouterr().err
    assert err.count("\r") + err.count("\n") <= 4, err
    assert "200/200" in err
