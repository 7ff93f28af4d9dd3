"""The callback protocol of the fit loop (Keras's, cut to what the chapter needs).

Hooks, in the order the loop calls them:
``on_train_begin`` (restore a run here), then per epoch ``on_epoch_begin``,
per batch ``on_batch_begin`` / ``on_batch_end`` (``logs`` holds the batch's
per-device loss sums as NDArrays and its ``size``: read them late, if at all),
``on_batches_end`` once the batch loop stops, ``on_epoch_end`` with the epoch's
row; ``on_interrupt`` (return the checkpoint written) on Ctrl-C; ``on_train_end``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, run: Any) -> None: ...

    def on_epoch_begin(self, run: Any) -> None: ...

    def on_batch_begin(self, run: Any) -> None: ...

    def on_batch_end(self, run: Any, logs: dict) -> None: ...

    def on_batches_end(self, run: Any) -> None: ...

    def on_epoch_end(self, run: Any, row: dict) -> None: ...

    def on_interrupt(self, run: Any, partial: dict) -> str | None:
        return None

    def on_train_end(self, run: Any) -> None: ...


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks: Sequence[Callback] = ()):
        self.callbacks = list(callbacks)

    def on_train_begin(self, run: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(run)

    def on_epoch_begin(self, run: Any) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(run)

    def on_batch_begin(self, run: Any) -> None:
        for cb in self.callbacks:
            cb.on_batch_begin(run)

    def on_batch_end(self, run: Any, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(run, logs)

    def on_batches_end(self, run: Any) -> None:
        for cb in self.callbacks:
            cb.on_batches_end(run)

    def on_epoch_end(self, run: Any, row: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(run, row)

    def on_interrupt(self, run: Any, partial: dict) -> str | None:
        saved = None
        for cb in self.callbacks:
            saved = cb.on_interrupt(run, partial) or saved
        return saved

    def on_train_end(self, run: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_end(run)
