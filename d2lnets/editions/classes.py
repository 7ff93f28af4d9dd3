"""The 1.0 edition's ``Module``, ``Classifier`` and ``Trainer``, with d2l's
methods and figures (``model.board.data``). The board reads a batch's loss
from the device only when it averages a point, so MXNet's engine runs ahead.
``Trainer(num_gpus=1)`` without a GPU trains on the CPU, as d2l does, and says
so once."""
from __future__ import annotations

import math
import sys
from typing import Any

import mxnet as mx
from mxnet import autograd, gluon, nd, np
from mxnet.gluon import nn
from mxnet.util import is_np_array

from ..devices import num_gpus as _visible_gpus
from ..errors import UsageError
from .ch6 import Lookahead, checked_forward, count_batches
from .data import quick_epochs
from .hparams import HyperParameters
from .live import ProgressBoard, keep_figure

__all__ = ["Module", "Classifier", "Trainer"]


class Module(nn.Block, HyperParameters):
    """A model: ``self.net``, its ``loss``, its optimiser, and its points on ``board``."""

    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        if not hasattr(self, "net"):
            raise UsageError(f"{type(self).__name__} has no self.net: build it in __init__")
        return checked_forward(self.net, X)

    def plot(self, key, value, train):
        """A point of ``key`` on the board, at the epoch's fraction reached."""
        if not hasattr(self, "trainer"):
            raise UsageError("plot() needs a Trainer: call trainer.fit(model, data)")
        self.board.xlabel = "epoch"
        t = self.trainer
        if train:
            x, n = t.train_batch_idx / t.num_train_batches, t.num_train_batches / self.plot_train_per_epoch
        else:
            x, n = t.epoch + 1, t.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, value, ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch):
        self.plot("loss", self.loss(self(*batch[:-1]), batch[-1]), train=False)

    def configure_optimizers(self):
        return gluon.Trainer(self.collect_params(), "sgd", {"learning_rate": self.lr})


#: d2l makes a new loss block every batch; one serves (it has no parameters)
_CROSS_ENTROPY = gluon.loss.SoftmaxCrossEntropyLoss()


def _randn(*shape: int) -> Any:
    return np.random.randn(*shape) if is_np_array() else nd.random.normal(shape=shape)


class Classifier(Module):
    """A classification model: cross-entropy loss, accuracy on the board."""

    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(axis=1).astype(Y.dtype)
        compare = (preds == Y.reshape(-1)).astype("float32")
        return compare.mean() if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        each = _CROSS_ENTROPY(Y_hat, Y.reshape((-1,)))
        return each.mean() if averaged else each

    def layer_summary(self, X_shape):
        """Each layer's class and output shape for a random input of ``X_shape``."""
        X = _randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)


_SAID: set[str] = set()


def _say_once(text: str) -> None:
    if text not in _SAID:
        _SAID.add(text)
        print(f"d2lnets: {text}", file=sys.stderr)


class Trainer(HyperParameters):
    """Fits a ``Module`` to a ``DataModule``: ``Trainer(max_epochs).fit(model, data)``."""

    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):
        self.save_hyperparameters()
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise UsageError(f"max_epochs must be a positive integer; got {max_epochs!r}")
        self.gpus = [mx.gpu(i) for i in range(min(num_gpus, _visible_gpus()))]
        if num_gpus > len(self.gpus):
            _say_once(f"Trainer(num_gpus={num_gpus}): MXNet sees {len(self.gpus)} GPU(s) here, "
                      f"so it trains on {'the CPU' if not self.gpus else self.gpus}, as d2l does")

    def prepare_data(self, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = count_batches(self.train_dataloader, "train_dataloader()", True)
        self.num_val_batches = (count_batches(self.val_dataloader, "val_dataloader()", False)
                                if self.val_dataloader is not None else 0)

    def prepare_model(self, model):
        if not isinstance(model, Module):
            raise UsageError(f"fit() takes a d2l.Module (a Classifier, ...); got "
                             f"{type(model).__name__}")
        if not list(model.collect_params().keys()):
            raise UsageError(f"{type(model).__name__} has no parameters: build its layers as "
                             f"self.net in __init__")
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.collect_params().reset_ctx(self.gpus[0])
        self.model = model

    def fit(self, model, data):
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        for epoch in range(quick_epochs(self.max_epochs)):
            self.epoch = epoch
            self.fit_epoch()
        if model.board.data:
            keep_figure(model.board.render(), "fit")

    def prepare_batch(self, batch):
        return [a.as_in_context(self.gpus[0]) for a in batch] if self.gpus else batch

    def fit_epoch(self):
        ahead = Lookahead()
        for batch in self.train_dataloader:
            with autograd.record():
                loss = self.model.training_step(self.prepare_batch(batch))
            loss.backward()
            if self.gradient_clip_val > 0:
                self.clip_gradients(self.gradient_clip_val, self.model)
            self.optim.step(1)
            self.train_batch_idx += 1
            ahead.add(loss)
        if self.val_dataloader is None:
            return
        for batch in self.val_dataloader:
            self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

    def clip_gradients(self, grad_clip_val, model):
        """Scale every gradient so that their joint norm is at most ``grad_clip_val``."""
        params = [p.data() for p in model.collect_params().values() if p.grad_req != "null"]
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
        if norm > grad_clip_val:
            for p in params:
                p.grad[:] *= grad_clip_val / norm
