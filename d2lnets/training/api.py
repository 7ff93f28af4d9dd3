"""``train`` and the book's ``train_ch5``: a net and trainer the caller made,
trained through the run factory (``run.fit_run``)."""
from __future__ import annotations

import os
from typing import Any, Callable

from mxnet import gluon

from ..config import RunConfig
from .history import History
from .run import fit_run

__all__ = ["train", "train_ch5"]


def train(net: Any, train_iter: Any, test_iter: Any, trainer: gluon.Trainer, ctx: Any = None,
          num_epochs: int = 5, *, loss: Any = None, hybridize: bool = True,
          progress: bool | None = None, out_dir: str | os.PathLike | None = None,
          resume: str | os.PathLike | bool | None = None, seed: int | None = None,
          schedule: str = "constant", warmup_epochs: float = 0.0, label_smoothing: float = 0.0,
          log: Callable[[str], None] | None = print, is_root: bool = True,
          plot: bool = True, watchdog: Any = None, batch_size: int | None = None,
          max_loss: float | None = 1e4, save_states: bool = True) -> History:
    """Train ``net`` and return its :class:`History`; the settings are
    :class:`~d2lnets.config.RunConfig`'s (checked by its bounds).

    - ``ctx``: one context or a list (default the book's ``try_gpu()``); each
      batch is split across the list.
    - ``batch_size``: what a step's summed gradient is divided by, as the book's
      ``trainer.step(batch_size)``; None: the iterator's, else each batch's size.
    - ``schedule``/``warmup_epochs``: from the trainer's rate now, which is set
      back at the end, so that another call starts the schedule over.
    - ``plot``: the curves drawn live in Jupyter, and ``curves.png`` in ``out_dir``.
    - ``out_dir``: checkpoints every epoch, ``history.jsonl``, ``curves.png``,
      under the folder's lock; ``is_root=False`` (every distributed worker but
      rank 0) writes nothing.
    - ``resume``: a checkpoint folder, a run folder, or True for ``out_dir``;
      the figures and parameters then equal an uninterrupted run's on the CPU.
    - ``save_states=False``: the trainer's states are not checkpointed (they
      live on the parameter servers under a ``dist`` kvstore).
    - Raises ``DivergedError`` and, on SIGINT/SIGTERM/SIGHUP after a
      checkpoint, ``TrainingInterrupted``.
    """
    config = RunConfig(epochs=num_epochs, batch_size=batch_size, hybridize=hybridize, seed=seed,
                       schedule=schedule, warmup=warmup_epochs, max_loss=max_loss,
                       label_smoothing=label_smoothing)
    return fit_run(net, trainer, train_iter, test_iter, ctx, config, out=out_dir, resume=resume,
                   log=log, progress=progress, plot=plot, write=is_root, save_states=save_states,
                   watchdog=watchdog, loss=loss)


def train_ch5(net: Any, train_iter: Any, test_iter: Any, batch_size: int,
              trainer: gluon.Trainer, ctx: Any, num_epochs: int, plot: bool = False) -> History:
    """The book's ``train_ch5``: the same arguments and the same printed lines;
    ``plot=True`` also draws the curves live in Jupyter, as the later editions do.

    Unlike the book it does not read the loss every batch, and it hybridizes
    what is safe to hybridize (see ``hybridize_safely``): the book's
    ``nn.Sequential`` code runs without warnings.
    """
    return train(net, train_iter, test_iter, trainer, ctx, num_epochs, progress=False,
                 batch_size=batch_size, plot=plot)
