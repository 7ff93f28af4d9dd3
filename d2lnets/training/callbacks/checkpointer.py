"""``Checkpointer``: save the run every epoch and on an interruption.

Like timm's ``CheckpointSaver``, only the process that writes the run (rank 0)
gets one, and it only saves: a resume is restored before the loop starts
(``run.restore``, from the plan) and handed to it as a ``Position``. The caller says whether
the trainer's states are saved (not under a distributed kvstore, where they
live on the servers).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...checkpoint import latest_checkpoint, save_checkpoint
from .base import Callback

__all__ = ["Checkpointer"]


class Checkpointer(Callback):
    """Checkpoints into ``out_dir``: one after every epoch, one at the exact
    batch on an interruption. Each stores the run's settings (``run.config``)
    and those the user set (``given``, by name: a resume reads them back and adds
    its own)."""

    def __init__(self, out_dir: str | os.PathLike, save_states: bool = True,
                 given: dict | None = None):
        self.out, self.save_states, self.given = Path(out_dir), save_states, dict(given or {})

    def on_train_begin(self, run: Any) -> None:
        if run.last_checkpoint is None:
            found = latest_checkpoint(self.out)
            run.last_checkpoint = None if found is None else str(found)

    def save(self, run: Any, epoch: int, batch: int, partial: dict | None) -> str:
        meta = {"epoch": epoch, "batch": batch, "partial": partial,
                "history": run.history.epochs, "seed": getattr(run.train_iter, "seed", None),
                "config": run.config.to_dict(), "given": self.given}
        trainer = run.trainer if self.save_states else None
        return str(save_checkpoint(self.out, run.net, trainer, meta))

    def on_epoch_end(self, run: Any, row: dict) -> None:
        run.last_checkpoint = self.save(run, run.epoch + 1, 0, None)

    def on_interrupt(self, run: Any, partial: dict) -> str | None:
        return self.save(run, run.epoch, run.batch, partial)
