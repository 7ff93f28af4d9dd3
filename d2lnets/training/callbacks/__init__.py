"""The fit loop's callbacks, one concern per module (see ``base`` for the hooks)."""
from .base import Callback, CallbackList
from .checkpointer import Checkpointer
from .divergence import DivergenceGuard
from .heartbeat import Heartbeat
from .history_writer import HistoryWriter
from .live import LiveCurves
from .lr_scheduler import LRScheduler
from .progress import EpochPrinter, ProgressBar
from .target import TargetAccuracy

__all__ = ["Callback", "CallbackList", "Checkpointer", "DivergenceGuard", "Heartbeat",
           "HistoryWriter", "LiveCurves", "LRScheduler", "EpochPrinter", "ProgressBar", "TargetAccuracy"]
