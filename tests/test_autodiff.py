"""cnnlib.autodiff: every operation's backward against numerical gradients and torch.autograd, the rot180 of
notebook 04 coming out of the chain rule, and a wrong backward that the check must catch."""

import numpy as np
import pytest

from cnnlib import layers
from cnnlib.autodiff import Tensor
from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.signal import correlate2d, rot180

TOL = 1e-7         # analytic vs central differences
TORCH_TOL = 1e-12  # analytic vs torch.autograd, both exact up to rounding


def torch_pad(widths):
    """Tensor.pad's widths (one (before, after) pair per axis) as torch.nn.functional.pad: last axis first."""
    def pad(a):
        import torch
        return torch.nn.functional.pad(a, [w for pair in reversed(widths) for w in pair])
    return pad


def distinct(rng, shape):
    """Values far apart (no ties or near-ties, so max is differentiable) in random order."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 + rng.uniform(-1, 1)).reshape(shape)


# (name, input shapes, our function of Tensors, the same in torch or None)
CASES = [
    ("add", [(3, 4), (3, 4)], lambda a, b: a + b, None),
    ("add broadcast row", [(3, 4), (4,)], lambda a, b: a + b, None),
    ("add broadcast both", [(2, 1, 3), (4, 1)], lambda a, b: a + b, None),
    ("add scalar tensor", [(2, 3), ()], lambda a, b: a + b, None),
    ("radd constant", [(2, 3)], lambda a: 2.5 + a, None),
    ("mul", [(3, 4), (3, 4)], lambda a, b: a * b, None),
    ("mul broadcast column", [(3, 4), (3, 1)], lambda a, b: a * b, None),
    ("mul broadcast both", [(2, 1, 3), (1, 4, 1)], lambda a, b: a * b, None),
    ("rmul constant array", [(2, 3)], lambda a: np.arange(3.0) * a, lambda a: a * a.new_tensor(np.arange(3.0))),
    ("self times self", [(2, 3)], lambda a: a * a + a, None),
    ("neg", [(2, 3)], lambda a: -a, None),
    ("sub broadcast", [(2, 3), (3,)], lambda a, b: a - b, None),
    ("rsub constant", [(2, 3)], lambda a: 1.0 - a, None),
    ("sum all", [(2, 3, 4)], lambda a: a.sum(), None),
    ("sum axis", [(2, 3, 4)], lambda a: a.sum(axis=1), lambda a: a.sum(dim=1)),
    ("sum negative axis", [(2, 3, 4)], lambda a: a.sum(axis=-1), lambda a: a.sum(dim=-1)),
    ("sum axes", [(2, 3, 4)], lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(dim=(0, 2))),
    ("matmul", [(3, 4), (4, 2)], lambda a, b: a @ b, None),
    ("matmul batched", [(2, 3, 4), (2, 4, 5)], lambda a, b: a @ b, None),
    ("matmul broadcast batch", [(2, 3, 4), (4, 5)], lambda a, b: a @ b, None),
    ("reshape", [(2, 3, 4)], lambda a: a.reshape(4, 6), None),
    ("reshape tuple and -1", [(2, 3, 4)], lambda a: a.reshape((3, -1)), None),
    ("slice", [(5, 6)], lambda a: a[1:4, 2:], None),
    ("slice with steps", [(7, 8)], lambda a: a[::2, 1::3], None),
    ("slice negative step", [(5, 6)], lambda a: a[::-2, 4:0:-1],
     lambda a: a.flip(0)[::2].flip(1)[:, 1:5]),  # torch has no negative steps
    ("int and slice", [(3, 5, 4)], lambda a: a[1, :, ::2], None),
    ("overlapping slices", [(6,)], lambda a: a[0:4] * a[2:6], None),
    ("repeated index array", [(5,)], lambda a: a[np.array([0, 2, 2, 4, 0])], None),
    ("pad", [(2, 3, 4)], lambda a: a.pad(((0, 0), (1, 2), (3, 0))), torch_pad(((0, 0), (1, 2), (3, 0)))),
    ("pad int", [(3, 4)], lambda a: a.pad(2), torch_pad(((2, 2), (2, 2)))),
    ("pad one pair", [(3, 4)], lambda a: a.pad((1, 0)), torch_pad(((1, 0), (1, 0)))),
    ("max axis", [(3, 5)], lambda a: a.max(axis=1), lambda a: a.max(dim=1).values),
    ("max axis 0 of 3-d", [(4, 2, 3)], lambda a: a.max(axis=0), lambda a: a.max(dim=0).values),
    ("max negative axis", [(2, 3, 4)], lambda a: a.max(axis=-1), lambda a: a.max(dim=-1).values),
    ("chain", [(3, 4), (4, 2), (2,)], lambda a, b, c: ((a @ b + c) * (a @ b)).sum(axis=0), None),
]
CASE_IDS = [c[0] for c in CASES]


def analytic(fn, arrays, dout, cls=Tensor):
    tensors = [cls(a) for a in arrays]
    out = fn(*tensors)
    out.backward(dout)
    return out.data, [t.grad for t in tensors]


def numerical(fn, arrays, dout, cls=Tensor):
    """∂(Σ dout · fn)/∂ each input by central differences, the other inputs held fixed."""
    grads = []
    for i in range(len(arrays)):
        def f(v, i=i):
            return fn(*[cls(v if j == i else a) for j, a in enumerate(arrays)]).data
        grads.append(numerical_gradient(f, np.array(arrays[i], dtype=np.float64), dout))
    return grads


def max_backward_error(fn, arrays, rng, cls=Tensor):
    """The check used throughout: worst rel_error between backward and central differences."""
    out = fn(*[cls(a) for a in arrays])
    dout = rng.standard_normal(out.shape)
    _, ours = analytic(fn, arrays, dout, cls)
    return max(rel_error(g, n) for g, n in zip(ours, numerical(fn, arrays, dout, cls)))


@pytest.mark.parametrize("name,shapes,fn,_", CASES, ids=CASE_IDS)
def test_backward_matches_numerical(name, shapes, fn, _):
    rng = np.random.default_rng(0)
    arrays = [distinct(rng, s) for s in shapes]
    assert max_backward_error(fn, arrays, rng) <= TOL


@pytest.mark.parametrize("name,shapes,fn,torch_fn", CASES, ids=CASE_IDS)
def test_forward_and_backward_match_torch(name, shapes, fn, torch_fn):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    arrays = [distinct(rng, s) for s in shapes]
    out = fn(*[Tensor(a) for a in arrays])
    dout = rng.standard_normal(out.shape)
    data, ours = analytic(fn, arrays, dout)

    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_t = (torch_fn or fn)(*theirs)
    out_t.backward(torch.tensor(dout))
    assert rel_error(data, out_t.detach().numpy()) <= TORCH_TOL
    for g, t in zip(ours, theirs):
        assert rel_error(g, t.grad.numpy()) <= TORCH_TOL


def test_max_routes_a_tie_to_the_first_maximum():
    x = Tensor(np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]]))
    y = x.max(axis=1)
    np.testing.assert_array_equal(y.data, [3.0, 5.0])
    y.backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[0, 10, 0, 0], [20, 0, 0, 0]])


def test_max_tie_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).integers(0, 3, (4, 6)).astype(float)  # many ties
    x = Tensor(a)
    x.max(axis=1).backward(np.arange(1.0, 5.0))
    xt = torch.tensor(a, requires_grad=True)
    xt.max(dim=1).values.backward(torch.arange(1.0, 5.0, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_gradients_accumulate_over_uses_and_calls():
    x = Tensor(np.array([1.0, 2.0]))
    y = (x * 3.0 + x).sum()  # x used twice: 3 + 1
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])
    y.backward()  # a second call adds again to the leaves, as in PyTorch
    np.testing.assert_array_equal(x.grad, [8.0, 8.0])


def test_diamond_graph_is_visited_in_topological_order():
    """b and c both use a; d uses both. a must receive both contributions before passing them on."""
    x = Tensor(np.array([2.0]))
    a = x * x
    b, c = a * 3.0, a + 1.0
    (b * c).sum().backward()  # d = 3a(a + 1), ∂d/∂a = 6a + 3 = 27, ∂a/∂x = 2x = 4
    np.testing.assert_allclose(x.grad, [108.0])


def test_deep_chain_needs_no_recursion():
    x = Tensor(np.array(1.0))
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0


def test_backward_errors_say_what_is_expected():
    t = Tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"needs grad for a non-scalar tensor of shape \(2, 2\)"):
        (t * 2.0).backward()
    with pytest.raises(ValueError, match=r"expected grad of shape \(2, 2\), got \(3,\)"):
        (t * 2.0).backward(np.ones(3))
    with pytest.raises(ValueError, match=r"expected two arrays of at least 2 dimensions, got \(2,\) @ \(2, 2\)"):
        Tensor(np.ones(2)) @ t
    with pytest.raises(ValueError, match=r"Tensor.pad expected widths >= 0, got -1"):
        t.pad(-1)


# ---------------------------------------------------------------------------------------------- convolution
def conv_from_taps(x, W, stride=1):
    """z = Σ_m,k W[m, k] · (x shifted by (m, k), every stride-th entry): a valid correlation, built only from
    slices, products and sums, so autodiff knows nothing about convolutions."""
    (H, Wd), (KH, KW) = x.shape, W.shape
    H_out, W_out = (H - KH) // stride + 1, (Wd - KW) // stride + 1
    z = 0.0
    for m in range(KH):
        for k in range(KW):
            z = z + x[m:m + (H_out - 1) * stride + 1:stride, k:k + (W_out - 1) * stride + 1:stride] * W[m, k]
    return z


@pytest.mark.parametrize("H,W,KH,KW", [(5, 5, 3, 3), (7, 6, 2, 4), (8, 8, 5, 1), (4, 4, 4, 4)])
def test_conv_from_taps_gives_the_rot180_identity(H, W, KH, KW):
    """∂C/∂x = correlate2d(δ, rot180(W), "full") and ∂C/∂W = correlate2d(x, δ, "valid") (notebook 04)."""
    rng = np.random.default_rng(3)
    x, W_ = Tensor(rng.standard_normal((H, W))), Tensor(rng.standard_normal((KH, KW)))
    z = conv_from_taps(x, W_)
    np.testing.assert_allclose(z.data, correlate2d(x.data, W_.data, "valid"), rtol=0, atol=1e-12)
    delta = rng.standard_normal(z.shape)
    z.backward(delta)
    np.testing.assert_allclose(x.grad, correlate2d(delta, rot180(W_.data), "full"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W_.grad, correlate2d(x.data, delta, "valid"), rtol=0, atol=1e-12)


def test_strided_conv_from_taps_matches_conv2d_backward():
    rng = np.random.default_rng(4)
    a, W = rng.standard_normal((9, 8)), rng.standard_normal((3, 3))
    layer = layers.Conv2D(1, 1, 3, stride=2, padding=1, rng=rng)
    layer.params["W"] = W[None, None].copy()
    z_layer = layer.forward(a[None, None])
    delta = rng.standard_normal(z_layer.shape)
    dx_layer = layer.backward(delta)

    x, W_ = Tensor(a), Tensor(W)
    z = conv_from_taps(x.pad(1), W_, stride=2)
    np.testing.assert_allclose(z.data, z_layer[0, 0], rtol=0, atol=1e-12)
    z.backward(delta[0, 0])
    np.testing.assert_allclose(x.grad, dx_layer[0, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(W_.grad, layer.grads["W"][0, 0], rtol=0, atol=1e-12)


def test_max_pool_from_reshape_and_max_matches_maxpool2d():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4, (6, 8)).astype(float)  # ties on purpose: both route to the first maximum
    pool = layers.MaxPool2D(2)
    out = pool.forward(a[None, None])
    delta = rng.standard_normal(out.shape)
    dx = pool.backward(delta)

    x = Tensor(a)
    windows = x.reshape(3, 2, 4, 2)  # [i, m, j, k] = a[2i + m, 2j + k]
    # bring each window's four entries to the last axis with slices (autodiff has no transpose)
    stacked = [windows[:, m, :, k].reshape(3, 4, 1) for m in range(2) for k in range(2)]
    flat = stacked[0].pad(((0, 0), (0, 0), (0, 3)))
    for t, s in enumerate(stacked[1:], start=1):
        flat = flat + s.pad(((0, 0), (0, 0), (t, 3 - t)))
    y = flat.max(axis=2)
    np.testing.assert_array_equal(y.data, out[0, 0])
    y.backward(delta[0, 0])
    np.testing.assert_array_equal(x.grad, dx[0, 0])


# ---------------------------------------------------------------------------------------------- the check can fail
class WrongMulTensor(Tensor):
    """Multiplication whose backward forgets the product rule's other factor (∂(a·b)/∂a taken as a)."""

    def __mul__(self, other):
        out = super().__mul__(other)
        other = other if isinstance(other, Tensor) else Tensor(other)

        def _wrong():
            self.grad += out.grad * self.data
            other.grad += out.grad * other.data
        out._backward = _wrong
        return out


def test_the_check_catches_a_wrong_backward():
    rng = np.random.default_rng(6)
    arrays = [distinct(rng, (3, 4)), distinct(rng, (3, 4))]
    right = max_backward_error(lambda a, b: a * b, arrays, rng)
    wrong = max_backward_error(lambda a, b: a * b, arrays, rng, cls=WrongMulTensor)
    assert right <= TOL
    assert wrong > 1e-2


def test_the_check_catches_a_missing_unbroadcast():
    """Broadcasting's adjoint is a sum: keeping only the first row of the gradient is wrong and must be caught."""
    class NoSumTensor(Tensor):
        def __add__(self, other):
            out = super().__add__(other)

            def _wrong():
                self.grad += out.grad
                other.grad += out.grad[0]  # should be the sum over the broadcast axis
            out._backward = _wrong
            return out

    rng = np.random.default_rng(7)
    arrays = [distinct(rng, (3, 4)), distinct(rng, (4,))]
    assert max_backward_error(lambda a, b: a + b, arrays, rng, cls=Tensor) <= TOL
    assert max_backward_error(lambda a, b: a + b, arrays, rng, cls=NoSumTensor) > 1e-2
