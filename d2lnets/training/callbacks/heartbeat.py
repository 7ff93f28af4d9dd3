"""``Heartbeat``: tell a watchdog, once per batch, that training still moves."""
from __future__ import annotations

from typing import Any

from .base import Callback

__all__ = ["Heartbeat"]


class Heartbeat(Callback):
    """Calls ``watchdog.beat()`` before every batch (see ``distributed.Watchdog``)."""

    def __init__(self, watchdog: Any):
        self.watchdog = watchdog

    def on_batch_begin(self, run: Any) -> None:
        self.watchdog.beat()
