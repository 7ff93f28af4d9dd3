"""``d2lnets summary MODEL``: the layer table."""
from __future__ import annotations

import argparse
from typing import Any

from ..models import model_info
from ..summary import summary
from ._args import class_count, image_side, model_name, number

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    s = sub.add_parser("summary", help="print a model's layer table")
    s.add_argument("model", type=model_name)
    s.add_argument("--resize", type=image_side, help="image side (default: the model's)")
    s.add_argument("--channels", type=number(int, 1, True, "a positive integer", 64), default=1)
    s.add_argument("--batch-size", type=number(int, 1, True, "a positive integer", 60_000),
                   default=1)
    s.add_argument("--classes", type=class_count, default=10)
    s.set_defaults(handler=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    net = info.builder(num_classes=args.classes)
    side = args.resize or info.input_shape[1]
    summary(net, (args.batch_size, args.channels, side, side))
    return 0
