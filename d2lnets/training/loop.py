"""The fit loop: ``fit`` runs epochs of ``train_one_epoch`` and ``validate``.

Everything optional (checkpoints, progress, history files, schedules, the
divergence guard, the watchdog) is a callback; the loop imports none of them.
It keeps loss and accuracy sums on the device (:class:`EpochSums`) and never
reads a value per batch: the book's per-batch ``.asscalar()`` serialises the
device. A resumed run is handed its :class:`Position`. A run ends early by
one of the :mod:`cancel` exceptions, raised anywhere and caught in ``fit``
alone: Ctrl-C (any stop signal) is a request (:class:`StopRequest`) honoured
between batches as :class:`StopRequested`, and the callbacks then save the
exact position.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd

from .._mxnet_compat import children_of
from ..config import RunConfig
from ..data import FashionMNISTIter
from ..devices import MAX_CPU_INDEX, num_gpus, try_gpu
from ..errors import TrainingInterrupted, UsageError
from ..hybrid import ModeAwareMixin
from ..losses import classification_loss
from .callbacks.base import Callback, CallbackList
from .cancel import CancelRun, Diverged, StopRequested, TargetReached
from .history import History
from .position import Position
from .signals import StopRequest

__all__ = ["fit", "train_one_epoch", "train_step", "validate", "evaluate_accuracy", "EpochSums",
           "Run", "set_seed", "hybridize_safely", "as_context_list"]


def set_seed(seed: int) -> None:
    """Seed MXNet, numpy and Python: parameter initialisation and shuffling repeat."""
    mx.random.seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))
    random.seed(int(seed))


def as_context_list(ctx: Any) -> list[mx.Context]:
    """One context, a list of them, or None (the book's ``try_gpu()``) as a list; checked."""
    ctxs = [try_gpu()] if ctx is None else list(ctx) if isinstance(ctx, (list, tuple)) else [ctx]
    if not ctxs:
        raise UsageError("ctx is an empty list: name a device, e.g. mx.cpu() or d2l.try_gpu()")
    for c in ctxs:
        if not isinstance(c, mx.Context):
            raise UsageError(f"ctx must be an mx.Context (mx.cpu(), d2l.try_gpu()) or a list of "
                             f"them; got {c!r}")
        if c.device_type == "cpu" and c.device_id > MAX_CPU_INDEX:
            raise UsageError(f"{c}: a CPU context index is at most {MAX_CPU_INDEX}")
        if c.device_type == "gpu" and c.device_id >= num_gpus():
            raise UsageError(f"{c}: MXNet sees {num_gpus()} GPU(s) here; d2l.try_gpu() gives "
                             f"a device that exists (`d2lnets doctor` says why there is none)")
    return ctxs


def _split(X: nd.NDArray, ctxs: list) -> list[nd.NDArray]:
    if len(ctxs) == 1:
        return [X.as_in_context(ctxs[0])]
    return gluon.utils.split_and_load(X, ctxs, even_split=False)


def _scores(net: Any, X: nd.NDArray, flip: bool) -> nd.NDArray:
    if not flip:
        return net(X)
    return nd.softmax(net(X)) + nd.softmax(net(nd.flip(X, axis=3)))


def evaluate_accuracy(data_iter: Iterable, net: Any, ctx: Any = None,
                      stop: StopRequest | None = None, flip: bool = False) -> float:
    """Classification accuracy of ``net`` over ``data_iter`` (the book's helper).

    ``ctx`` may be one context or a list; counts stay on the device and are
    read once at the end. With ``stop``, a requested stop ends it between two
    batches (:class:`StopRequested`). ``flip`` averages the probabilities
    of each image and its mirror image (test-time augmentation).
    """
    ctxs = as_context_list(ctx)
    correct = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
    n = 0
    for X, y in data_iter:
        if stop is not None and stop.requested:
            raise StopRequested
        for c_sum, Xs, ys in zip(correct, _split(X, ctxs), _split(y, ctxs)):
            hits = _scores(net, Xs, flip).argmax(axis=1) == ys.astype("float32")
            c_sum += hits.sum().astype("float64")
        n += X.shape[0]
    if n == 0:
        raise UsageError("evaluate_accuracy: the data iterator yielded no examples")
    return float(sum(c.asscalar() for c in correct)) / n


class EpochSums:
    """Loss and correct-prediction sums of one epoch, kept on each device.

    ``partial`` restores the host-side figures of an epoch interrupted part-way.
    """

    def __init__(self, ctxs: Sequence[mx.Context], partial: dict | None = None):
        self.loss = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
        self.correct = [nd.zeros((1,), ctx=c, dtype="float64") for c in ctxs]
        self.n, self.elapsed, self.started = 0, 0.0, time.time()
        if partial:
            self.loss[0] += partial["loss_sum"]
            self.correct[0] += partial["correct"]
            self.n, self.elapsed = int(partial["n"]), float(partial["elapsed"])

    def add(self, outs: list, ys: list, losses: list) -> list[nd.NDArray]:
        """Add one batch; return its per-device loss sums (still on the device)."""
        sums = []
        for j, (o, t, lv) in enumerate(zip(outs, ys, losses)):
            s = lv.sum().astype("float64")
            self.loss[j] += s
            self.correct[j] += (o.argmax(axis=1) == t.astype("float32")).sum().astype("float64")
            sums.append(s)
            self.n += o.shape[0]
        return sums

    @property
    def seconds(self) -> float:
        return self.elapsed + time.time() - self.started

    def read(self) -> dict[str, float]:
        """The host-side figures (one read per device): what a checkpoint stores mid-epoch."""
        return {"loss_sum": float(sum(v.asscalar() for v in self.loss)),
                "correct": float(sum(v.asscalar() for v in self.correct)),
                "n": self.n, "elapsed": self.seconds}


@dataclass
class Run:
    """What the callbacks see of a run: the objects, where it started, where it
    is, and the history."""

    net: Any
    trainer: gluon.Trainer
    train_iter: Any
    test_iter: Any
    ctxs: list[mx.Context]
    config: RunConfig
    loss: Any
    start: Position = field(default_factory=Position)
    history: History = field(default_factory=History)
    epoch: int = 0
    batch: int = 0
    last_checkpoint: str | None = None
    #: the current epoch's sums (what an interruption saves)
    sums: EpochSums | None = None

    @property
    def steps_per_epoch(self) -> int | None:
        """Batches per epoch when the iterator knows (the book's iterators may not)."""
        try:
            return len(self.train_iter)
        except TypeError:
            return None

    @property
    def step_size(self) -> int | None:
        """What a step's summed gradient is divided by: the global batch (the book's
        ``trainer.step(batch_size)``), else the iterator's, else each batch's size."""
        if self.config.batch_size:
            return self.config.batch_size * self.config.workers
        return getattr(self.train_iter, "batch_size", None)


def hybridize_safely(block: Any, **kwargs: Any) -> None:
    """Hybridize what can be hybridized without changing what the net does.

    A d2lnets block, or a Gluon HybridBlock holding no d2lnets block (whose
    state updates need a d2lnets container), is hybridized whole; anything else
    (the book's ``nn.Sequential``, a Gluon container around a from-scratch
    ``BatchNorm``) is left imperative and its children are looked at in turn.
    Nothing here calls ``nn.Sequential.hybridize``, which prints warnings.
    """
    if isinstance(block, ModeAwareMixin) or (
            isinstance(block, gluon.HybridBlock) and not _holds_mode_aware(block)):
        block.hybridize(**kwargs)
        return
    for child in children_of(block):
        hybridize_safely(child, **kwargs)


def _holds_mode_aware(block: Any) -> bool:
    return any(isinstance(c, ModeAwareMixin) or _holds_mode_aware(c) for c in children_of(block))


def _adopt(run: Run) -> None:
    """The one place the loop sets up the training data. Batch normalisation
    cannot train on one image: no device may get a one-image shard, from a full
    batch or from the last one. A d2lnets iterator drops such a last batch and
    takes the run's seed, so that its data order repeats; any other iterable
    is read as it is."""
    data, devices = run.train_iter, len(run.ctxs)
    size = getattr(data, "batch_size", None)
    if size is not None and size < 2 * devices:
        raise UsageError(f"batch size {size} over {devices} device(s) gives a device fewer than "
                         f"2 images, and batch normalisation cannot train on one: use a batch "
                         f"size of at least {2 * devices}")
    if not isinstance(data, FashionMNISTIter):
        return
    data.min_last_batch = max(data.min_last_batch, 2 * devices)
    if run.steps_per_epoch == 0:
        raise UsageError(f"{data.num_examples} training image(s): too few for one batch that "
                         f"batch normalisation can train on; use more (--subset)")
    seed = run.config.seed if run.config.seed is not None else run.start.seed
    if seed is not None:  # an unseeded run resumes with the data order it had
        data.seed = int(seed)


def _check_devices(run: Run) -> None:
    """The net's parameters must live on every device the batches go to."""
    for p in run.net.collect_params().values():
        try:
            have = p.list_ctx()
        except RuntimeError:
            raise UsageError(f"the net's parameter {p.name} is not initialized: call "
                             f"net.initialize(ctx=...) before training") from None
        missing = [c for c in run.ctxs if c not in have]
        if missing:
            raise UsageError(f"the net's parameters are on {have}, but training was asked to run "
                             f"on {run.ctxs}: initialize the net on the same devices "
                             f"(net.initialize(ctx=...)) or pass ctx={have}")


def train_step(run: Run, X: nd.NDArray, y: nd.NDArray) -> tuple[list, list, list]:
    """Forward, backward and one optimizer step on a batch split over the devices."""
    Xs, ys = _split(X, run.ctxs), _split(y, run.ctxs)
    with autograd.record():
        outs = [run.net(x) for x in Xs]
        losses = [run.loss(o, t) for o, t in zip(outs, ys)]
    autograd.backward(losses)
    run.trainer.step(run.step_size or X.shape[0])
    return outs, ys, losses


def _batches(train_iter: Any, epoch: int, first: int) -> Iterator:
    if isinstance(train_iter, FashionMNISTIter):  # starts mid-epoch without reading
        return train_iter.epoch(epoch, first)
    batches = iter(train_iter)
    for _ in range(first):
        next(batches, None)
    return batches


def train_one_epoch(run: Run, callbacks: CallbackList, stop: StopRequest) -> EpochSums:
    """Train on the batches of ``run.epoch`` from ``run.batch`` on; a requested
    stop raises :class:`StopRequested` between two batches (``run.sums`` has the figures)."""
    resumed = run.epoch == run.start.epoch and run.start.batch > 0
    run.batch = run.start.batch if resumed else 0
    sums = EpochSums(run.ctxs, run.start.partial if resumed else None)
    run.sums = sums
    callbacks.on_epoch_begin(run)
    for X, y in _batches(run.train_iter, run.epoch, run.batch):
        if stop.requested:
            raise StopRequested
        callbacks.on_batch_begin(run)
        outs, ys, losses = train_step(run, X, y)
        batch_loss = sums.add(outs, ys, losses)
        run.batch += 1
        callbacks.on_batch_end(run, {"loss_sums": batch_loss, "size": X.shape[0]})
    callbacks.on_batches_end(run)
    if stop.requested:
        raise StopRequested
    return sums


def validate(run: Run, sums: EpochSums, stop: StopRequest | None = None) -> dict[str, float]:
    """The epoch's row: training figures from ``sums`` and the test accuracy."""
    figures = sums.read()
    n = figures["n"]
    if not n:
        raise UsageError(f"the training data yielded no batches in epoch {run.epoch + 1}: there "
                         f"is nothing to train on (an empty or used-up iterator?)")
    test_acc = evaluate_accuracy(run.test_iter, run.net, run.ctxs, stop, run.config.tta_flip)
    return {"epoch": run.epoch + 1, "loss": figures["loss_sum"] / n,
            "train_acc": figures["correct"] / n, "test_acc": test_acc,
            "time": figures["elapsed"], "lr": run.trainer.learning_rate}


def _cancelled(run: Run, callbacks: CallbackList, stop: StopRequest, cancel: CancelRun) -> None:
    """How a cancelled run ends: a reached target as a finished run, a
    divergence as :class:`DivergedError`, a stop with its position saved."""
    if isinstance(cancel, TargetReached):
        return
    if isinstance(cancel, Diverged):
        raise cancel
    _interrupted(run, callbacks, stop)


def _interrupted(run: Run, callbacks: CallbackList, stop: StopRequest) -> None:
    """Save the exact position (if anything was trained here) and stop with 130."""
    nd.waitall()
    at_start = (run.epoch, run.batch) == (run.start.epoch, run.start.batch)
    if at_start:
        raise TrainingInterrupted(f"{stop.name}: stopped before the first batch; nothing new to "
                                  f"save, the run folder is as it was.", None, stop.signum)
    saved = callbacks.on_interrupt(run, run.sums.read())
    then = (f"saved {saved}. Resume with the same command and --resume {Path(saved).parent}"
            if saved else "nothing saved (no run folder): run it again to start over")
    raise TrainingInterrupted(f"{stop.name}: stopped in epoch {run.epoch + 1} after batch "
                              f"{run.batch}; {then}.", saved, stop.signum)


def _epochs(run: Run, cbs: CallbackList, stop: StopRequest) -> None:
    """Every epoch from the start position on: train, validate, record."""
    for epoch in range(run.start.epoch, run.config.epochs):
        run.epoch = epoch
        sums = train_one_epoch(run, cbs, stop)
        row = validate(run, sums, stop)
        if epoch == run.start.epoch and run.start.changed:
            row["changed"] = run.start.changed
        run.history.append(row)
        cbs.on_epoch_end(run, row)


def fit(net: Any, train_iter: Any, test_iter: Any, trainer: gluon.Trainer, ctx: Any = None,
        config: RunConfig | None = None, callbacks: Sequence[Callback] = (),
        loss: Any = None, stop: StopRequest | None = None,
        start: Position | None = None) -> History:
    """Train ``net`` for ``config.epochs`` from ``start`` (a resumed run's
    :class:`Position`; default the beginning) and return the :class:`History`.

    A requested stop (SIGINT, SIGTERM, SIGHUP, SIGQUIT, through ``stop``,
    which the caller may hold from earlier) raises :class:`TrainingInterrupted`
    once the callbacks have saved the position: during training, during
    evaluation (the position is then the epoch's end, and a resume evaluates
    again). One that comes after the last epoch ends nothing: the run is done.
    """
    config = config or RunConfig(batch_size=None)
    start = start or Position()
    run = Run(net, trainer, train_iter, test_iter, as_context_list(ctx), config,
              loss or classification_loss(config.label_smoothing), start,
              History(list(start.history.epochs)), last_checkpoint=start.checkpoint)
    _adopt(run)
    _check_devices(run)
    if config.seed is not None:
        set_seed(config.seed)
    if config.hybridize:
        static = not config.low_memory
        hybridize_safely(net, static_alloc=static, static_shape=static)
    cbs = CallbackList(callbacks)
    stop = stop or StopRequest()
    with stop:
        cbs.on_train_begin(run)
        try:
            _epochs(run, cbs, stop)
        except CancelRun as cancel:
            _cancelled(run, cbs, stop, cancel)
    cbs.on_train_end(run)
    return run.history
