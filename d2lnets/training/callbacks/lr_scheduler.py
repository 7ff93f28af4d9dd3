"""``LRScheduler``: set the trainer's learning rate before every batch."""
from __future__ import annotations

from typing import Any

from ...errors import UsageError
from ..schedule import lr_schedule
from .base import Callback

__all__ = ["LRScheduler"]


class LRScheduler(Callback):
    """The run's schedule (``config.schedule``, ``config.warmup_epochs``), scaled
    from the trainer's learning rate at the start of the run."""

    def __init__(self) -> None:
        self._at: Any = None
        self._steps = 0

    def on_train_begin(self, run: Any) -> None:
        steps = run.steps_per_epoch
        if steps is None:
            raise UsageError("a learning-rate schedule needs an iterator with len(); "
                             "use the constant schedule")
        cfg = run.config
        warmup = int(round(cfg.warmup_epochs * steps))
        self._steps = steps
        self._at = lr_schedule(cfg.schedule, run.trainer.learning_rate, steps * cfg.num_epochs,
                               warmup)

    def on_batch_begin(self, run: Any) -> None:
        run.trainer.set_learning_rate(self._at(run.epoch * self._steps + run.batch))
