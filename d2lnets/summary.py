"""``summary``: the book's layer-by-layer shape walk, with parameters and multiply-adds.

It traces each top-level layer symbolically, so it neither runs the network
nor initialises it: an uninitialised net stays uninitialised.
"""
from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import mxnet as mx
import numpy as np

from .errors import UsageError, mxnet_reason

__all__ = ["LayerSummary", "Summary", "summary"]


@dataclass(frozen=True)
class LayerSummary:
    name: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


@dataclass
class Summary:
    input_shape: tuple[int, ...]
    layers: list[LayerSummary] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def __str__(self) -> str:
        rows = [("layer", "output shape", "params", "mult-adds")]
        rows += [(r.name, str(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in self.layers]
        rows.append(("total", str(self.output_shape), f"{self.total_params:,}",
                     f"{self.total_macs:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        a, b, c, d = widths
        fmt = f"{{:<{a}}}  {{:<{b}}}  {{:>{c}}}  {{:>{d}}}"
        rule = "-" * (sum(widths) + 6)
        lines = [f"input shape: {self.input_shape}", fmt.format(*rows[0]), rule]
        lines += [fmt.format(*r) for r in rows[1:-1]] + [rule, fmt.format(*rows[-1])]
        return "\n".join(lines)


Shape = tuple[int, ...]


def _layer_macs(sym: mx.sym.Symbol, input_shape: Shape) -> tuple[Shape, int, dict[str, Shape]]:
    """Output shape, multiply-adds of Convolution/FullyConnected nodes, and argument shapes."""
    internals = sym.get_internals()
    with contextlib.redirect_stdout(io.StringIO()):  # MXNet prints its arguments on a failure
        arg_shapes, out_shapes, _ = internals.infer_shape(data=input_shape)
    if out_shapes is None:
        raise UsageError(f"cannot infer shapes for input {input_shape}")
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    args = dict(zip(internals.list_arguments(), arg_shapes))
    nodes = json.loads(sym.tojson())["nodes"]
    macs = 0
    for node in nodes:
        op = node["op"]
        if op not in ("Convolution", "FullyConnected"):
            continue
        out = shapes[node["name"] + "_output"]
        weight = args[nodes[node["inputs"][1][0]]["name"]]
        if op == "Convolution":
            # each output element: (in_channels / groups) * kernel_h * kernel_w multiply-adds
            macs += int(np.prod(out)) * int(np.prod(weight[1:]))
        else:
            macs += int(out[0]) * int(np.prod(weight))
    y_shape = sym.infer_shape(data=input_shape)[1][0]
    return tuple(y_shape), macs, args


def summary(net: Iterable[Any], input_shape: tuple[int, ...] | None = None,
            print_fn: Any = print) -> Summary:
    """Walk ``net``'s top-level layers as the book does and report each one's
    output shape, trainable parameters and multiply-adds.

    ``input_shape`` includes the batch, e.g. ``(1, 1, 224, 224)``; by default
    it is ``(1,) + net.input_shape`` for d2lnets models. Pass ``print_fn=None``
    to only get the :class:`Summary` back.
    """
    if input_shape is None:
        if not hasattr(net, "input_shape"):
            raise UsageError("summary needs input_shape, e.g. (1, 1, 28, 28)")
        input_shape = (1,) + tuple(net.input_shape)
    if len(input_shape) != 4 or not all(isinstance(s, int) and 0 < s <= 1 << 20
                                        for s in input_shape):
        raise UsageError(f"summary needs a shape of 4 positive whole numbers (batch, channels, "
                         f"height, width), e.g. (1, 1, 28, 28); got {tuple(input_shape)}")
    shape = tuple(int(s) for s in input_shape)
    result = Summary(shape)
    for layer in net:
        if not hasattr(layer, "hybrid_forward"):
            raise TypeError(f"summary traces HybridBlocks; {layer.name} is a "
                            f"{type(layer).__name__}")
        trainable = {p.name for p in layer.collect_params().values() if p.grad_req != "null"}
        sym = layer(mx.sym.var("data"))
        try:
            out, macs, args = _layer_macs(sym, shape)
        except mx.base.MXNetError as err:
            raise UsageError(f"{layer.name} cannot take input of shape {shape}: the image is too "
                             f"small for it (in MXNet's words: {mxnet_reason(err)})") from None
        params = sum(int(np.prod(s)) for n, s in args.items() if n in trainable)
        result.layers.append(LayerSummary(layer.name, out, params, macs))
        shape = out
    if print_fn is not None:
        print_fn(str(result))
    return result
