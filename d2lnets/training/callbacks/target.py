"""``TargetAccuracy``: stop as soon as the test accuracy reaches a target."""
from __future__ import annotations

import time
from typing import Any, Callable

from .base import Callback

__all__ = ["TargetAccuracy"]


class TargetAccuracy(Callback):
    """Ends the run after the first epoch whose test accuracy is at least
    ``target``, and reports the wall-clock seconds since training began."""

    def __init__(self, target: float, log: Callable[[str], None] | None = print):
        self.target, self.log = float(target), log
        self.started = time.time()
        self.reached: tuple[int, float] | None = None

    def on_train_begin(self, run: Any) -> None:
        self.started = time.time()

    def on_epoch_end(self, run: Any, row: dict) -> None:
        if self.reached is None and row["test_acc"] >= self.target:
            self.reached = (row["epoch"], time.time() - self.started)
            run.stop_training = True
            if self.log:
                self.log(f"reached test acc {row['test_acc']:.3f} >= {self.target:g} in epoch "
                         f"{row['epoch']}, {self.reached[1]:.1f} sec after training began")
