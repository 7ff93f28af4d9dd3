"""``NesterovSGD``: MXNet's NAG update, written so that a run repeats.

MXNet 1.9.1's fused ``nag_mom_update`` gives different weights from run to run
under its threaded engine: the LeNet-BN fast recipe on the sample, at one
OpenMP thread, ended with 3 distinct losses in 6 runs, with or without
checkpoints, and with a fourth under ``NaiveEngine``. SGD with momentum
(``sgd_mom_update``, fused too) always repeats. So the Nesterov step is made
of it and four small operations whose writes the engine orders; it repeats bit
for bit (``tests/test_optimizer.py`` runs it several times and compares) and
costs 3-13% more per step than the fused op (``python bench/optimizer.py``: LeNet-BN
8-13%, the fast recipe's ResNet-18 3-9%, two runs on a noisy 2-core machine).

The update is MXNet's NAG, with ``g = rescale_grad * grad + wd * weight``::

    mom = momentum * mom - lr * g
    weight = weight + momentum * mom - lr * g
          = (weight + mom) + momentum * (mom - mom before)   # sgd_mom_update, then one add

With ``ema`` (Keras's ``use_ema``/``ema_momentum``), each weight's state also
holds its exponential moving average, ``avg = ema * avg + (1 - ema) * weight``
after every step, starting from the initial weight. Being optimizer state, it is
saved with every checkpoint and a resumed run goes on exactly;
:func:`swap_averaged` puts the averages into the net to test it.
"""
from __future__ import annotations

from typing import Any

from mxnet import gluon, nd
from mxnet.optimizer import NAG

from .._mxnet_compat import children_of, saved_names, trainer_params, updaters_of
from ..blocks import BatchNorm

__all__ = ["NesterovSGD", "swap_averaged", "averaged_arrays", "batch_norm_shifts"]


class NesterovSGD(NAG):
    """Gluon's ``'nag'`` optimizer with a repeatable update (float32 weights);
    ``ema`` > 0 keeps a moving average of each weight (module docstring)."""

    def __init__(self, ema: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.ema = float(ema)

    def create_state(self, index: Any, weight: nd.NDArray) -> Any:
        mom = super().create_state(index, weight)
        if not self.ema:
            return mom
        if mom is None:  # no momentum: a zero one changes nothing
            mom = nd.zeros(weight.shape, weight.context, dtype=weight.dtype)
        return mom, weight.copy()

    def _update_impl(self, index: Any, weight: nd.NDArray, grad: nd.NDArray, state: Any,
                     multi_precision: bool = False) -> None:
        average = None
        if self.ema and not multi_precision:
            state, average = state
        if multi_precision or state is None:  # float16 master copies, or no momentum
            super()._update_impl(index, weight, grad, state, multi_precision)
            return
        self._update_count(index)
        kwargs = {"lr": self._get_lr(index), "wd": self._get_wd(index), "momentum": self.momentum,
                  "rescale_grad": self.rescale_grad}
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        before = state.copy()
        # SGD momentum (repeats): mom = mu * mom - lr * g; weight += mom
        nd.sgd_mom_update(weight, grad, state, out=weight, **kwargs)
        # Nesterov: weight + mu * mom - lr * g = (weight + mom) + mu * (mom - mom before)
        weight += (state - before) * self.momentum
        if average is not None:
            average *= self.ema
            average += weight * (1.0 - self.ema)


def _averages(trainer: gluon.Trainer, index: int) -> list[nd.NDArray]:
    """The moving averages of parameter ``index``, one per updater (none without ``ema``)."""
    states = [u.states.get(index) for u in updaters_of(trainer)]
    return [s[1] for s in states if isinstance(s, tuple) and len(s) == 2]


def swap_averaged(trainer: gluon.Trainer) -> bool:
    """Exchange the trainer's parameters with their moving averages, on every
    device (twice puts everything back); False when nothing is averaged."""
    swapped = False
    for i, param in enumerate(trainer_params(trainer)):
        averages = _averages(trainer, i)
        if not averages:
            continue
        data = param.list_data()
        weights = [w.copy() for w in data]
        for j, w in enumerate(data):
            averages[min(j, len(averages) - 1)].copyto(w)
        for j, avg in enumerate(averages):
            weights[j].copyto(avg)
        swapped = True
    return swapped


def averaged_arrays(net: Any, trainer: gluon.Trainer) -> dict[str, nd.NDArray] | None:
    """``net``'s parameters as ``net.save_parameters`` names them, each trained
    one replaced by its moving average (None when nothing is averaged)."""
    index = {id(p): i for i, p in enumerate(trainer_params(trainer))}
    arrays, any_average = {}, False
    for name, param in saved_names(net).items():
        averages = _averages(trainer, index[id(param)]) if id(param) in index else []
        any_average |= bool(averages)
        arrays[name] = averages[0] if averages else param.data()
    return arrays if any_average else None


def batch_norm_shifts(block: Any) -> list[gluon.Parameter]:
    """The shift (``beta``) of every batch normalisation layer in ``block``, Gluon's
    and the chapter's own: what ``--bn-bias-lr`` gives its learning rate to."""
    found = [block.beta] if isinstance(block, (gluon.nn.BatchNorm, BatchNorm)) else []
    for child in children_of(block):
        found += batch_norm_shifts(child)
    return found
