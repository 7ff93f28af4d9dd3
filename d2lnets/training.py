"""The chapter's training loop: ``train_ch5`` as in the book, on top of a richer ``train``.

``train`` runs on one context or several (the batch is split across them),
hybridizes, keeps loss and accuracy on the device and reads them once per
epoch (the book's per-batch ``.asscalar()`` serialises the device), writes an
atomic checkpoint every epoch, resumes, stops on a non-finite loss, and on
Ctrl-C saves where it is so that a resumed run repeats the uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd

from .checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint

__all__ = ["train", "train_ch5", "evaluate_accuracy", "set_seed", "lr_schedule", "History",
           "TrainingInterrupted", "NonFiniteLossError", "EPOCH_LINE"]

#: the book's epoch line
EPOCH_LINE = "epoch %d, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec"


class TrainingInterrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM stopped the run after saving a checkpoint."""

    def __init__(self, message: str, checkpoint: str | None, signum: int):
        super().__init__(message)
        self.checkpoint, self.signum = checkpoint, signum


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite, or exploded past ``max_loss`` per
    example; the last good checkpoint is kept."""


def set_seed(seed: int) -> None:
    """Seed MXNet, numpy and Python: parameter initialisation and shuffling repeat."""
    mx.random.seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))
    random.seed(int(seed))


def _as_list(ctx: Any) -> list:
    if ctx is None:
        return [mx.cpu()]
    return list(ctx) if isinstance(ctx, (list, tuple)) else [ctx]


def _split(X: nd.NDArray, ctxs: list) -> list:
    if len(ctxs) == 1:
        return [X.as_in_context(ctxs[0])]
    return gluon.utils.split_and_load(X, ctxs, even_split=False)


def evaluate_accuracy(data_iter: Iterable, net: Any, ctx: Any = None) -> float:
    """Classification accuracy of ``net`` over ``data_iter`` (the book's helper).

    ``ctx`` may be one context or a list; counts stay on the device and are
    read once at the end.
    """
    ctxs = _as_list(ctx)
    correct = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
    n = 0
    for X, y in data_iter:
        for c_sum, Xs, ys in zip(correct, _split(X, ctxs), _split(y, ctxs)):
            hits = net(Xs).argmax(axis=1) == ys.astype("float32")
            c_sum += hits.sum().astype("float64")
        n += X.shape[0]
    if n == 0:
        raise ValueError("evaluate_accuracy: the data iterator yielded no examples")
    return float(sum(c.asscalar() for c in correct)) / n


def lr_schedule(name: str, base_lr: float, total_steps: int, warmup_steps: int = 0,
                final_lr: float = 0.0) -> Callable[[int], float]:
    """``step -> learning rate``. ``constant`` (the book's) or ``cosine``, each
    after an optional linear warm-up from 0."""
    if name not in ("constant", "cosine"):
        raise ValueError(f"unknown learning-rate schedule {name!r}: use constant or cosine")

    def at(step: int) -> float:
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        if name == "constant":
            return base_lr
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return final_lr + (base_lr - final_lr) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return at


@dataclass
class History:
    """Per-epoch figures; written as JSON lines and drawn as a PNG."""

    epochs: list[dict] = field(default_factory=list)

    def append(self, row: dict) -> None:
        self.epochs.append(row)

    def column(self, key: str) -> list:
        return [row[key] for row in self.epochs]

    def write_jsonl(self, path: str | os.PathLike) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            for row in self.epochs:
                f.write(json.dumps(row) + "\n")
        os.replace(tmp, path)


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between batches (a second
    Ctrl-C interrupts at once). Only in the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _progress(total: int, enabled: bool | None, desc: str) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)


def train(net: Any, train_iter: Any, test_iter: Any, trainer: gluon.Trainer, ctx: Any = None,
          num_epochs: int = 5, *, loss: Any = None, hybridize: bool = True,
          progress: bool | None = None, out_dir: str | os.PathLike | None = None,
          resume: str | os.PathLike | bool | None = None, seed: int | None = None,
          schedule: str = "constant", warmup_epochs: float = 0.0,
          log: Callable[[str], None] | None = print, is_root: bool = True,
          plot: bool = True, watchdog: Any = None, batch_size: int | None = None,
          max_loss: float | None = 1e4) -> History:
    """Train ``net`` and return its :class:`History`.

    - ``ctx``: one context or a list; each batch is split across the list and
      the trainer sums the gradients.
    - ``batch_size``: the gradient is divided by it, for the last (smaller)
      batch too, as in the book's ``trainer.step(batch_size)``; by default the
      iterator's ``batch_size``, else each batch's own size. (Dividing the last
      batch by its own size makes its step 2.7x larger at batch 256 and costs
      LeNet-BN about 5 points of test accuracy after one epoch: the moving BN
      statistics then describe the weights before that large step.)
    - ``out_dir``: where checkpoints (every epoch), ``history.jsonl`` and
      ``curves.png`` go; nothing is written without it. ``is_root=False``
      (every distributed worker but rank 0) writes nothing.
    - ``resume``: a checkpoint folder, a run folder (its newest checkpoint),
      or True for ``out_dir``'s newest. The epoch figures and final parameters
      equal those of an uninterrupted run with the same seed, on the CPU.
    - ``seed``: the shuffling order of every epoch (with d2lnets iterators).
    - ``schedule``: ``constant`` (the book) or ``cosine``; ``warmup_epochs``
      of linear warm-up, for either, scale from the trainer's learning rate.
    - Raises :class:`NonFiniteLossError` when the loss is NaN or infinite, or
      larger than ``max_loss`` per example (a cross-entropy of 1e4 means the
      run has diverged: with batch norm a far too large learning rate gives
      huge but finite losses), and :class:`TrainingInterrupted` on
      SIGINT/SIGTERM, after a checkpoint.
    """
    ctxs = _as_list(ctx)
    loss = loss or gluon.loss.SoftmaxCrossEntropyLoss()
    step_size = batch_size or getattr(train_iter, "batch_size", None)
    out = Path(out_dir) if out_dir is not None else None
    if seed is not None:
        set_seed(seed)
        if hasattr(train_iter, "seed"):
            train_iter.seed = int(seed)
    if hybridize and hasattr(net, "hybridize"):
        net.hybridize(static_alloc=True, static_shape=True)
    steps_per_epoch = len(train_iter)
    base_lr = trainer.learning_rate
    warmup_steps = int(round(warmup_epochs * steps_per_epoch))
    lr_at = lr_schedule(schedule, base_lr, steps_per_epoch * num_epochs, warmup_steps)
    scheduled = schedule != "constant" or warmup_steps > 0

    history, start_epoch, start_batch, partial = History(), 0, 0, None
    if resume:
        where = out if resume is True else Path(resume)
        if where is None:
            raise ValueError("resume=True needs out_dir (the run folder to resume)")
        meta = load_checkpoint(where, net, None if _on_servers(trainer) else trainer, ctx=ctxs)
        history = History(meta.get("history", []))
        start_epoch, start_batch = int(meta["epoch"]), int(meta.get("batch", 0))
        partial = meta.get("partial")
        if "seed" in meta and hasattr(train_iter, "seed"):
            train_iter.seed = int(meta["seed"])
        if log:
            log(f"resuming from {meta['path']} (epoch {start_epoch + 1}, batch {start_batch})")
    if log:
        log(f"training on {ctxs[0] if len(ctxs) == 1 else ctxs}")

    def checkpoint(epoch: int, batch: int, part: dict | None) -> str | None:
        if out is None or not is_root:
            return None
        meta = {"epoch": epoch, "batch": batch, "partial": part, "history": history.epochs,
                "seed": getattr(train_iter, "seed", seed), "num_epochs": num_epochs}
        return str(save_checkpoint(out, net, None if _on_servers(trainer) else trainer, meta))

    last_good = latest_checkpoint(out) if out is not None else None
    with _StopRequest() as stop:
        for epoch in range(start_epoch, num_epochs):
            first = start_batch if epoch == start_epoch else 0
            l_sum = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
            c_sum = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
            n, elapsed = 0, 0.0
            if first and partial:
                l_sum[0] += partial["loss_sum"]
                c_sum[0] += partial["correct"]
                n, elapsed = int(partial["n"]), float(partial["elapsed"])
            start = time.time()
            if hasattr(train_iter, "epoch"):
                batches = train_iter.epoch(epoch, first)
            else:
                batches = iter(train_iter)
                for _ in range(first):
                    next(batches)
            bar = _progress(steps_per_epoch - first, progress, f"epoch {epoch + 1}")
            window: deque = deque()
            batch = first
            for X, y in batches:
                if stop.signum is not None:
                    break
                if watchdog is not None:
                    watchdog.beat()
                if scheduled:
                    trainer.set_learning_rate(lr_at(epoch * steps_per_epoch + batch))
                Xs, ys = _split(X, ctxs), _split(y, ctxs)
                with autograd.record():
                    outs = [net(x) for x in Xs]
                    losses = [loss(o, t) for o, t in zip(outs, ys)]
                autograd.backward(losses)
                trainer.step(step_size or X.shape[0])
                sums = []
                for j, (o, t, lv) in enumerate(zip(outs, ys, losses)):
                    s = lv.sum().astype("float64")
                    l_sum[j] += s
                    c_sum[j] += (o.argmax(axis=1) == t.astype("float32")).sum().astype("float64")
                    sums.append(s)
                n += X.shape[0]
                batch += 1
                # bound the work queued ahead of the device; the value read here was
                # computed two batches ago, so the read does not stall the device
                window.append((batch, sums, X.shape[0]))
                if len(window) > 2:
                    _check_loss(*window.popleft(), epoch, last_good, trainer, max_loss)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            while window:
                _check_loss(*window.popleft(), epoch, last_good, trainer, max_loss)
            if stop.signum is not None:
                nd.waitall()
                part = {"loss_sum": float(sum(v.asscalar() for v in l_sum)),
                        "correct": float(sum(v.asscalar() for v in c_sum)), "n": n,
                        "elapsed": elapsed + time.time() - start}
                path = checkpoint(epoch, batch, part)
                name = signal.Signals(stop.signum).name
                where = f"saved {path}" if path else "nothing saved (no out_dir)"
                raise TrainingInterrupted(
                    f"{name}: stopped in epoch {epoch + 1} after batch {batch}; {where}. "
                    f"Resume with the same command and --resume"
                    f"{' ' + str(out) if out else ''}.", path, stop.signum)
            test_acc = evaluate_accuracy(test_iter, net, ctxs)
            total_l = float(sum(v.asscalar() for v in l_sum))
            total_c = float(sum(v.asscalar() for v in c_sum))
            if not math.isfinite(total_l):
                _raise_diverged(f"became {total_l}", epoch, batch, last_good, trainer)
            row = {"epoch": epoch + 1, "loss": total_l / n, "train_acc": total_c / n,
                   "test_acc": test_acc, "time": elapsed + time.time() - start,
                   "lr": trainer.learning_rate}
            history.append(row)
            if log:
                log(EPOCH_LINE % (row["epoch"], row["loss"], row["train_acc"], row["test_acc"],
                                  row["time"]))
            if out is not None and is_root:
                last_good = checkpoint(epoch + 1, 0, None)
                _write_extras(history, out, plot, log)
    return history


def _on_servers(trainer: gluon.Trainer) -> bool:
    """True when the optimizer state lives on parameter servers (dist kvstore):
    the trainer cannot save it, and SGD without momentum has none to save."""
    kv = getattr(trainer, "_kvstore", None) or getattr(trainer, "_kvstore_params", {}).get("kvstore")
    kind = kv if isinstance(kv, str) else getattr(kv, "type", "")
    return "dist" in (kind or "")


def _write_extras(history: History, out: Path, plot: bool, log: Callable | None) -> None:
    """history.jsonl and curves.png: conveniences (the checkpoint holds the
    history too), so a failure to write them is a warning, not an error."""
    try:
        history.write_jsonl(out / "history.jsonl")
        if plot:
            from .plotting import plot_history
            plot_history(history, out / "curves.png")
    except OSError as err:
        print(f"d2lnets: warning: could not write history/curves in {out}: {err}",
              file=sys.stderr)


def _check_loss(batch: int, sums: list, size: int, epoch: int, last_good: str | None,
                trainer: gluon.Trainer, max_loss: float | None) -> None:
    value = float(sum(s.asscalar() for s in sums))
    if not math.isfinite(value):
        _raise_diverged(f"became {value}", epoch, batch, last_good, trainer)
    if max_loss is not None and value / size > max_loss:
        _raise_diverged(f"exploded to {value / size:.3g} per example (more than {max_loss:g})",
                        epoch, batch, last_good, trainer)


def _raise_diverged(what: str, epoch: int, batch: int, last_good: str | None,
                    trainer: gluon.Trainer) -> None:
    kept = (f"The last good checkpoint, {last_good}, is kept." if last_good
            else "No checkpoint was written before it.")
    raise NonFiniteLossError(
        f"the loss {what} in epoch {epoch + 1} (batch {batch}) at learning rate "
        f"{trainer.learning_rate:g}: training diverged. Lower the learning rate (--lr) and "
        f"run again. {kept}")


def train_ch5(net: Any, train_iter: Any, test_iter: Any, batch_size: int,
              trainer: gluon.Trainer, ctx: Any, num_epochs: int) -> History:
    """The book's ``train_ch5``: the same arguments and the same printed lines.

    Unlike the book it hybridizes and does not read the loss every batch.
    """
    return train(net, train_iter, test_iter, trainer, ctx, num_epochs, progress=False,
                 batch_size=batch_size)


__all__ += ["CheckpointError"]
