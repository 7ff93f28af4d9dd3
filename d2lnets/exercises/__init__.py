"""The chapter's exercises (练习), answered by experiment.

    d2lnets exercise list
    d2lnets exercise run bn-bias [--seeds 5] [--quick]

``run_exercise(name)`` from Python; the notebooks call it at their end.
"""
from __future__ import annotations

from . import batch_norm, densenet, resnet  # noqa: F401 - each registers its section's exercises
from .registry import Exercise, Result, get_exercise, list_exercises, run_exercise

__all__ = ["Exercise", "Result", "get_exercise", "list_exercises", "run_exercise"]
