"""Training: the book's ``train_ch5`` and ``evaluate_accuracy``, ``train``, the
run factory (``run``: ``train_run``, ``fit_run``, ``train_recipe``), and the fit
loop with its callbacks underneath (``loop.fit``, ``callbacks``)."""
from ..errors import DivergedError, NonFiniteLossError, TrainingInterrupted
from . import callbacks
from .api import train, train_ch5
from .callbacks.progress import EPOCH_LINE
from .history import History
from .loop import EpochSums, evaluate_accuracy, fit, set_seed
from .position import Position
from .run import Trained, fit_run, train_recipe, train_run
from .schedule import lr_schedule

__all__ = ["train", "train_ch5", "evaluate_accuracy", "fit", "set_seed", "lr_schedule",
           "History", "EpochSums", "EPOCH_LINE", "callbacks", "Position", "Trained", "fit_run",
           "train_recipe", "train_run", "TrainingInterrupted", "NonFiniteLossError",
           "DivergedError"]
