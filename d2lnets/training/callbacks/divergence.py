"""``DivergenceGuard``: stop a run whose loss is NaN, infinite, or exploding."""
from __future__ import annotations

import math
from collections import deque
from typing import Any

from ..cancel import Diverged
from .base import Callback

__all__ = ["DivergenceGuard"]


class DivergenceGuard(Callback):
    """Reads each batch's loss ``lag`` batches late, so the read never stalls
    the device, and stops the run when it is not finite or its mean exceeds
    ``max_loss`` (with batch norm a far too large learning rate gives huge but
    finite losses). The wait also bounds the work queued ahead of the device."""

    def __init__(self, max_loss: float | None = 1e4, lag: int = 2):
        self.max_loss, self.lag = max_loss, lag
        self._window: deque = deque()

    def on_epoch_begin(self, run: Any) -> None:
        self._window.clear()

    def on_batch_end(self, run: Any, logs: dict) -> None:
        self._window.append((run.batch, logs["loss_sums"], logs["size"]))
        if len(self._window) > self.lag:
            self._check(run, *self._window.popleft())

    def on_batches_end(self, run: Any) -> None:
        while self._window:
            self._check(run, *self._window.popleft())

    def _check(self, run: Any, batch: int, sums: list, size: int) -> None:
        value = float(sum(s.asscalar() for s in sums))
        if not math.isfinite(value):
            raise Diverged.of(run, f"became {value}", batch)
        if self.max_loss is not None and value / size > self.max_loss:
            raise Diverged.of(run, f"exploded to {value / size:.3g} per example (more "
                              f"than {self.max_loss:g})", batch)
