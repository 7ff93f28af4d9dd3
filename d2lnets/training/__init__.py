"""Training: the book's ``train_ch5`` and ``evaluate_accuracy``; the ways in,
``train`` (a net you made), ``train_recipe`` (a registered model) and ``fit``
(the loop with your callbacks); and underneath, a run planned once (``plan``)
then built and trained (``run``)."""
from ..errors import DivergedError, NonFiniteLossError, TrainingInterrupted
from . import callbacks
from .api import train, train_ch5
from .callbacks.progress import EPOCH_LINE
from .history import History
from .loop import EpochSums, evaluate_accuracy, fit, set_seed
from .plan import Plan, plan_run
from .position import Position
from .run import Trained, train_recipe
from .schedule import lr_schedule

__all__ = ["train", "train_ch5", "evaluate_accuracy", "fit", "set_seed", "lr_schedule",
           "History", "EpochSums", "EPOCH_LINE", "callbacks", "Position", "Trained",
           "train_recipe", "Plan", "plan_run", "TrainingInterrupted", "NonFiniteLossError",
           "DivergedError"]
