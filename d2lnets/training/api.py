"""``train`` and the book's ``train_ch5``: a net, data and trainer the caller
made, trained with :class:`~d2lnets.config.RunConfig`'s settings."""
from __future__ import annotations

import os
from typing import Any, Callable

from mxnet import gluon

from ..config import RunConfig, acting, check_names
from ..errors import UsageError
from .history import History
from .plan import plan_run
from .run import fit_run

__all__ = ["train", "train_ch5"]


def train(net: Any, train_iter: Any, test_iter: Any, trainer: gluon.Trainer, ctx: Any = None,
          epochs: int = 5, *, out: str | os.PathLike | None = None,
          resume: str | os.PathLike | bool | None = None, loss: Any = None,
          log: Callable[[str], None] | None = print, progress: bool | None = None,
          plot: bool = True, **settings: Any) -> History:
    """Train ``net`` and return its :class:`History`. ``settings`` are
    :class:`RunConfig`'s that act in the loop (``seed``, ``schedule``,
    ``warmup``, ``label_smoothing``, ``batch_size``, ``hybridize``, ...).

    - ``ctx``: one context or a list (default the book's ``try_gpu()``); each
      batch is split across the list.
    - ``batch_size``: what a step's summed gradient is divided by, as the book's
      ``trainer.step(batch_size)``; default the iterator's, else each batch's size.
    - ``schedule``/``warmup``: from the trainer's rate now (or ``lr``), which is
      set back at the end, so that another call starts the schedule over.
    - ``plot``: the curves drawn live in Jupyter, and ``curves.png`` in ``out``.
    - ``out``: checkpoints every epoch, ``history.jsonl``, ``curves.png``,
      under the folder's lock.
    - ``resume``: a checkpoint, a run folder, or True for ``out``; the figures
      and parameters then equal an uninterrupted run's on the CPU.
    - Raises ``DivergedError`` and, on SIGINT/SIGTERM/SIGHUP after a
      checkpoint, ``TrainingInterrupted``.
    """
    check_names(settings)
    built = [k for k in settings if k not in acting("loop")]
    if built:
        raise UsageError(f"{', '.join(built)}: set where the data, trainer or run is made (your "
                         f"load_data_fashion_mnist or gluon.Trainer), or let d2lnets make them: "
                         f"train_recipe(model, **settings). train() takes {', '.join(acting('loop'))}")
    config = RunConfig(**{"batch_size": None, "seed": None, **settings, "epochs": epochs})
    plan = plan_run(None, out=out, resume=resume, base=config)
    return fit_run(net, trainer, train_iter, test_iter, ctx, plan, log=log, progress=progress,
                   plot=plot, loss=loss)


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
