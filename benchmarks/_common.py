"""Shared by the benchmark scripts: the two networks, the machine description, thread control."""

import os
import platform
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None


def one_conv_net(rng, dtype=np.float32):
    """The one-conv-layer net of notebook 09: 28x28 -> Conv2D(1, 3, 5) -> ReLU -> MaxPool2D(2) -> Flatten -> Dense(432, 10)."""
    return Sequential(Conv2D(1, 3, 5, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2), Flatten(),
                      Dense(3 * 12 * 12, 10, rng=rng, dtype=dtype))


def lenet5_net(rng, dtype=np.float32):
    """LeNet-5 style: two conv/ReLU/max-pool stages, then three dense layers."""
    return Sequential(
        Conv2D(1, 6, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Conv2D(6, 16, 5, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(16 * 5 * 5, 120, rng=rng, dtype=dtype), ReLU(),
        Dense(120, 84, rng=rng, dtype=dtype), ReLU(),
        Dense(84, 10, rng=rng, dtype=dtype),
    )


NETS = {"one-conv-layer net": one_conv_net, "LeNet-5": lenet5_net}


def torch_version():
    """PyTorch's version string without importing it (a cnnlib-only process stays free of torch), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def torch_copy(model):
    """The same architecture in PyTorch, with every weight and bias copied from the cnnlib model."""
    import torch

    nn = torch.nn
    layers = []
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            t = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                          padding=layer.padding, dilation=layer.dilation)
        elif isinstance(layer, Dense):
            t = nn.Linear(layer.in_features, layer.out_features)
        elif isinstance(layer, ReLU):
            t = nn.ReLU()
        elif isinstance(layer, MaxPool2D):
            t = nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, Flatten):
            t = nn.Flatten()
        else:
            raise TypeError(f"torch_copy does not know {layer!r}")
        if layer.params:
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["W"])))
                t.bias.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["b"])))
        layers.append(t)
    return nn.Sequential(*layers)


def set_threads(n):
    """Use n threads in PyTorch (if this process imported it) and in NumPy's BLAS. Returns a description."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(n, user_api="blas")
    return describe_threads()


def describe_threads():
    parts = []
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch threads: {torch.get_num_threads()}")
    if threadpool_info is not None:
        blas = [f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas"]
        parts.append("numpy BLAS threads: " + (", ".join(blas) or "unknown"))
    else:
        parts.append("numpy BLAS threads: unknown (threadpoolctl not installed; set OPENBLAS_NUM_THREADS)")
    parts.append("numpy elementwise ops: 1 thread")
    return "; ".join(parts)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine():
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    versions = f"python {platform.python_version()}, numpy {np.__version__}"
    versions += f", torch {torch_version()}" if torch_version() else ", torch not installed"
    return (f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}\n"
            f"load average (1, 5, 15 min): {load}\n{versions}")


def mnist_dir(arg):
    """The MNIST directory to use: --data-dir, else $CNNLIB_MNIST_DIR, else ../shared/mnist beside the repository,
    else the download cache of cnnlib.data.download_mnist (the first that exists; the first candidate if none)."""
    if arg:
        return Path(arg).expanduser()
    if os.environ.get("CNNLIB_MNIST_DIR"):
        return Path(os.environ["CNNLIB_MNIST_DIR"]).expanduser()
    from cnnlib.data import default_cache_dir

    candidates = [REPO.parent / "shared" / "mnist", default_cache_dir()]
    return next((c for c in candidates if c.is_dir()), candidates[0])
