"""Exercise checkers for the notebooks: each ``check_*`` runs your function and explains what went wrong."""

from ._core import CheckResult, Mistake, check_function  # noqa: F401
from .mlp import check_hidden_delta_tanh  # noqa: F401                             notebook 01
from .weight_sharing import check_scatter_input_gradient  # noqa: F401             notebook 02
from .convolution import check_same_convolution  # noqa: F401                      notebook 03
from .rotation import check_convolution_layer_backward  # noqa: F401               notebook 04
from .stride import check_strided_weight_gradient  # noqa: F401                    notebook 05
from .recovery import check_filter_recovery_gradient  # noqa: F401                 notebook 06
from .pooling import check_maxpool_backward, check_padded_maxpool_backward  # noqa: F401  notebook 07
from .softmax import check_softmax_ce_backward, check_softmax_mse_backward  # noqa: F401  notebook 08
from .mnist import check_conv_delta  # noqa: F401                                  notebook 09
from .speed import check_col2im  # noqa: F401                                      notebook 10
from .transposed import check_conv_transpose_weight_gradient  # noqa: F401         notebook 11
from .autodiff import check_taps_backward  # noqa: F401                             notebook 12
