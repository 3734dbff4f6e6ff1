"""nbconvert configuration for HTML pages whose formulas render without a network, on this machine:

    jupyter nbconvert --config cnnlib/templates/nbconvert_offline.py --to html notebooks/08_softmax_cross_entropy.ipynb

The page uses cnnlib's template (cnnlib_offline) and loads MathJax from the jupyter-server-mathjax package installed
here, by its file:// address, so it renders offline on this machine, not once copied to another one: for pages to
hand out, use ``python -m cnnlib.export``, which copies MathJax beside them. Kernels started with --execute get
encrypted channels, so ipykernel does not warn about plain-text TCP.
"""

from pathlib import Path

import jupyter_server_mathjax

c = get_config()  # noqa: F821 - defined by traitlets when it loads this file

_MATHJAX = Path(jupyter_server_mathjax.__file__).resolve().parent / "static" / "MathJax.js"
c.HTMLExporter.extra_template_basedirs = [str(Path(__file__).resolve().parent)]
c.HTMLExporter.template_name = "cnnlib_offline"
c.HTMLExporter.mathjax_url = _MATHJAX.as_uri() + "?config=TeX-AMS-MML_HTMLorMML-full,Safe"
c.KernelManager.transport_encryption = "auto"
