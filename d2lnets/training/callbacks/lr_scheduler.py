"""``LRScheduler``: set the trainer's learning rate before every batch."""
from __future__ import annotations

from typing import Any

from ...errors import UsageError
from ..schedule import lr_schedule
from .base import Callback

__all__ = ["LRScheduler"]


class LRScheduler(Callback):
    """The run's schedule (``config.schedule``, ``config.warmup``) from ``base_lr``,
    given explicitly (timm pins ``initial_lr`` for the same reason): the
    trainer's rate is what the schedule set last. At the end, or on an
    interruption, the trainer is set back to ``base_lr``, so that another
    ``train()`` with it starts the schedule over, not from where this one ended."""

    def __init__(self, base_lr: float) -> None:
        self.base_lr = float(base_lr)
        self._at: Any = None
        self._steps = 0

    def on_train_begin(self, run: Any) -> None:
        steps = run.steps_per_epoch
        if steps is None:
            raise UsageError("a learning-rate schedule needs an iterator with len(); "
                             "use the constant schedule")
        cfg = run.config
        self._steps = steps
        self._at = lr_schedule(cfg.schedule, self.base_lr, steps * cfg.epochs,
                               int(round(cfg.warmup * steps)))
        # the rate of the last batch run: what an epoch resumed at its end records
        here = run.start.epoch * steps + run.start.batch
        run.trainer.set_learning_rate(self._at(max(0, here - 1)))

    def on_batch_begin(self, run: Any) -> None:
        run.trainer.set_learning_rate(self._at(run.epoch * self._steps + run.batch))

    def on_interrupt(self, run: Any, partial: dict) -> None:
        run.trainer.set_learning_rate(self.base_lr)

    def on_train_end(self, run: Any) -> None:
        run.trainer.set_learning_rate(self.base_lr)
