"""``NesterovSGD``: MXNet's NAG update, written so that a run repeats.

MXNet 1.9.1's fused ``nag_mom_update`` gives different weights from run to run
under its threaded engine: the LeNet-BN fast recipe on the sample, at one
OpenMP thread, ended with 3 distinct losses in 6 runs, with or without
checkpoints, and with a fourth under ``NaiveEngine``. SGD with momentum
(``sgd_mom_update``, fused too) always repeats. The same Nesterov update, made
of in-place NDArray operations whose writes the engine orders, repeats bit for
bit and gives the ``NaiveEngine`` figure under either engine
(``tests/test_optimizer.py`` runs it several times and compares).

The update is MXNet's NAG, with ``g = rescale_grad * grad + wd * weight``::

    mom = momentum * mom - lr * g
    weight = weight + momentum * mom - lr * g
"""
from __future__ import annotations

from typing import Any

from mxnet import nd
from mxnet.optimizer import NAG

__all__ = ["NesterovSGD"]


class NesterovSGD(NAG):
    """Gluon's ``'nag'`` optimizer with a repeatable update (float32 weights)."""

    def _update_impl(self, index: Any, weight: nd.NDArray, grad: nd.NDArray, state: Any,
                     multi_precision: bool = False) -> None:
        if multi_precision or state is None:  # float16 master copies, or no momentum
            super()._update_impl(index, weight, grad, state, multi_precision)
            return
        self._update_count(index)
        lr, wd, mu = self._get_lr(index), self._get_wd(index), self.momentum
        g = grad * self.rescale_grad
        if self.clip_gradient:
            g = nd.clip(g, -self.clip_gradient, self.clip_gradient)
        if wd:
            g += wd * weight
        state *= mu
        state -= lr * g
        weight += mu * state - lr * g
