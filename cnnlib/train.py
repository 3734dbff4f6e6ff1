"""Training helpers: mini-batch SGD over a dataset with a progress bar, and evaluation."""

import numpy as np
from tqdm.auto import tqdm

__all__ = ["fit", "evaluate", "iterate_minibatches"]


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
    Raises FloatingPointError, suggesting a lower learning rate, as soon as the loss stops being finite.
    """
    _check_xy(x, y, "fit")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit expected epochs >= 1, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit expected batch_size >= 1, got {batch_size!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
    n_batches = -(-len(x) // batch_size)
    bar = tqdm(total=epochs * n_batches, disable=not progress, desc="fit", unit="batch")
    try:
        for epoch in range(epochs):
            total, correct = 0.0, 0
            for b, idx in enumerate(iterate_minibatches(len(x), batch_size, rng)):
                logits = model.forward(x[idx])
                value = _finite_loss(loss, logits, y[idx], epoch, b, optimizer)
                model.backward(loss.backward())
                optimizer.step()
                total += value * len(idx)
                correct += int((logits.argmax(axis=1) == y[idx]).sum())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{value:.4f}")
            history["loss"].append(total / len(x))
            history["acc"].append(correct / len(x))
            if x_val is not None:
                val_loss, val_acc = evaluate(model, loss, x_val, y_val, eval_batch_size)
                history["val_loss"].append(val_loss)
                history["val_acc"].append(val_acc)
    finally:
        bar.close()
    return history


def _finite_loss(loss, logits, labels, epoch, batch, optimizer):
    lr = getattr(optimizer, "lr", None)
    hint = f"try a lower learning rate (now lr={lr:g})" if lr is not None else "try a lower learning rate"
    if not np.all(np.isfinite(logits)):
        raise FloatingPointError(f"fit: the network output stopped being finite at epoch {epoch + 1}, batch {batch + 1}; {hint}")
    value = loss.forward(logits, labels)
    if not np.isfinite(value):
        raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {batch + 1}; {hint}")
    return value
