"""Argument types shared by the ``d2lnets`` commands."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from ..config import MAX_SIDE
from ..devices import parse_ctx
from ..errors import UsageError
from ..models import model_info

__all__ = ["out_folder", "checked", "number", "positive_int", "positive_float", "image_side",
           "class_count", "model_name", "context"]


def out_folder(text: str) -> str:
    """An ``--out`` folder: a name, not an empty string (which would mean runs/MODEL)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty string")
    return text


def checked(cast: type, what: str, check: Callable[[Any], str | None]) -> Callable[[str], Any]:
    """An argparse type: ``text`` cast to ``cast``, then ``check(value)`` says what
    a valid value is if this one is not (None: valid)."""
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        want = check(value)
        if want is not None:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text}")
        return value
    return parse


def number(cast: type, low: float, inclusive: bool, what: str,
           high: float = math.inf) -> Callable[[str], Any]:
    """An argparse type: a finite ``cast`` number >= ``low`` (> ``low`` if not
    inclusive) and at most ``high``."""
    def check(value: Any) -> str | None:
        bad = not math.isfinite(value) or value < low or (value == low and not inclusive) \
            or value > high
        return what if bad else None
    return checked(cast, what, check)


positive_int = number(int, 1, True, "a positive integer")
positive_float = number(float, 0.0, False, "a positive finite number")
#: an image side (summary, export), bounded as RunConfig's resize
image_side = number(int, 1, True, f"a positive integer (an image side, at most {MAX_SIDE})",
                    MAX_SIDE)
#: a number of classes: each one is a row of the last layer's weights
class_count = number(int, 1, True, "a positive integer (a class count, at most 100000)", 100_000)


def model_name(text: str) -> str:
    """A registered model's name as typed on the command line (``lenet-bn``)."""
    try:
        return model_info(text).name
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def context(text: str) -> str:
    """A ``--ctx`` value that :func:`parse_ctx` accepts."""
    try:
        parse_ctx(text)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
