"""0.17's ``train_ch6`` and what it calls, with d2l's arguments, figures and
printed lines. Unlike d2l it reads the loss and accuracy from the device only
where a point is drawn (5 times an epoch), so MXNet's engine runs ahead; the
sums are still added in the same order as Python floats, so the figures are
d2l's to the bit."""
from __future__ import annotations

import collections
import time
from typing import Any

import mxnet as mx
from mxnet import autograd, gluon, init

from ..errors import UsageError, mxnet_reason
from .data import quick_epochs
from .live import Animator, keep_figure

__all__ = ["Timer", "Accumulator", "accuracy", "evaluate_accuracy_gpu", "train_ch6",
           "checked_forward", "count_batches", "Lookahead"]


class Timer:
    """Several running times: ``start()``, ``stop()``, then ``sum()`` or ``avg()``."""

    def __init__(self):
        self.times: list[float] = []
        self.start()

    def start(self):
        self.tik = time.time()

    def stop(self):
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        total, out = 0.0, []
        for t in self.times:
            total += t
            out.append(total)
        return out


class Accumulator:
    """Sums over ``n`` variables, added as Python floats."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def _correct(y_hat: Any, y: Any) -> Any:
    """The number of right predictions, as an array still on the device."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    return (y_hat.astype(y.dtype) == y).astype(y.dtype).sum()


def _float(value: Any) -> float:
    """A one-element array (either mode) or a number, as a Python float."""
    return value.asnumpy().item() if hasattr(value, "asnumpy") else float(value)


def accuracy(y_hat, y):
    """The number of right predictions (a float, as d2l's)."""
    return _float(_correct(y_hat, y))


class _Pending:
    """Per-batch values kept on the device, added to an Accumulator when read."""

    def __init__(self, metric: Accumulator):
        self.metric, self.rows = metric, []

    def add(self, *values: Any) -> None:
        self.rows.append(values)

    def flush(self) -> Accumulator:
        for row in self.rows:
            self.metric.add(*map(_float, row))
        self.rows.clear()
        return self.metric


class Lookahead:
    """Lets the engine's queue run at most ``depth`` batches behind Python: the
    step before last is waited for, so Python's work overlaps the device's
    without queueing a whole epoch (and its memory) ahead."""

    def __init__(self, depth: int = 2):
        self.depth, self.pending = depth, collections.deque()

    def add(self, array: Any) -> None:
        self.pending.append(array)
        if len(self.pending) > self.depth:
            self.pending.popleft().wait_to_read()


def checked_forward(net: Any, X: Any) -> Any:
    """``net(X)``, with MXNet's failure said in one line naming the batch's shape."""
    try:
        return net(X)
    except (mx.base.MXNetError, ValueError) as err:
        raise UsageError(f"the net cannot take a batch of shape {tuple(X.shape)}: "
                         f"{mxnet_reason(err)}. Check the net's first layer and the data's "
                         f"resize.") from None


def _device_of(net: Any) -> Any:
    params = list(net.collect_params().values())
    if not params:
        raise UsageError("the net has no parameters: add its layers before evaluating it")
    try:
        return params[0].list_ctx()[0]
    except RuntimeError:
        raise UsageError("the net was never initialised: call net.initialize() (train_ch6 "
                         "does it for you), or pass device=") from None


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """The accuracy of ``net`` on ``data_iter`` (on ``device``, default the net's)."""
    device = device or _device_of(net)
    metric = _Pending(Accumulator(2))
    for X, y in data_iter:
        X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        metric.add(_correct(checked_forward(net, X), y), y.size)
    metric.flush()
    if not metric.metric[1]:
        raise UsageError("the test data yields no examples: there is nothing to evaluate")
    return metric.metric[0] / metric.metric[1]


def _check(net: Any, train_iter: Any, num_epochs: Any, lr: Any, device: Any) -> int:
    """The number of batches an epoch, once every argument is known to be usable."""
    if not isinstance(net, gluon.Block):
        raise UsageError(f"net must be a Gluon Block (nn.Sequential, ...); got {type(net).__name__}")
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise UsageError(f"num_epochs must be a positive integer; got {num_epochs!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise UsageError(f"lr must be a positive number; got {lr!r}")
    if not isinstance(device, mx.Context):
        raise UsageError(f"device must be an MXNet context such as d2l.try_gpu(); got {device!r}")
    return count_batches(train_iter, "train_iter", train=True)


def count_batches(loader: Any, what: str, train: bool) -> int:
    """``len(loader)``, said plainly when there is none, or (``train``) none to train on."""
    try:
        n = len(loader)
    except TypeError:
        raise UsageError(f"{what} must have a length (a DataLoader, a list of batches, or "
                         f"d2l.load_data_fashion_mnist's); got {type(loader).__name__}") from None
    if train and n < 1:
        raise UsageError(f"{what} yields no batches: there is nothing to train on")
    return n


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train ``net`` with SGD at ``lr`` from a fresh Xavier start, drawing the
    curves live, then print the last epoch's figures and the speed."""
    num_batches = _check(net, train_iter, num_epochs, lr, device)
    try:
        net.initialize(force_reinit=True, ctx=device, init=init.Xavier())
    except mx.base.MXNetError as err:
        raise UsageError(f"cannot use {device}: {mxnet_reason(err)}. d2l.try_gpu() gives a "
                         f"device that exists.") from None
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs],
                        legend=["train loss", "train acc", "test acc"])
    timer, every, ahead = Timer(), max(num_batches // 5, 1), Lookahead()  # d2l: // 5 of < 5 is 0
    num_epochs = quick_epochs(num_epochs)
    for epoch in range(num_epochs):
        metric = _Pending(Accumulator(3))
        timer.start()
        for i, (X, y) in enumerate(train_iter):
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            with autograd.record():
                y_hat = checked_forward(net, X)
                batch_loss = loss(y_hat, y)
            batch_loss.backward()
            trainer.step(X.shape[0])
            metric.add(batch_loss.sum(), _correct(y_hat, y), X.shape[0])
            ahead.add(batch_loss)
            if (i + 1) % every == 0 or i == num_batches - 1:
                m = metric.flush()
                timer.stop()
                train_l, train_acc = m[0] / m[2], m[1] / m[2]
                animator.add(epoch + (i + 1) / num_batches, (train_l, train_acc, None))
                timer.start()
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (None, None, test_acc))
    _finish(animator)
    print(f"loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    print(f"{m[2] * num_epochs / timer.sum():.1f} examples/sec on {str(device)}")


def _finish(animator: Animator) -> None:
    if animator.X:
        animator.draw()
        keep_figure(animator.fig, "train_ch6")
