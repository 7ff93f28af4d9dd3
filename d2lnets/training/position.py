"""``Position``: where a run starts, the one thing a resume hands the loop.

A fresh run starts at epoch 0, batch 0. A resumed one starts where its
checkpoint stopped: ``partial`` holds the interrupted epoch's figures so far,
``history`` the finished epochs' rows, and ``changed`` what the resuming
command set differently (recorded in the next history row).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .history import History

__all__ = ["Position"]


@dataclass(frozen=True)
class Position:
    epoch: int = 0
    batch: int = 0
    partial: dict | None = None
    history: History = field(default_factory=History)
    changed: dict | None = None
    #: the checkpoint it came from (kept if the run then diverges)
    checkpoint: str | None = None
    #: the data order's seed the run had (for a run whose settings name none)
    seed: int | None = None
