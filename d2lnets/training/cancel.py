"""Ending a run early: one family of exceptions, raised anywhere in a run (the
loop, a callback) and caught in one place, ``fit`` (fastai's cancel exceptions).

``StopRequested``: a stop signal came; the exact position is saved and the run
ends with :class:`~d2lnets.errors.TrainingInterrupted`. ``TargetReached``: the
run did what it was for and ends as a finished run. ``Diverged``: the loss is
not finite or exploded; it is the :class:`~d2lnets.errors.DivergedError` the
run ends with.
"""
from __future__ import annotations

from ..errors import DivergedError

__all__ = ["CancelRun", "StopRequested", "TargetReached", "Diverged"]


class CancelRun(Exception):
    """Ends the run; ``fit`` catches it and says how it ended."""


class StopRequested(CancelRun):
    """A stop signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) came during the run."""


class TargetReached(CancelRun):
    """The run reached what it was for (a test accuracy): it is finished."""


class Diverged(CancelRun, DivergedError):
    """The loss is not finite, or exploded: ``Diverged.of(run, "became nan",
    batch)`` is the :class:`DivergedError` the user gets, with its advice."""
