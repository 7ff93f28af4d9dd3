"""Getting a trained model out of Python: MXNet's symbol + params, and ONNX.

    d2lnets export lenet-bn --params runs/lenet-bn --out exported --onnx

writes ``exported/lenet-bn-symbol.json`` and ``exported/lenet-bn-0000.params``
(``net.export``: loadable with ``gluon.SymbolBlock.imports``, the C++ and Scala
APIs) and, with ``--onnx``, ``exported/lenet-bn.onnx`` with a dynamic batch size.
ONNX export needs ``onnx<=1.18`` (newer onnx removed ``onnx.mapping``, which
MXNet 1.9 imports): ``pip install "d2lnets[export]"``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from mxnet import autograd, nd
from mxnet.base import MXNetError

from .checkpoint import PARAMS, latest_checkpoint
from .errors import ExportError, UsageError, mxnet_reason
from .files import check_writable

__all__ = ["export_model", "load_weights"]


def load_weights(net: Any, path: str | os.PathLike, ctx: Any = None) -> None:
    """Load a ``.params`` file, a checkpoint folder or a run folder (its newest
    checkpoint) into ``net``. Raises :class:`UsageError` when there is none or
    it holds another model's parameters."""
    path = Path(path)
    if path.is_dir():
        ckpt = path if (path / PARAMS).is_file() else latest_checkpoint(path)
        if ckpt is None:
            raise UsageError(f"{path} holds no checkpoint and no {PARAMS}")
        path = ckpt / PARAMS
    if not path.is_file():
        raise UsageError(f"no parameter file {path}")
    try:
        net.load_parameters(str(path), ctx=ctx)
    except (AssertionError, MXNetError) as err:
        raise UsageError(f"{path} does not fit {getattr(net, 'name', 'this model')} "
                         f"({mxnet_reason(err)}); "
                         f"load it into the model it was trained as") from None


def export_model(net: Any, out_dir: str | os.PathLike, name: str,
                 input_shape: tuple[int, int, int], onnx: bool = False) -> dict[str, Path]:
    """Export ``net`` (initialised) for input (batch, C, H, W) = (N,) + ``input_shape``.

    The graph is the prediction-mode graph (moving BN statistics). Returns the
    paths written: ``symbol``, ``params`` and, with ``onnx``, ``onnx``.
    """
    out = Path(out_dir)
    try:  # an existing folder may still be read-only: a file made and removed proves it
        check_writable(out)
    except OSError as err:
        raise ExportError(f"cannot write to --out {out}: {err.strerror or err}; choose a "
                          f"folder you can write") from None
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
            raise ExportError(f"ONNX export needs onnx<=1.18 ({err}): "
                              f"pip install 'd2lnets[export]'") from None
        paths["onnx"] = Path(f"{prefix}.onnx")
        mx_onnx.export_model(str(paths["symbol"]), str(paths["params"]),
                             in_shapes=[(1,) + tuple(input_shape)], in_types=[np.float32],
                             onnx_file_path=str(paths["onnx"]), dynamic=True,
                             dynamic_input_shapes=[(None,) + tuple(input_shape)])
    return paths
