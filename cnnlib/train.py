"""Training helpers: mini-batch SGD over a dataset with a progress bar, and evaluation."""

import numpy as np

from .input_scale import warn_if_unscaled
from .progress import progress_bar

__all__ = ["fit", "evaluate", "iterate_minibatches", "TrainingDiverged", "GROWTH_LIMIT"]

# fit stops when a batch's loss exceeds this many times max(1, the first batch's loss of the call): three orders
# of magnitude is divergence, never the noise of a training run (a cross-entropy starts near ln(classes))
GROWTH_LIMIT = 1000.0


class TrainingDiverged(FloatingPointError):
    """fit stopped: the loss, the output, a gradient or a parameter stopped being finite, or the loss grew by
    orders of magnitude. The message names the epoch, the batch and the step, and what to try."""


def iterate_minibatches(N, batch_size, rng=None):
    """Yield index arrays that cover range(N) once, in batches of batch_size (shuffled if rng is given)."""
    order = np.arange(N) if rng is None else rng.permutation(N)
    for start in range(0, N, batch_size):
        yield order[start:start + batch_size]


def _check_xy(x, y, owner):
    if len(x) != len(y):
        raise ValueError(f"{owner} expected as many labels as inputs, got {len(x)} inputs and {len(y)} labels")
    if len(x) == 0:
        raise ValueError(f"{owner} got an empty dataset")


def evaluate(model, loss, x, y, batch_size=256):
    """Mean loss and accuracy of ``model`` on (x (N, ...), y (N,)). -> (loss, accuracy)."""
    _check_xy(x, y, "evaluate")
    total_loss, correct = 0.0, 0
    for idx in iterate_minibatches(len(x), batch_size):
        logits = model.forward(x[idx])
        total_loss += loss.forward(logits, y[idx]) * len(idx)
        correct += int((logits.argmax(axis=1) == y[idx]).sum())
    return total_loss / len(x), correct / len(x)


def fit(model, loss, optimizer, x, y, epochs=1, batch_size=64, *, x_val=None, y_val=None, rng=None,
        progress=True, eval_batch_size=256):
    """Train ``model`` with mini-batches drawn from (x (N, ...), y (N,)).

    Each epoch shuffles with ``rng`` (a np.random.Generator; seed it for reproducible runs), runs
    forward → loss → backward → optimizer.step() per batch, and records the epoch's mean training loss and
    accuracy, plus validation loss/accuracy when x_val, y_val are given.
    Returns history: {"loss": [...], "acc": [...], "val_loss": [...], "val_acc": [...]} (one entry per epoch).
    Raises TrainingDiverged (a FloatingPointError), suggesting a lower learning rate, as soon as the output, the
    loss, a gradient or a parameter stops being finite, or the loss grows past GROWTH_LIMIT times the first
    batch's (at least 1); the message names the first such layer and parameter, the epoch, the batch and the step.
    Warns (InputScaleWarning) once if x holds integers or values far outside [0, 1].
    The progress bar is live in a notebook or terminal and updates every few seconds in a log file.
    """
    _check_xy(x, y, "fit")
    warn_if_unscaled(x, "fit")
    model._input_checked = True  # the first forward pass need not say it again
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit expected epochs >= 1, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit expected batch_size >= 1, got {batch_size!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
    n_batches = -(-len(x) // batch_size)
    bar = progress_bar(epochs * n_batches, desc="fit", unit="batch", enabled=progress)
    first = None  # the first batch's loss, the yardstick of divergence
    try:
        for epoch in range(epochs):
            total, correct = 0.0, 0
            for b, idx in enumerate(iterate_minibatches(len(x), batch_size, rng)):
                logits = model.forward(x[idx])
                value = _finite_loss(model, loss, logits, y[idx], (epoch, b, n_batches), optimizer)
                first = value if first is None else first
                _check_growth(value, first, (epoch, b, n_batches), optimizer)
                model.backward(loss.backward(), input_grad=False)  # the data needs no gradient
                _check_finite(model, "gradient", (epoch, b, n_batches), optimizer)
                optimizer.step()
                _check_finite(model, "parameter", (epoch, b, n_batches), optimizer)
                total += value * len(idx)
                correct += int((logits.argmax(axis=1) == y[idx]).sum())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{value:.4f}", refresh=False)
            history["loss"].append(total / len(x))
            history["acc"].append(correct / len(x))
            if x_val is not None:
                val_loss, val_acc = evaluate(model, loss, x_val, y_val, eval_batch_size)
                history["val_loss"].append(val_loss)
                history["val_acc"].append(val_acc)
    finally:
        bar.close()
    return history


def _where(epoch, batch, n_batches):
    """-> "at step 7, epoch 2, batch 3": the step counts batches over all epochs of this fit call."""
    return f"at step {epoch * n_batches + batch + 1}, epoch {epoch + 1}, batch {batch + 1}"


def _check_growth(value, first, at, optimizer):
    """TrainingDiverged if the batch loss ``value`` exceeds GROWTH_LIMIT · max(1, ``first``)."""
    if value > GROWTH_LIMIT * max(1.0, first):
        raise TrainingDiverged(f"fit: the loss grew from {first:.4g} (first batch) to {value:.4g} "
                               f"{_where(*at)}, more than {GROWTH_LIMIT:g} times: training "
                               f"diverged; {_hint(optimizer)}")


def _hint(optimizer):
    lr = getattr(optimizer, "lr", None)
    return f"try a lower learning rate (now lr={lr:g})" if lr is not None else "try a lower learning rate"


def _check_finite(model, what, at, optimizer):
    """TrainingDiverged naming the first layer whose parameter (what="parameter") or gradient is not finite;
    ``at`` = (epoch, batch, batches per epoch)."""
    found = model.first_nonfinite(grads=(what == "gradient"))
    if found is not None:
        raise TrainingDiverged(f"fit: {found} {_where(*at)} "
                               f"({'after backward' if what == 'gradient' else 'after the update'}); {_hint(optimizer)}")


def _finite_loss(model, loss, logits, labels, at, optimizer):
    """The batch's loss; TrainingDiverged if the output or the loss is not finite, naming a corrupted parameter
    when one is the cause. ``at`` = (epoch, batch, batches per epoch)."""
    where = _where(*at)
    if not np.all(np.isfinite(logits)):
        found = model.first_nonfinite(grads=False)
        cause = f": {found}" if found is not None else ""
        raise TrainingDiverged(f"fit: the network output stopped being finite {where}{cause}; {_hint(optimizer)}")
    value = loss.forward(logits, labels)
    if not np.isfinite(value):
        raise TrainingDiverged(f"fit: the loss became {value} {where}; {_hint(optimizer)}")
    return value
