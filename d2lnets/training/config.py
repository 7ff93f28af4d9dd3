"""``TrainConfig``: the options of one training run, in one place.

The loop reads only this and its callbacks; the command line and ``train()``
build it. It is plain data, so a checkpoint can store it as JSON.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UsageError

__all__ = ["TrainConfig", "SCHEDULES"]

#: learning-rate schedules the loop knows
SCHEDULES = ("constant", "cosine", "linear")


@dataclass
class TrainConfig:
    """How to train.

    - ``batch_size``: what the summed gradient is divided by, for the last,
      smaller batch too, as the book's ``trainer.step(batch_size)``; None: the
      iterator's ``batch_size``, else each batch's own size.
    - ``max_loss``: a mean loss per example above it stops the run (a
      cross-entropy of 1e4 means the run has diverged); None: only NaN/inf.
    - ``low_memory``: hybridize without static allocation: the training graph
      then shares MXNet's memory pool (ResNet-18 at batch 256 and 96px: 1.6 GB
      peak instead of 3.5 GB) and runs about 20% slower.
    - ``label_smoothing``: the target puts this much mass evenly on all classes.
    - ``tta_flip``: the test accuracy averages the net's scores on each image
      and its mirror image (test-time augmentation).
    """

    num_epochs: int = 5
    batch_size: int | None = None
    hybridize: bool = True
    seed: int | None = None
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    max_loss: float | None = 1e4
    low_memory: bool = False
    label_smoothing: float = 0.0
    tta_flip: bool = False

    def __post_init__(self) -> None:
        if int(self.num_epochs) < 0:
            raise UsageError(f"num_epochs must be >= 0; got {self.num_epochs}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown learning-rate schedule {self.schedule!r}: use "
                             f"{' or '.join(SCHEDULES)}")
        if not 0 <= float(self.label_smoothing) < 1:
            raise UsageError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")
        if not 0 <= float(self.warmup_epochs) <= 1e6:
            raise UsageError(f"warmup_epochs must be between 0 and 1e6; got {self.warmup_epochs}")

    @property
    def scheduled(self) -> bool:
        """True when the learning rate changes during the run."""
        return self.schedule != "constant" or self.warmup_epochs > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
