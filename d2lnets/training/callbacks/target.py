"""``TargetAccuracy``: stop as soon as the test accuracy reaches a target."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

from ..cancel import TargetReached
from .base import Callback

__all__ = ["TargetAccuracy"]


def process_seconds() -> float | None:
    """Seconds since this process started (the command, as a reader times it);
    None where /proc cannot say."""
    try:
        with open("/proc/self/stat") as f:  # field 22: start time in clock ticks after boot
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            return float(f.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class TargetAccuracy(Callback):
    """Ends the run after the first epoch whose test accuracy is at least
    ``target``, and reports the seconds since training began and since the
    command started (the time-to-accuracy tables count from there)."""

    def __init__(self, target: float, log: Callable[[str], None] | None = print):
        self.target, self.log = float(target), log
        self.started = time.time()
        self.reached: tuple[int, float] | None = None

    def on_train_begin(self, run: Any) -> None:
        self.started = time.time()

    def on_epoch_end(self, run: Any, row: dict) -> None:
        if self.reached is None and row["test_acc"] >= self.target:
            self.reached = (row["epoch"], time.time() - self.started)
            if self.log:
                since = process_seconds()
                command = f", {since:.1f} s after the command started" if since else ""
                self.log(f"reached test acc {row['test_acc']:.3f} >= {self.target:g} in epoch "
                         f"{row['epoch']}: {self.reached[1]:.1f} s after training began{command}")
            raise TargetReached
