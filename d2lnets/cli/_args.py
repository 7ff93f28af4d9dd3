"""Argument types shared by the ``d2lnets`` commands."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from ..devices import parse_ctx
from ..errors import UsageError
from ..models import model_info

__all__ = ["out_folder", "number", "positive_int", "non_negative_int", "positive_float",
           "non_negative_float", "model_name", "context"]


def out_folder(text: str) -> str:
    """An ``--out`` folder: a name, not an empty string (which would mean runs/MODEL)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty string")
    return text


def number(cast: type, low: float, inclusive: bool, what: str,
           high: float = math.inf) -> Callable[[str], Any]:
    """An argparse type: a finite ``cast`` number >= ``low`` (> ``low`` if not
    inclusive) and at most ``high``."""
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive) \
                or value > high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value
    return parse


positive_int = number(int, 1, True, "a positive integer")
non_negative_int = number(int, 0, True, "an integer >= 0")
positive_float = number(float, 0.0, False, "a positive finite number")
non_negative_float = number(float, 0.0, True, "a finite number >= 0")


def model_name(text: str) -> str:
    """A registered model's name as typed on the command line (``lenet-bn``)."""
    try:
        return model_info(text).cli_name
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def context(text: str) -> str:
    """A ``--ctx`` value that :func:`parse_ctx` accepts."""
    try:
        parse_ctx(text)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
