"""``d2lnets models``: every registered model, one line each."""
from __future__ import annotations

import argparse
from typing import Any

from ..models import list_models, model_info

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    sub.add_parser("models", help="list the registered models").set_defaults(handler=run_models)


def run_models(args: argparse.Namespace) -> int:
    for name in list_models():
        info = model_info(name)
        print(f"{name:<18} {info.doc}")
    return 0
