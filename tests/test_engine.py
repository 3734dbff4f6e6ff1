"""The textbook path (``use_engine = False``: the lines of cnnlib/layers) and the engine path (cnnlib/engine) agree.

float64: to 1e-12 relative on every configuration of the gradient-check, naive-vs-fast and PyTorch tests, and the
textbook path passes the gradient checks and the PyTorch comparison itself. float32: as tightly as the float32 tests
of the engine (1e-5 of the largest entry). Notebook 05's recipe (``backward_recipe``) equals Conv2D's backward.
"""

import ast
import copy
from pathlib import Path

import numpy as np
import pytest
from configs import CONV_CONFIGS, POOL_CONFIGS, conv_id, pool_id

import cnnlib
from cnnlib import engine, layers
from cnnlib.gradcheck import check_layer, rel_error
from cnnlib.layers.conv import backward_recipe
from cnnlib.model import Sequential

TOL = 1e-12


def make_conv(cfg, rng, dtype=np.float64):
    N, C, H, W, F, k, s, p, d = cfg
    layer = layers.Conv2D(C, F, k, stride=s, padding=p, dilation=d, rng=rng, dtype=dtype)
    layer.params["b"] = rng.standard_normal(F).astype(dtype)
    return layer, rng.standard_normal((N, C, H, W)).astype(dtype)


def textbook(layer):
    """A copy of the layer (same parameters) that runs the textbook lines."""
    twin = copy.deepcopy(layer)
    twin.use_engine = False
    return twin


def both_paths(layer, x, dout_of):
    """-> [(out, dx, grads) of the engine path, (out, dx, grads) of the textbook path] for the same x and dout."""
    results, dout = [], None
    for path in (layer, textbook(layer)):
        out = path.forward(x).copy()
        dout = dout_of(out.shape) if dout is None else dout
        results.append((out, path.backward(dout).copy(), {k: g.copy() for k, g in path.grads.items()}))
    return results


def assert_paths_agree(results, tol, relative_to_max=False):
    (out, dx, grads), (out_t, dx_t, grads_t) = results
    pairs = [(out, out_t), (dx, dx_t)] + [(grads[k], grads_t[k]) for k in grads_t]
    assert grads.keys() == grads_t.keys()
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        if relative_to_max:
            assert np.abs(ours - theirs).max() <= tol * np.abs(theirs).max()
        else:
            assert rel_error(ours, theirs) <= tol


def dout_maker(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return lambda shape: rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv_engine_and_textbook_agree_float64(cfg):
    layer, x = make_conv(cfg, np.random.default_rng(20))
    assert_paths_agree(both_paths(layer, x, dout_maker(21)), TOL)


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv_textbook_path_passes_the_gradient_check(cfg):
    rng = np.random.default_rng(1)
    layer, x = make_conv(cfg, rng)
    layer.use_engine = False
    errors = check_layer(layer, x, rng=rng)
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_conv_textbook_path_matches_naive_loops(cfg):
    layer, x = make_conv(cfg, np.random.default_rng(2))
    layer.use_engine = False
    z = layer.forward(x)
    dout = np.random.default_rng(3).standard_normal(z.shape)
    dx, grads = layer.backward(dout), dict(layer.grads)
    np.testing.assert_allclose(layer.forward_naive(x), z, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(layer.backward_naive(dout), dx, rtol=TOL, atol=TOL)
    for key in grads:
        np.testing.assert_allclose(layer.grads[key], grads[key], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=conv_id)
def test_notebook_05_recipe_is_conv2d_backward(cfg):
    """backward_recipe (zero insertion, full padding, rot180, channels swapped, dilation) against the textbook layer,
    and against the naive loops (independent of both im2col and the recipe)."""
    layer, x = make_conv(cfg, np.random.default_rng(4))
    layer.use_engine = False
    dout = np.random.default_rng(5).standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    dx_r, dW_r, db_r = backward_recipe(x, layer.params["W"], dout, layer.stride, layer.pad, layer.dilation)
    assert rel_error(dx_r, dx) <= TOL and rel_error(dW_r, layer.grads["W"]) <= TOL
    assert rel_error(db_r, layer.grads["b"]) <= TOL
    layer.forward_naive(x)
    assert rel_error(dx_r, layer.backward_naive(dout)) <= TOL


def test_a_wrong_recipe_is_caught():
    """The comparison above fails for a recipe that forgets rot180 (negative test)."""
    layer, x = make_conv((1, 2, 7, 7, 3, 3, 1, 0, 1), np.random.default_rng(6))
    dout = np.random.default_rng(7).standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    dx_wrong, _, _ = backward_recipe(x, layer.params["W"][..., ::-1, ::-1], dout)  # rot180 applied twice: none
    assert rel_error(dx_wrong, dx) > 1e-2


def test_conv_textbook_path_matches_torch():
    torch = pytest.importorskip("torch")
    for cfg in CONV_CONFIGS:
        N, C, H, W, F, k, s, p, d = cfg
        layer, x = make_conv(cfg, np.random.default_rng(10))
        layer.use_engine = False
        z = layer.forward(x)
        dout = np.random.default_rng(11).standard_normal(z.shape)
        dx = layer.backward(dout)
        xt = torch.tensor(x, requires_grad=True)
        Wt = torch.tensor(layer.params["W"], requires_grad=True)
        bt = torch.tensor(layer.params["b"], requires_grad=True)
        top, bottom, left, right = layer.pad
        pad = (top, left) if (top, left) == (bottom, right) else "same"
        zt = torch.nn.functional.conv2d(xt, Wt, bt, stride=layer.stride, padding=pad, dilation=layer.dilation)
        zt.backward(torch.tensor(dout))
        for ours, theirs in [(z, zt), (dx, xt.grad), (layer.grads["W"], Wt.grad), (layer.grads["b"], bt.grad)]:
            assert rel_error(ours, theirs.detach().numpy()) <= 1e-10, conv_id(cfg)


@pytest.mark.parametrize("shape", [(1, 6, 5, 2, 28), (6, 16, 5, 0, 14), (1, 3, 5, 0, 28)])
def test_conv_engine_and_textbook_agree_float32(shape):
    """float32 at batch 64: LeNet-5's layers (the engine sums over two halves) and the one-conv-layer net's."""
    C, F, k, p, H = shape
    rng = np.random.default_rng(12)
    layer = layers.Conv2D(C, F, k, padding=p, rng=rng, dtype=np.float32)
    layer.params["b"] = rng.standard_normal(F).astype(np.float32)
    x = rng.standard_normal((64, C, H, H)).astype(np.float32)
    assert_paths_agree(both_paths(layer, x, dout_maker(13, np.float32)), 1e-5, relative_to_max=True)


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=pool_id)
@pytest.mark.parametrize("cls", [layers.MaxPool2D, layers.AvgPool2D])
@pytest.mark.parametrize("ties", [False, True])
def test_pool_engine_and_textbook_agree(cls, cfg, ties):
    N, C, H, W, k, s = cfg
    rng = np.random.default_rng(14)
    x = rng.integers(0, 3, (N, C, H, W)).astype(float) if ties else rng.standard_normal((N, C, H, W))
    layer = cls(k, s)
    results = both_paths(layer, x, dout_maker(15))
    assert_paths_agree(results, TOL)
    overlapping = any(st < kk for st, kk in zip(layer.stride, layer.kernel_size))
    if cls is layers.MaxPool2D and not overlapping:  # routing is exact: the same entries, the same bits
        np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=pool_id)
@pytest.mark.parametrize("cls", [layers.MaxPool2D, layers.AvgPool2D])
def test_pool_textbook_path_gradients_and_naive(cls, cfg):
    N, C, H, W, k, s = cfg
    rng = np.random.default_rng(3)
    layer = cls(k, s)
    layer.use_engine = False
    x = rng.permutation(N * C * H * W).reshape(N, C, H, W) * 0.1 + rng.uniform(0, 0.01)  # no near-ties
    assert check_layer(layer, x, rng=rng)["x"] <= 1e-7
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.forward_naive(x), out, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(layer.backward_naive(dout), dx, rtol=TOL, atol=TOL)


def test_maxpool_textbook_path_nan_and_ties_like_the_engine():
    x = np.array([[[[1.0, 3.0], [3.0, np.nan]], [[2.0, 2.0], [2.0, 2.0]]]])
    (out, dx, _), (out_t, dx_t, _) = both_paths(layers.MaxPool2D(2), x, lambda shape: np.full(shape, -5.0))
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(dx, dx_t)
    np.testing.assert_array_equal(dx_t[0, 1], [[-5.0, 0.0], [0.0, 0.0]])  # first maximum in row-major order
    assert not np.signbit(dx_t[dx_t == 0]).any()  # +0, not -0


@pytest.mark.parametrize("make, shape", [
    (lambda rng: layers.Dense(432, 10, rng=rng), (8, 432)),
    (lambda rng: layers.Dense(5, 3, rng=rng), (2, 5)),
    (lambda rng: layers.ReLU(), (2, 3, 5, 5)),
    (lambda rng: layers.ConvTranspose2D(2, 3, 3, rng=rng), (2, 2, 4, 5)),
    (lambda rng: layers.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, rng=rng), (2, 2, 4, 5)),
    (lambda rng: layers.ConvTranspose2D(2, 3, (3, 2), stride=(2, 1), dilation=2, rng=rng), (1, 2, 5, 4)),
], ids=["dense", "dense small", "relu", "conv transpose", "conv transpose strided", "conv transpose dilated"])
def test_other_layers_engine_and_textbook_agree(make, shape):
    rng = np.random.default_rng(16)
    layer = make(rng)
    if "b" in layer.params:
        layer.params["b"] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal(shape)
    assert_paths_agree(both_paths(layer, x, dout_maker(17)), TOL)
    twin = textbook(layer)
    assert max(check_layer(twin, x, rng=rng).values()) <= 1e-7


def test_a_disagreement_between_the_paths_is_caught():
    """assert_paths_agree fails when the textbook path computes something else (negative test)."""
    layer, x = make_conv(CONV_CONFIGS[2], np.random.default_rng(18))
    results = both_paths(layer, x, dout_maker(19))
    results[1][2]["W"][0, 0, 0, 0] += 1e-6
    with pytest.raises(AssertionError):
        assert_paths_agree(results, TOL)


def test_backward_follows_the_path_forward_took():
    """Switching use_engine between forward and backward does not mix the two: backward uses forward's cache."""
    layer, x = make_conv(CONV_CONFIGS[2], np.random.default_rng(22))
    z = layer.forward(x)
    assert isinstance(layer.cache, engine.Cache)
    layer.use_engine = False
    dout = np.ones_like(z)
    dx = layer.backward(dout)
    layer.forward(x)
    assert not isinstance(layer.cache, engine.Cache)
    np.testing.assert_allclose(layer.backward(dout), dx, rtol=TOL, atol=TOL)


def test_a_subclass_that_overrides_backward_gets_the_textbook_forward():
    class Leaky(layers.ReLU):
        def backward(self, dout):
            mask, dout = self._check_dout(dout)
            return dout * np.where(mask, 1.0, 0.1)

    assert not engine.runs(Leaky()) and engine.runs(layers.ReLU())
    layer = Leaky()
    layer.forward(np.array([[-1.0, 2.0]]))
    np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [[0.1, 1.0]])


def test_sequential_dtype_makes_every_layer_float32():
    rng = np.random.default_rng(23)
    net = Sequential(layers.Conv2D(1, 3, 5, rng=rng), layers.ReLU(), layers.MaxPool2D(2), layers.Flatten(),
                     layers.Dense(3 * 4 * 4, 10, rng=rng), dtype=np.float32)
    x = rng.standard_normal((4, 1, 12, 12))  # float64 data
    out = net.forward(x)
    net.backward(np.ones_like(out), input_grad=False)
    assert out.dtype == np.float32
    for name, p, g in net.parameters():
        assert p.dtype == g.dtype == np.float32, name
    with pytest.raises(TypeError, match="Sequential expected dtype float32 or float64"):
        Sequential(layers.ReLU(), dtype=np.int32)


# ---- the textbook stays a textbook ----------------------------------------------------------------------------
LAYERS_DIR = Path(cnnlib.__file__).resolve().parent / "layers"
ENGINE_WORDS = ("thread", "workspace", "refcount", "stagger", "memory", "run_parts", "partial(", "perf_counter", "µs")


def _methods(path, cls_name):
    """-> (the class's ast node, {method name: [its lines of code]}), without docstrings, blank or comment lines."""
    text = path.read_text(encoding="utf-8")
    cls = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls_name)
    code = {}
    for m in cls.body:
        if isinstance(m, ast.FunctionDef):
            body = m.body[1:] if ast.get_docstring(m) else m.body
            lines = "\n".join(ast.get_source_segment(text, node) for node in body).splitlines()
            code[m.name] = [ln for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return cls, code


def test_conv2d_forward_and_backward_fit_in_60_lines():
    _, code = _methods(LAYERS_DIR / "conv.py", "Conv2D")
    lines = sum(len(code[name]) for name in ("forward", "backward", "backward_params", "_backward",
                                                               "_im2col", "_col2im", "_windows", "_tap", "_pad",
                                                               "_crop"))
    assert lines < 60, f"Conv2D's forward and backward with their helpers take {lines} lines of code"


def test_the_layer_base_class_is_short():
    cls, _ = _methods(LAYERS_DIR / "_base.py", "Layer")
    assert cls.end_lineno - cls.lineno + 1 < 80


@pytest.mark.parametrize("path", sorted(LAYERS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_engine_machinery_in_the_layers(path):
    text = path.read_text(encoding="utf-8").lower()
    found = [w for w in ENGINE_WORDS if w in text]
    assert not found, f"{path.name} mentions {found}: that belongs in cnnlib/engine"
