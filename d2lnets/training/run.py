"""The one place a training run is built: the command line, ``train_recipe``
(notebooks) and the book's ``train`` / ``train_ch5`` all come here.

:func:`train_run` builds a run from a model name and settings (the data, the
net, the trainer) and :func:`fit_run` trains a net the caller built. Either
way a run that writes a folder holds its lock, a resume is restored here and
handed to the loop as a :class:`Position`, and the callbacks are chosen here.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from mxnet import autograd, gluon, init, nd

from .. import threads
from ..augment import Augment
from ..checkpoint import load_checkpoint, read_meta, resolve_checkpoint
from ..config import RunConfig, check_names
from ..data import SAMPLE, find_fashion_mnist, load_data_fashion_mnist
from ..distributed import Workers, check_settings, join_workers
from ..errors import UsageError
from ..models import FASHION_SIDE, model_info
from ..recipes import layered
from ..runfolder import RunFolder
from .callbacks import (
    Callback,
    Checkpointer,
    DivergenceGuard,
    EpochPrinter,
    Heartbeat,
    HistoryWriter,
    LiveCurves,
    LRScheduler,
    ProgressBar,
    TargetAccuracy,
)
from .history import History
from .loop import as_context_list, fit, set_seed
from .optimizer import NesterovSGD
from .position import Position
from .signals import StopRequest

__all__ = ["Trained", "train_run", "fit_run", "train_recipe", "restore", "BREAKS_MID_EPOCH"]

#: settings whose change in the middle of an epoch would train on other batches
#: than the interrupted run (a change of model is refused at any time)
BREAKS_MID_EPOCH = ("batch_size", "subset", "data", "resize", "seed", "verify", "workers")

Log = Callable[[str], None]


@dataclass
class Trained:
    """What a run gives back: the trained net, its history (``time`` per epoch),
    the iterators it used and its settings."""

    net: Any
    history: History
    train_iter: Any
    test_iter: Any
    config: RunConfig


def restore(ckpt: Path, net: Any, trainer: Any, config: RunConfig, given: Iterable[str],
            ctxs: list, log: Log | None = print) -> Position:
    """Load ``ckpt`` into ``net`` and ``trainer`` (None: parameters only) and say
    where the run goes on. What cannot resume exactly is refused before loading."""
    meta = read_meta(ckpt)
    stored = meta.get("config") or {}
    where = f"{ckpt} (epoch {meta['epoch'] + 1}, batch {meta['batch']})"
    if stored.get("arch"):  # an older d2lnets' recipe could train another network
        raise UsageError(f"{where} trained {stored['arch']} for {stored.get('model')}'s "
                         f"{stored.get('recipe')} recipe (an older d2lnets); today every recipe "
                         f"trains the network it names, so this run cannot resume: start a new "
                         f"run in another --out")
    if stored.get("model") not in (None, config.model):
        raise UsageError(f"{where} is a run of {stored['model']}, not {config.model}: resume it "
                         f"as {stored['model']}, or start a new run")
    mine = config.to_dict()
    changed = {k: [stored[k], mine[k]] for k in given if k in stored and stored[k] != mine[k]}
    breaking = [k for k in BREAKS_MID_EPOCH if k in changed]
    if breaking and meta["batch"]:
        said = ", ".join(f"{k} {changed[k][1]} (the run has {changed[k][0]})" for k in breaking)
        raise UsageError(f"cannot resume {where} with {said}: in the middle of an epoch that "
                         f"would train on other batches than the interrupted run. Resume with "
                         f"the run's values, or change them at the start of a new run.")
    load_checkpoint(ckpt, net, trainer, ctx=ctxs, meta=meta)
    if "resize" in changed:
        _check_side(net, ctxs, changed["resize"], where)
    if log:
        log(f"resuming from {ckpt} (epoch {meta['epoch'] + 1}, batch {meta['batch']})")
    seed = meta.get("seed")
    seed = seed if isinstance(seed, int) and 0 <= seed < 2**32 else None
    return Position(meta["epoch"], meta["batch"], meta.get("partial"),
                    History(meta.get("history", [])), changed or None, str(ckpt), seed)


def _check_side(net: Any, ctxs: list, change: list, where: str) -> None:
    """A resumed net takes images of the new side (global pooling does; LeNet's
    dense layer, sized for the run's side, does not): one image tells."""
    old, new = (side or FASHION_SIDE for side in change)
    try:
        with autograd.predict_mode():
            net(nd.zeros((1, 1, new, new), ctx=ctxs[0]))
    except UsageError:
        raise UsageError(f"cannot resume {where} with --resize {new}: the run's layers were "
                         f"sized for {old}x{old} images. Resume with --resize {old}, or train "
                         f"at {new} in a new run.") from None


def _callbacks(config: RunConfig, *, out: Path | None, write: bool, save_states: bool,
               given: Iterable[str], log: Log | None, progress: bool | None, plot: bool,
               watchdog: Any, target_acc: float | None, base_lr: float) -> list[Callback]:
    """In the order they run; after an epoch its line is printed once the checkpoint exists."""
    cbs: list[Callback] = []
    if out is not None and write:
        cbs.append(Checkpointer(out, save_states, tuple(given)))
    if watchdog is not None:
        cbs.append(Heartbeat(watchdog))
    if config.schedule != "constant" or config.warmup > 0:
        cbs.append(LRScheduler(base_lr))
    cbs += [ProgressBar(progress), DivergenceGuard(config.max_loss)]
    if log:
        cbs.append(EpochPrinter(log))
    if plot:
        cbs.append(LiveCurves())
    if out is not None and write:
        cbs.append(HistoryWriter(out, plot))
    if target_acc is not None:  # last: the epoch is saved and written before the run ends
        cbs.append(TargetAccuracy(target_acc, log or None))
    return cbs


def fit_run(net: Any, trainer: gluon.Trainer, train_iter: Any, test_iter: Any, ctx: Any,
            config: RunConfig, *, out: str | os.PathLike | None = None,
            resume: str | os.PathLike | bool | None = None, given: Iterable[str] = (),
            log: Log | None = print, progress: bool | None = None, plot: bool = True,
            write: bool = True, save_states: bool = True, watchdog: Any = None,
            target_acc: float | None = None, stop: StopRequest | None = None,
            loss: Any = None, move_earlier: bool = False, note: Log | None = None) -> History:
    """Train a net the caller built. ``out``: checkpoints, ``history.jsonl`` and
    ``curves.png`` there, under the folder's lock (``write=False``: every
    distributed worker but rank 0). ``resume``: a checkpoint, a run folder, or
    True for ``out``. The schedule's base rate is ``config.lr``, else the
    trainer's rate now. ``move_earlier``: a fresh run moves an earlier run in
    ``out`` aside first (else it writes beside it); ``note`` says so."""
    ctxs = as_context_list(ctx)
    if not isinstance(trainer, gluon.Trainer):
        raise UsageError(f"trainer must be a gluon.Trainer (gluon.Trainer(net.collect_params(), "
                         f"'sgd', {{'learning_rate': 0.1}})); got {type(trainer).__name__}")
    if out is not None and not str(out):
        raise UsageError("out is empty: name the run folder (out=\".\" for this one)")
    if resume is True and out is None:
        raise UsageError("resume=True needs out (the run folder to resume)")
    ckpt = resolve_checkpoint(out if resume is True else resume) if resume else None
    folder = Path(out) if out is not None else None
    base_lr = config.lr if config.lr is not None else trainer.learning_rate
    cbs = _callbacks(config, out=folder, write=write, save_states=save_states, given=given,
                     log=log, progress=progress, plot=plot, watchdog=watchdog,
                     target_acc=target_acc, base_lr=base_lr)

    def train() -> History:
        start = Position() if ckpt is None else restore(
            ckpt, net, trainer if save_states else None, config, given, ctxs, log)
        if start.seed is not None and config.seed is None and hasattr(train_iter, "seed"):
            train_iter.seed = start.seed  # an unseeded run resumes its data order too
        return fit(net, train_iter, test_iter, trainer, ctxs, config, cbs, loss, stop, start)

    if folder is None or not write:
        return train()
    with RunFolder(folder) as lock:
        # the folder is never moved away from under the checkpoint being resumed
        fresh = move_earlier and (ckpt is None or lock.folder not in ckpt.resolve().parents)
        moved = lock.prepare(fresh=fresh)
        if moved and note:
            note(f"note: the earlier run in {folder} was moved to {moved} (use --resume to "
                 f"continue a run)")
        return train()


def _trainer(config: RunConfig, net: Any, kwargs: dict) -> gluon.Trainer:
    opt: dict[str, Any] = {"learning_rate": config.lr, "wd": config.wd}
    if config.optimizer == "nag" or config.momentum:
        opt["momentum"] = config.momentum
    if config.optimizer == "nag":  # MXNet's fused NAG does not repeat (training/optimizer.py)
        return gluon.Trainer(net.collect_params(), NesterovSGD(**opt), **kwargs)
    return gluon.Trainer(net.collect_params(), config.optimizer, opt, **kwargs)


def _threads(config: RunConfig, stored: dict, note: Log | None) -> RunConfig:
    """A resumed run keeps the thread count it trained with (results depend on it),
    unless the user sets one; then exactness is lost, and that is said."""
    want = stored.get("threads")
    if want and want != threads.CHOICE.threads:
        if threads.user_set():
            if note:
                note(f"note: this run trained with {want} OpenMP threads and now gets "
                     f"{threads.CHOICE.threads} ({threads.CHOICE.reason}): it will not repeat "
                     f"the uninterrupted run to the last digit")
        else:
            threads.use(want, "the resumed run's")
    return replace(config, threads=threads.CHOICE.threads)


def train_run(model: str, recipe: str | None = None, given: dict | None = None, *,
              ctx: Any = None, out: str | os.PathLike | None = None,
              resume: str | os.PathLike | bool | None = None, log: Log | None = print,
              note: Log | None = None, progress: bool | None = None, kvstore: str | None = None,
              stop: StopRequest | None = None, target_acc: float | None = None,
              build: Callable[[], Any] | None = None) -> Trained:
    """Train ``model`` with ``recipe`` and the settings in ``given`` (checked
    against :class:`RunConfig`); ``resume`` continues a run (its settings are
    kept unless ``given`` changes them); ``note`` gets the banner and notes.
    ``build`` makes a variant of ``model`` to train in its place (the exercises)."""
    given = dict(given or {})
    check_names(given)
    ckpt = resolve_checkpoint(out if resume is True else resume) if resume else None
    stored = (read_meta(ckpt).get("config") or {}) if ckpt else {}
    config = layered(model, recipe, stored, given)
    if config.data != SAMPLE:  # the folder itself, so that a resume finds the same data
        config = replace(config, data=str(find_fashion_mnist(config.data).resolve()))
    check_settings(config, kvstore)
    workers = join_workers(kvstore)
    config = _threads(replace(config, workers=workers.count), stored, note)
    ctxs = as_context_list(ctx)
    train_iter, test_iter = load_data_fashion_mnist(
        config.batch_size, resize=config.resize, root=config.data, seed=config.seed,
        subset=config.subset, verify=config.verify, augment=Augment(config.shift, config.flip))
    if workers.count > 1:
        train_iter.shard(workers.rank, workers.count)
    net = _build_net(config, ctxs, build or model_info(config.model).builder)
    trainer = _trainer(config, net, workers.trainer_kwargs())
    if note:
        note(_banner(config, train_iter, out, workers))
    history = fit_run(net, trainer, train_iter, test_iter, ctxs, config, out=out, resume=ckpt,
                      given=given, log=log, progress=progress, write=workers.rank == 0,
                      save_states=not workers.on_servers, watchdog=workers.watchdog,
                      target_acc=target_acc, stop=stop, move_earlier=True, note=note)
    return Trained(net, history, train_iter, test_iter, config)


def _build_net(config: RunConfig, ctxs: list, build: Callable[[], Any]) -> Any:
    if config.seed is not None:
        set_seed(config.seed)
    net = build()
    net.initialize(init.Xavier(), ctx=ctxs)
    return net


def _banner(config: RunConfig, train_iter: Any, out: Any, workers: Workers) -> str:
    return (f"d2lnets: {config.model} ({config.recipe} recipe), lr {config.lr}, batch "
            f"{config.batch_size}, {config.epochs} epochs, resize {config.resize or 28}, "
            f"{train_iter.num_examples} training images, seed {config.seed}, data "
            f"{train_iter.source}, out {out}, {config.threads or 'default'} OpenMP threads"
            + (f", worker {workers.rank}/{workers.count}" if workers.count > 1 else ""))


def train_recipe(model: str, recipe: str = "book", ctx: Any = None,
                 out_dir: str | os.PathLike | None = None, log: Log | None = print,
                 **given: Any) -> Trained:
    """Train ``model`` with ``recipe`` (for notebooks); ``given`` overrides any
    setting of :class:`RunConfig`, e.g. ``epochs=1, data="sample"``."""
    return train_run(model, recipe, given, ctx=ctx, out=out_dir, log=log)
