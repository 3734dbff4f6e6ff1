"""Progress bars that suit where they are shown.

- In a Jupyter notebook: the live widget bar. When it closes, the saved output is updated to its final text, so a
  notebook committed with outputs (or opened without a kernel) shows "100% 630/630", not the "0%" it started at.
- In a terminal: the usual live tqdm bar.
- Anywhere else (CI, ``> log 2>&1``): at most one update every ``LOG_INTERVAL`` seconds, in plain ASCII, so a log
  holds a handful of lines per bar instead of one per step.
"""

import sys

LOG_INTERVAL = 10.0  # seconds between updates when stderr is not a terminal

__all__ = ["progress_bar", "LOG_INTERVAL"]


def _in_notebook():
    """True inside a Jupyter kernel with a front end that can show widgets (what tqdm.auto detects)."""
    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    return issubclass(auto_tqdm, notebook_tqdm)


def _notebook_bar(**kwargs):
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm

    class NotebookBar(notebook_tqdm):
        """tqdm's widget bar, shown through a display id so that close() can replace the saved text."""

        def __init__(self, **kw):
            super().__init__(display=False, **kw)
            self._handle = None if self.disable else display(self.container, display_id=True)

        def close(self):
            super().close()
            if getattr(self, "_handle", None) is not None:
                self._handle.update(self.container)  # the saved text/plain now shows the final state
                self._handle = None

    return NotebookBar(**kwargs)


def progress_bar(total, desc, unit, enabled=True, stream=None):
    """A tqdm bar for ``total`` steps of ``unit`` (e.g. 630 "batch"), labelled ``desc``.

    enabled: False gives a disabled bar (every call on it does nothing).
    stream:  where a text bar writes (default sys.stderr); only used outside notebooks.
    """
    from tqdm import tqdm

    stream = sys.stderr if stream is None else stream
    if not enabled:
        return tqdm(total=total, disable=True)
    if _in_notebook():
        return _notebook_bar(total=total, desc=desc, unit=unit)
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, desc=desc, unit=unit, file=stream)
    # miniters=1: every update compares the clock with mininterval, and tqdm's monitor thread (which would refresh
    # a bar it thinks is stalled) stays out of the way
    return tqdm(total=total, desc=desc, unit=unit, file=stream, mininterval=LOG_INTERVAL, miniters=1, ascii=True)
