"""``train`` and the book's ``train_ch5``: thin wrappers that pick the callbacks."""
from __future__ import annotations

import os
from typing import Any, Callable

from mxnet import gluon

from ..errors import UsageError
from .callbacks import (
    Callback,
    Checkpointer,
    DivergenceGuard,
    EpochPrinter,
    Heartbeat,
    HistoryWriter,
    LRScheduler,
    ProgressBar,
    TargetAccuracy,
)
from .config import TrainConfig
from .history import History
from .loop import fit

__all__ = ["train", "train_ch5", "default_callbacks"]


def default_callbacks(config: TrainConfig, *, progress: bool | None = None,
                      out_dir: str | os.PathLike | None = None, write: bool = True,
                      resume: str | os.PathLike | bool | None = None,
                      log: Callable[[str], None] | None = print, plot: bool = True,
                      watchdog: Any = None, save_states: bool = True,
                      config_record: dict | None = None,
                      target_acc: float | None = None) -> list[Callback]:
    """The callbacks of a d2lnets run, in the order they run: the checkpointer
    first (it restores the run the others continue; after an epoch, its line is
    printed once the checkpoint exists). ``write=False`` (every distributed
    worker but rank 0) restores but writes nothing."""
    if resume is True and out_dir is None:
        raise UsageError("resume=True needs out_dir (the run folder to resume)")
    cbs: list[Callback] = []
    if out_dir is not None or resume:
        folder = out_dir if out_dir is not None else resume
        cbs.append(Checkpointer(folder, resume, save_states, log, config_record,
                                write and out_dir is not None))
    if watchdog is not None:
        cbs.append(Heartbeat(watchdog))
    if config.scheduled:
        cbs.append(LRScheduler())
    cbs += [ProgressBar(progress), DivergenceGuard(config.max_loss)]
    if log:
        cbs.append(EpochPrinter(log))
    if out_dir is not None and write:
        cbs.append(HistoryWriter(out_dir, plot))
    if target_acc is not None:  # last: the epoch is saved and written before the run ends
        cbs.append(TargetAccuracy(target_acc, log or None))
    return cbs


def train(net: Any, train_iter: Any, test_iter: Any, trainer: gluon.Trainer, ctx: Any = None,
          num_epochs: int = 5, *, loss: Any = None, hybridize: bool = True,
          progress: bool | None = None, out_dir: str | os.PathLike | None = None,
          resume: str | os.PathLike | bool | None = None, seed: int | None = None,
          schedule: str = "constant", warmup_epochs: float = 0.0,
          log: Callable[[str], None] | None = print, is_root: bool = True,
          plot: bool = True, watchdog: Any = None, batch_size: int | None = None,
          max_loss: float | None = 1e4, save_states: bool = True) -> History:
    """Train ``net`` and return its :class:`History` (see :class:`TrainConfig`
    for ``batch_size``, ``max_loss``, ``schedule`` and ``warmup_epochs``).

    - ``ctx``: one context or a list; each batch is split across the list.
    - ``out_dir``: checkpoints every epoch, ``history.jsonl``, ``curves.png``;
      ``is_root=False`` (every distributed worker but rank 0) writes nothing.
    - ``resume``: a checkpoint folder, a run folder, or True for ``out_dir``;
      the figures and parameters then equal an uninterrupted run's on the CPU.
    - ``save_states=False``: the trainer's states are not checkpointed (they
      live on the parameter servers under a ``dist`` kvstore).
    - Raises ``DivergedError`` (``NonFiniteLossError``) and, on SIGINT/SIGTERM
      after a checkpoint, ``TrainingInterrupted``.
    """
    config = TrainConfig(num_epochs, batch_size, hybridize, seed, schedule, warmup_epochs,
                         max_loss)
    callbacks = default_callbacks(config, progress=progress, out_dir=out_dir, write=is_root,
                                  resume=resume, log=log, plot=plot, watchdog=watchdog,
                                  save_states=save_states)
    return fit(net, train_iter, test_iter, trainer, ctx, config, callbacks, loss)


def train_ch5(net: Any, train_iter: Any, test_iter: Any, batch_size: int,
              trainer: gluon.Trainer, ctx: Any, num_epochs: int) -> History:
    """The book's ``train_ch5``: the same arguments and the same printed lines.

    Unlike the book it does not read the loss every batch, and it hybridizes
    what is safe to hybridize (see ``hybridize_safely``): the book's
    ``nn.Sequential`` code runs without warnings.
    """
    return train(net, train_iter, test_iter, trainer, ctx, num_epochs, progress=False,
                 batch_size=batch_size)
