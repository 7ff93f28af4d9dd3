"""``LiveCurves``: the epoch's loss and accuracies drawn as they come, in Jupyter
only (the later editions' ``Animator``); a script gets no figure from it."""
from __future__ import annotations

from typing import Any

from ...editions.live import Animator, in_notebook
from .base import Callback

__all__ = ["LiveCurves"]


class LiveCurves(Callback):
    """One point a line after every epoch: train loss, train acc, test acc."""

    def __init__(self) -> None:
        self.animator: Animator | None = None

    def on_train_begin(self, run: Any) -> None:
        if in_notebook():
            self.animator = Animator(xlabel="epoch", xlim=[1, max(run.config.epochs, 2)],
                                     legend=["train loss", "train acc", "test acc"], svg=False)

    def on_epoch_end(self, run: Any, row: dict) -> None:
        if self.animator is not None:
            self.animator.add(row["epoch"], (row["loss"], row["train_acc"], row["test_acc"]))
