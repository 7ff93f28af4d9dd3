"""Hybridization that respects training and prediction mode.

Gluon traces a HybridBlock once and reuses that graph. Layers whose graph
depends on ``autograd.is_training()`` at trace time (the chapter's from-scratch
``batch_norm``) would then be frozen in whichever mode ran first. The blocks
here keep one cached graph per mode, and let a layer ask for a state update
(the moving mean and variance) that is computed inside the graph and written
back to its Parameter after every call, as ``nn.BatchNorm`` does with its
auxiliary states. The mechanism overrides Gluon's private cache hooks, so it
lives in ``_mxnet_compat`` with MXNet's other internals.
"""
from __future__ import annotations

from mxnet.gluon import HybridBlock as _GluonHybridBlock
from mxnet.gluon import nn

from ._mxnet_compat import ModeAwareMixin, request_state_update

__all__ = ["HybridBlock", "HybridSequential", "ModeAwareMixin", "request_state_update"]


class HybridBlock(ModeAwareMixin, _GluonHybridBlock):
    """Gluon HybridBlock with a graph per mode; base of every d2lnets block."""


class HybridSequential(ModeAwareMixin, nn.HybridSequential):
    """Gluon HybridSequential with a graph per mode."""
