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
"""
from __future__ import annotations

from typing import Any

from mxnet import nd
from mxnet.optimizer import NAG

from .._mxnet_compat import update_hyperparams

__all__ = ["NesterovSGD"]


class NesterovSGD(NAG):
    """Gluon's ``'nag'`` optimizer with a repeatable update (float32 weights)."""

    def update_multi_precision(self, index: Any, weight: nd.NDArray, grad: nd.NDArray,
                               state: Any) -> None:
        if isinstance(state, (tuple, list)):  # float16 weights with float32 master copies
            super().update_multi_precision(index, weight, grad, state)
        else:
            self.update(index, weight, grad, state)

    def update(self, index: Any, weight: nd.NDArray, grad: nd.NDArray, state: Any) -> None:
        if state is None:  # no momentum: plain SGD
            super().update(index, weight, grad, state)
            return
        lr, wd = update_hyperparams(self, index)
        kwargs = {"lr": lr, "wd": wd, "momentum": self.momentum, "rescale_grad": self.rescale_grad}
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        before = state.copy()
        # SGD momentum (repeats): mom = mu * mom - lr * g; weight += mom
        nd.sgd_mom_update(weight, grad, state, out=weight, **kwargs)
        # Nesterov: weight + mu * mom - lr * g = (weight + mom) + mu * (mom - mom before)
        weight += (state - before) * self.momentum
