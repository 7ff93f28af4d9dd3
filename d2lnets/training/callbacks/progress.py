"""``ProgressBar`` (a tqdm bar per epoch on stderr) and ``EpochPrinter`` (the book's lines)."""
from __future__ import annotations

import sys
from typing import Any, Callable

from .base import Callback

__all__ = ["ProgressBar", "EpochPrinter", "EPOCH_LINE"]

#: the book's epoch line
EPOCH_LINE = "epoch %d, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec"


class ProgressBar(Callback):
    """A tqdm bar per epoch; ``enabled=None`` shows it only on a terminal.
    Its total is given only when the iterator knows its length."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None

    def on_epoch_begin(self, run: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm  # optional at run time: only a terminal needs it
        steps = run.steps_per_epoch
        total = steps - run.batch if steps is not None else None
        self._bar = tqdm(total=total, desc=f"epoch {run.epoch + 1}", leave=False,
                         file=sys.stderr, dynamic_ncols=True)

    def on_batch_end(self, run: Any, logs: dict) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_batches_end(self, run: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochPrinter(Callback):
    """Prints "training on ..." and the book's epoch line through ``log``."""

    def __init__(self, log: Callable[[str], None] = print):
        self.log = log

    def on_train_begin(self, run: Any) -> None:
        ctxs = run.ctxs
        self.log(f"training on {ctxs[0] if len(ctxs) == 1 else ctxs}")

    def on_epoch_end(self, run: Any, row: dict) -> None:
        self.log(EPOCH_LINE % (row["epoch"], row["loss"], row["train_acc"], row["test_acc"],
                               row["time"]))
