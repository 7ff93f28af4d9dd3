"""Learning-rate schedules: ``step -> learning rate``."""
from __future__ import annotations

import math
from typing import Callable

from ..config import SCHEDULES
from ..errors import UsageError

__all__ = ["lr_schedule"]


def lr_schedule(name: str, base_lr: float, total_steps: int, warmup_steps: int = 0,
                final_lr: float = 0.0) -> Callable[[int], float]:
    """``constant`` (the book's), ``cosine`` or ``linear`` (a straight line; with
    a warm-up this is the one-cycle triangle) from ``base_lr`` to ``final_lr``,
    each after an optional linear warm-up from 0 over ``warmup_steps``."""
    if name not in SCHEDULES:
        raise UsageError(f"unknown learning-rate schedule {name!r}: use {' or '.join(SCHEDULES)}")

    def at(step: int) -> float:
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        if name == "constant":
            return base_lr
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if name == "linear":
            return base_lr + (final_lr - base_lr) * t
        return final_lr + (base_lr - final_lr) * 0.5 * (1 + math.cos(math.pi * t))
    return at
