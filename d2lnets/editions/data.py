"""Fashion-MNIST as the later editions load it, from d2lnets' data: offline
(d2lnets' search order, Debian's files, or the shipped sample), the images
and labels of Gluon's ``FashionMNIST`` + ``Resize`` + ``ToTensor`` to the bit,
``mxnet.np`` arrays under ``npx.set_np()``, no worker processes.

``D2LNETS_DATA=sample`` reads the shipped sample; ``D2LNETS_QUICK=1`` does too,
keeps two training batches of it and trains one epoch (the chapter's code in
seconds, as CI runs it)."""
from __future__ import annotations

import os
import sys
from typing import Any

from .. import data as _data
from ..errors import UsageError
from .hparams import HyperParameters

__all__ = ["load_data_fashion_mnist", "FashionMNIST", "DataModule", "quick", "quick_epochs"]


def quick() -> bool:
    """``D2LNETS_QUICK=1``: two batches of the shipped sample, one epoch."""
    return os.environ.get("D2LNETS_QUICK", "") not in ("", "0")


def quick_epochs(num_epochs: int) -> int:
    """``num_epochs``, or 1 in quick mode (said once on stderr)."""
    if quick() and num_epochs > 1:
        print(f"d2lnets: D2LNETS_QUICK is set: 1 epoch of {num_epochs}, on 2 batches of the "
              f"shipped sample",
              file=sys.stderr)
        return 1
    return num_epochs


def _root() -> str | None:
    if quick() or os.environ.get("D2LNETS_DATA") == _data.SAMPLE:
        return _data.SAMPLE
    return None


def _side(resize: Any) -> int | None:
    """The book's ``resize``: a side or an (h, w) pair; d2lnets' images are square."""
    if isinstance(resize, (tuple, list)):
        if len(resize) != 2 or resize[0] != resize[1]:
            raise UsageError(f"resize={resize!r}: d2lnets resizes to squares; give one side "
                             f"(96) or (96, 96)")
        resize = resize[0]
    return resize or None


def _iters(batch_size: Any, resize: Any) -> tuple[Any, Any]:
    subset = 2 * batch_size if quick() and isinstance(batch_size, int) else None
    train, test = _data.load_data_fashion_mnist(batch_size, resize=_side(resize), root=_root(),
                                                subset=subset)
    train.min_last_batch = 1  # Gluon's DataLoader keeps the last short batch
    return train, test


def load_data_fashion_mnist(batch_size, resize=None):
    """``(train_iter, test_iter)``: shuffled training batches (a new order each
    epoch, the same each run), test batches in order."""
    return _iters(batch_size, resize)


class DataModule(HyperParameters):
    """The 1.0 edition's data base class: ``train_dataloader()`` and
    ``val_dataloader()`` come from ``get_dataloader(train)``."""

    def __init__(self, root="../data", num_workers=4):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)


class FashionMNIST(DataModule):
    """The 1.0 edition's Fashion-MNIST (``num_workers`` is kept but unused)."""

    def __init__(self, batch_size=64, resize=(28, 28)):
        super().__init__()
        self.save_hyperparameters()
        self.train, self.val = _iters(batch_size, resize)

    def text_labels(self, indices):
        return _data.get_fashion_mnist_labels(indices)

    def get_dataloader(self, train):
        return self.train if train else self.val
