"""Losses beyond the book's ``SoftmaxCrossEntropyLoss``."""
from __future__ import annotations

from typing import Any

from mxnet import gluon

from .errors import UsageError

__all__ = ["LabelSmoothingLoss", "classification_loss"]


class LabelSmoothingLoss(gluon.loss.Loss):
    """Softmax cross-entropy against a target that keeps ``1 - smoothing`` on
    the true class and spreads ``smoothing`` evenly over all classes: the net
    is not pushed to ever larger logits, which helps short, fast schedules."""

    def __init__(self, smoothing: float = 0.1, **kwargs: Any):
        super().__init__(None, 0, **kwargs)
        if not 0 <= smoothing < 1:
            raise UsageError(f"label smoothing must be in [0, 1); got {smoothing}")
        self.smoothing = float(smoothing)

    def hybrid_forward(self, F: Any, pred: Any, label: Any) -> Any:
        logp = F.log_softmax(pred, axis=-1)
        nll = -F.pick(logp, label, axis=-1)
        spread = -F.mean(logp, axis=-1)
        return (1 - self.smoothing) * nll + self.smoothing * spread


def classification_loss(smoothing: float = 0.0) -> gluon.loss.Loss:
    """The book's loss, or its label-smoothed form."""
    return LabelSmoothingLoss(smoothing) if smoothing else gluon.loss.SoftmaxCrossEntropyLoss()
