"""cnnlib: backpropagation in convolutional networks, written to be read.

Modules (one per idea): signal (2-D correlation/convolution), layers, losses, model (Sequential), optim (SGD),
gradcheck, autodiff (a small reverse-mode engine), data (MNIST), train (fit/evaluate), widgets and exercises
(for the notebooks).
"""

from . import data  # cnnlib.data.load_mnist() works after a plain `import cnnlib`
from .gradcheck import check_layer, numerical_gradient, rel_error
from .layers import AvgPool2D, Conv2D, ConvTranspose2D, Dense, Flatten, Layer, MaxPool2D, ReLU, Sigmoid, Tanh
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .model import Sequential
from .optim import SGD
from .signal import convolve2d, correlate2d, rot180
from ._display import describe, enable_alt_text

enable_alt_text()  # in IPython: every figure output carries a one-sentence alt text (see cnnlib/_display.py)

__version__ = "0.1.0"

__all__ = [
    "AvgPool2D", "Conv2D", "ConvTranspose2D", "Dense", "Flatten", "Layer", "MaxPool2D", "ReLU", "Sigmoid", "Tanh",
    "MeanSquaredError", "SoftmaxCrossEntropy", "Sequential", "SGD",
    "check_layer", "numerical_gradient", "rel_error", "convolve2d", "correlate2d", "rot180", "describe",
]
