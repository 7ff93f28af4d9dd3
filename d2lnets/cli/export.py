"""``d2lnets export MODEL --params RUN --out DIR [--onnx]``."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..export import export_model, load_weights
from ..models import model_info
from ._args import class_count, image_side, model_name

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write a model as MXNet symbol/params (and ONNX)")
    p.add_argument("model", type=model_name)
    p.add_argument("--params", required=True,
                   help="a .params file, a checkpoint folder or a run folder (--out of train)")
    p.add_argument("--out", required=True, help="folder to write to")
    p.add_argument("--onnx", action="store_true", help="also write NAME.onnx (dynamic batch)")
    p.add_argument("--resize", type=image_side,
                   help="image side the model takes (default: its training size)")
    p.add_argument("--classes", type=class_count, default=10)
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    side = args.resize or info.input_shape[1]
    net = info.builder(num_classes=args.classes)
    load_weights(net, args.params)
    paths = export_model(net, args.out, args.model, (1, side, side), onnx=args.onnx)
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0
