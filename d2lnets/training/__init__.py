"""Training: the book's ``train_ch5`` and ``evaluate_accuracy``, ``train``, and the
fit loop with its callbacks underneath (``loop.fit``, ``callbacks``)."""
from ..errors import DivergedError, NonFiniteLossError, TrainingInterrupted
from . import callbacks
from .api import default_callbacks, train, train_ch5
from .callbacks.progress import EPOCH_LINE
from .config import TrainConfig
from .history import History
from .loop import EpochSums, evaluate_accuracy, fit, set_seed
from .schedule import lr_schedule

__all__ = ["train", "train_ch5", "evaluate_accuracy", "fit", "set_seed", "lr_schedule",
           "TrainConfig", "History", "EpochSums", "EPOCH_LINE", "callbacks",
           "default_callbacks", "TrainingInterrupted", "NonFiniteLossError", "DivergedError"]
