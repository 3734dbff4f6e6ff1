"""Interactive figures for the notebooks. Each is one call, returns an object whose state tests can read,
and also draws a static matplotlib figure so the notebook still teaches where no kernel runs (GitHub)."""
from .stride import stride_padding  # noqa: F401
from .pooling import pooling_routing  # noqa: F401
from .softmax import softmax_explorer  # noqa: F401
from .sliding import sliding_window  # noqa: F401
from .rotation import delta_flow, flip_or_not  # noqa: F401
from .mlp import delta_rule  # noqa: F401
from .weight_sharing import weight_sharing  # noqa: F401
from .mnist import digit_explorer  # noqa: F401
