"""Getting a trained model out of Python: MXNet's symbol + params, and ONNX.

    d2lnets export lenet-bn --params runs/lenet-bn --out exported --onnx

writes ``exported/lenet-bn-symbol.json`` and ``exported/lenet-bn-0000.params``
(``net.export``: loadable with ``gluon.SymbolBlock.imports``, the C++ and Scala
APIs) and, with ``--onnx``, ``exported/lenet-bn.onnx`` with a dynamic batch size.
ONNX export needs ``onnx<=1.18`` (newer onnx removed ``onnx.mapping``, which
MXNet 1.9 imports): ``pip install "d2lnets[export]"``.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

__all__ = ["export_model", "load_weights", "add_cli"]


def load_weights(net: Any, path: str | os.PathLike, ctx: Any = None) -> None:
    """Load a ``.params`` file, a checkpoint folder or a run folder (its newest
    checkpoint) into ``net``."""
    from .checkpoint import PARAMS, latest_checkpoint
    path = Path(path)
    if path.is_dir():
        ckpt = path if (path / PARAMS).is_file() else latest_checkpoint(path)
        if ckpt is None:
            raise FileNotFoundError(f"{path} holds no checkpoint and no {PARAMS}")
        path = ckpt / PARAMS
    if not path.is_file():
        raise FileNotFoundError(f"no parameter file {path}")
    net.load_parameters(str(path), ctx=ctx)


def export_model(net: Any, out_dir: str | os.PathLike, name: str,
                 input_shape: tuple[int, int, int], onnx: bool = False) -> dict[str, Path]:
    """Export ``net`` (initialised) for input (batch, C, H, W) = (N,) + ``input_shape``.

    The graph is the prediction-mode graph (moving BN statistics). Returns the
    paths written: ``symbol``, ``params`` and, with ``onnx``, ``onnx``.
    """
    import numpy as np
    from mxnet import autograd, nd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / name
    net.hybridize()
    with autograd.predict_mode():
        net(nd.zeros((1,) + tuple(input_shape)))
    net.export(str(prefix))
    paths = {"symbol": Path(f"{prefix}-symbol.json"), "params": Path(f"{prefix}-0000.params")}
    if onnx:
        try:
            import onnx as _onnx  # noqa: F401
            from mxnet import onnx as mx_onnx
        except ImportError as err:
            raise RuntimeError(f"ONNX export needs onnx<=1.18 ({err}): "
                               f"pip install 'd2lnets[export]'") from None
        paths["onnx"] = Path(f"{prefix}.onnx")
        mx_onnx.export_model(str(paths["symbol"]), str(paths["params"]),
                             in_shapes=[(1,) + tuple(input_shape)], in_types=[np.float32],
                             onnx_file_path=str(paths["onnx"]), dynamic=True,
                             dynamic_input_shapes=[(None,) + tuple(input_shape)])
    return paths


def add_cli(sub: Any) -> None:
    from .cli import _model_name, _positive_int
    p = sub.add_parser("export", help="write a model as MXNet symbol/params (and ONNX)")
    p.add_argument("model", type=_model_name)
    p.add_argument("--params", required=True,
                   help="a .params file, a checkpoint folder or a run folder (--out of train)")
    p.add_argument("--out", required=True, help="folder to write to")
    p.add_argument("--onnx", action="store_true", help="also write NAME.onnx (dynamic batch)")
    p.add_argument("--resize", type=_positive_int,
                   help="image side the model takes (default: its training size)")
    p.add_argument("--classes", type=_positive_int, default=10)
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    import sys

    from .models import model_info
    info = model_info(args.model)
    side = args.resize or info.resize or info.input_shape[1]
    net = info.builder(num_classes=args.classes)
    from mxnet.base import MXNetError
    try:
        load_weights(net, args.params)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    except (AssertionError, MXNetError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise ValueError(f"{args.params} does not fit {args.model} ({first}); export the model "
                         f"it was trained as") from None
    paths = export_model(net, args.out, args.model, (1, side, side), onnx=args.onnx)
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0
