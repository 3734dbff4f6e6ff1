"""Interactive figures for the notebooks. Each is one call, returns an object whose state tests can read,
and also draws a static matplotlib figure so the notebook still teaches where no kernel runs (GitHub).

Every control and readout carries a stable CSS class ``cnnlib-<widget>-<part>`` for the browser tests."""

from .mlp import delta_rule  # noqa: F401                      notebook 01
from .weight_sharing import weight_sharing  # noqa: F401       notebook 02
from .sliding import sliding_window  # noqa: F401              notebook 03
from .rotation import delta_flow, flip_or_not  # noqa: F401    notebook 04
from .stride import stride_padding  # noqa: F401               notebook 05
from .pooling import pooling_routing  # noqa: F401             notebook 07
from .softmax import softmax_explorer  # noqa: F401            notebook 08
from .mnist import digit_explorer  # noqa: F401                notebook 09
from .transposed import overlap_explorer  # noqa: F401         notebook 11
