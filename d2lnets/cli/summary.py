"""``d2lnets summary MODEL`` (the layer table) and ``d2lnets models`` (the registry)."""
from __future__ import annotations

import argparse
from typing import Any

from ..models import list_models, model_info
from ..summary import summary
from ._args import model_name, positive_int

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    s = sub.add_parser("summary", help="print a model's layer table")
    s.add_argument("model", type=model_name)
    s.add_argument("--resize", type=positive_int, help="image side (default: the model's)")
    s.add_argument("--channels", type=positive_int, default=1)
    s.add_argument("--batch-size", type=positive_int, default=1)
    s.add_argument("--classes", type=positive_int, default=10)
    s.set_defaults(handler=run_summary)
    sub.add_parser("models", help="list the registered models").set_defaults(handler=run_models)


def run_summary(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    net = info.builder(num_classes=args.classes)
    side = args.resize or info.input_shape[1]
    summary(net, (args.batch_size, args.channels, side, side))
    return 0


def run_models(args: argparse.Namespace) -> int:
    for name in list_models():
        info = model_info(name)
        print(f"{name:<18} {info.doc}")
    return 0
