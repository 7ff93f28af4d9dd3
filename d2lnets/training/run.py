"""Where a run is built and trained, once planned (``plan.plan_run``).

:func:`run_plan` builds a planned run of a registered model (the data, the
net, the trainer) and :func:`fit_run` trains a net with its plan. A run that
writes a folder holds its lock, a resume is loaded here from the plan's
checkpoint and handed to the loop as a :class:`Position`, and the callbacks
are chosen here. :func:`train_recipe` is the library's way in for a model name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Callable

from mxnet import autograd, gluon, init, nd

from .. import threads
from ..augment import Augment
from ..checkpoint import load_checkpoint
from ..config import RunConfig, shown
from ..data import load_data_fashion_mnist
from ..distributed import Workers, join_workers
from ..errors import UsageError
from ..models import FASHION_SIDE, model_info
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
from .plan import Plan, plan_run
from .position import Position
from .signals import StopRequest

__all__ = ["Trained", "run_plan", "fit_run", "train_recipe", "restore"]

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


def restore(plan: Plan, net: Any, trainer: Any, ctxs: list, log: Log | None = print) -> Position:
    """Load the plan's checkpoint into ``net`` and ``trainer`` (None: parameters
    only) and say where the run goes on (the beginning, for a new run)."""
    if plan.checkpoint is None:
        return Position()
    load_checkpoint(plan.checkpoint, net, trainer, ctx=ctxs, meta=plan.meta)
    if plan.changed and "resize" in plan.changed:
        _check_side(net, ctxs, plan.changed["resize"], plan.where)
    if log:
        log(f"resuming from {plan.where}")
    return plan.position()


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


def _callbacks(plan: Plan, *, write: bool, save_states: bool, log: Log | None,
               progress: bool | None, plot: bool, watchdog: Any, target_acc: float | None,
               base_lr: float) -> list[Callback]:
    """In the order they run; after an epoch its line is printed once the checkpoint exists."""
    config, out = plan.config, plan.out if write else None
    cbs: list[Callback] = []
    if out is not None:
        cbs.append(Checkpointer(out, save_states, plan.given))
    if watchdog is not None:
        cbs.append(Heartbeat(watchdog))
    if config.schedule != "constant" or config.warmup > 0:
        cbs.append(LRScheduler(base_lr))
    cbs += [ProgressBar(progress), DivergenceGuard(config.max_loss)]
    if log:
        cbs.append(EpochPrinter(log))
    if plot:
        cbs.append(LiveCurves())
    if out is not None:
        cbs.append(HistoryWriter(out, plot))
    if target_acc is not None:  # last: the epoch is saved and written before the run ends
        cbs.append(TargetAccuracy(target_acc, log or None))
    return cbs


def fit_run(net: Any, trainer: gluon.Trainer, train_iter: Any, test_iter: Any, ctx: Any,
            plan: Plan, *, log: Log | None = print, progress: bool | None = None,
            plot: bool = True, write: bool = True, save_states: bool = True,
            watchdog: Any = None, target_acc: float | None = None,
            stop: StopRequest | None = None, loss: Any = None, move_earlier: bool = False,
            note: Log | None = None) -> History:
    """Train a net with its ``plan``: checkpoints, ``history.jsonl`` and
    ``curves.png`` in ``plan.out``, under the folder's lock (``write=False``:
    every distributed worker but rank 0). The schedule's base rate is the
    plan's ``lr``, else the trainer's rate now. ``move_earlier``: a new run
    moves an earlier run in the folder aside first (else it writes beside
    it); ``note`` says so."""
    ctxs = as_context_list(ctx)
    if not isinstance(trainer, gluon.Trainer):
        raise UsageError(f"trainer must be a gluon.Trainer (gluon.Trainer(net.collect_params(), "
                         f"'sgd', {{'learning_rate': 0.1}})); got {type(trainer).__name__}")
    config = plan.config
    base_lr = config.lr if config.lr is not None else trainer.learning_rate
    cbs = _callbacks(plan, write=write, save_states=save_states, log=log, progress=progress,
                     plot=plot, watchdog=watchdog, target_acc=target_acc, base_lr=base_lr)

    def train() -> History:
        start = restore(plan, net, trainer if save_states else None, ctxs, log)
        return fit(net, train_iter, test_iter, trainer, ctxs, config, cbs, loss, stop, start)

    if plan.out is None or not write:
        return train()
    with RunFolder(plan.out) as lock:
        # the folder is never moved away from under the checkpoint being resumed
        ckpt = plan.checkpoint
        fresh = move_earlier and (ckpt is None or lock.folder not in ckpt.resolve().parents)
        moved = lock.prepare(fresh=fresh)
        if moved and note:
            note(f"note: the earlier run in {plan.out} was moved to {moved} (use --resume to "
                 f"continue a run)")
        return train()


def _trainer(config: RunConfig, net: Any, kwargs: dict) -> gluon.Trainer:
    opt: dict[str, Any] = {"learning_rate": config.lr, "wd": config.wd}
    if config.clip_gradient is not None:
        opt["clip_gradient"] = config.clip_gradient
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


def run_plan(plan: Plan, *, ctx: Any = None, log: Log | None = print, note: Log | None = None,
             progress: bool | None = None, kvstore: str | None = None,
             stop: StopRequest | None = None, target_acc: float | None = None,
             build: Callable[[], Any] | None = None) -> Trained:
    """Build and train the planned run of a registered model; ``note`` gets the
    banner and notes. ``build`` makes a variant of the model to train in its
    place (the exercises)."""
    workers = join_workers(kvstore)
    config = _threads(replace(plan.config, workers=workers.count), plan.stored, note)
    ctxs = as_context_list(ctx)
    train_iter, test_iter = load_data_fashion_mnist(
        config.batch_size, resize=config.resize, root=config.data, seed=config.seed,
        subset=config.subset, verify=config.verify, augment=Augment(config.shift, config.flip))
    if workers.count > 1:
        train_iter.shard(workers.rank, workers.count)
    net = _build_net(config, ctxs, build or model_info(config.model).builder)
    trainer = _trainer(config, net, workers.trainer_kwargs())
    if note:
        note(_banner(config, train_iter, plan.out, workers))
    history = fit_run(net, trainer, train_iter, test_iter, ctxs, replace(plan, config=config),
                      log=log, progress=progress, write=workers.rank == 0,
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
    return (f"d2lnets: {config.model} ({config.recipe} recipe), {shown(config)}, "
            f"{train_iter.num_examples} training images, data {train_iter.source}, out {out}"
            + (f", worker {workers.rank}/{workers.count}" if workers.count > 1 else ""))


def train_recipe(model: str, recipe: str = "book", ctx: Any = None,
                 out: str | os.PathLike | None = None, log: Log | None = print, *,
                 resume: str | os.PathLike | bool | None = None, kvstore: str | None = None,
                 **settings: Any) -> Trained:
    """Train the registered ``model`` with ``recipe``; ``settings`` override any
    setting of :class:`RunConfig` (``epochs=1, data="sample"``). ``resume``: a
    checkpoint, a run folder, or True for ``out``; ``kvstore``: as
    ``--kvstore`` (``dist_sync`` under ``d2lnets launch``)."""
    plan = plan_run(model, recipe, settings, out, resume, kvstore=kvstore)
    return run_plan(plan, ctx=ctx, log=log, kvstore=kvstore)
