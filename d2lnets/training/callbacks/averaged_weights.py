"""``AveragedWeights``: test with the moving average of the weights (``--ema``).

The averages live in the optimizer's state (``training/optimizer.py``), so
checkpoints hold the training weights and the averages both and a resumed run
goes on exactly. This callback swaps the averages into the net for the epoch's
test and back before anything is saved, and leaves them in the net at the end
(Keras's ``finalize_variable_values``): the trained net is the one whose
accuracy was printed. It must come before the ``Checkpointer``.
"""
from __future__ import annotations

from typing import Any

from ..optimizer import swap_averaged
from .base import Callback

__all__ = ["AveragedWeights"]


class AveragedWeights(Callback):
    """Averages in the net while it is tested and after training; weights otherwise."""

    def __init__(self) -> None:
        self.swapped = False

    def _swap(self, run: Any) -> None:
        if swap_averaged(run.trainer):
            self.swapped = not self.swapped

    def on_batches_end(self, run: Any) -> None:
        if not self.swapped:
            self._swap(run)

    def on_epoch_end(self, run: Any, row: dict) -> None:
        if self.swapped:
            self._swap(run)

    def on_interrupt(self, run: Any, partial: dict) -> str | None:
        if self.swapped:
            self._swap(run)
        return None

    def on_train_end(self, run: Any) -> None:
        if not self.swapped:
            self._swap(run)
