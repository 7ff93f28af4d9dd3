"""``Registry``: the named things of d2lnets (models, recipes, exercises), one key style.

A key is the name as the command line types it: lower case, words joined by
``-`` (``lenet-bn``, ``bn-lr``; a model's recipe is ``MODEL/RECIPE``, as
``resnet18-small/long``). A name is found whatever its case, spaces, ``-`` or
``_``; a name registered twice is refused (a second entry would silently
replace the first for every caller), and an unknown one gets the closest names.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import UsageError

__all__ = ["Registry", "key_of"]

T = TypeVar("T")


def key_of(name: str) -> str:
    """The key of a typed name: ``LeNet_BN`` -> ``lenet-bn``."""
    return name.strip().lower().replace("_", "-")


class Registry(Generic[T]):
    """Entries of one kind (``what``: "model"), by key; ``error``: the class
    raised for an unknown name, said as ``unknown`` ("no exercise 'x'"), and
    ``hint``: where the names are listed."""

    def __init__(self, what: str, error: type[UsageError] = UsageError, hint: str = "",
                 unknown: str = "unknown"):
        self.what, self.error, self.hint, self.unknown = what, error, hint, unknown
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        key = key_of(name)
        if key in self._items:
            raise UsageError(f"a {self.what} named {key!r} is registered already; choose "
                             f"another name")
        self._items[key] = item
        return item

    def get(self, name: str) -> T:
        if not isinstance(name, str):
            raise UsageError(f"a {self.what} is named by a string; got {name!r}. {self.hint}")
        key = key_of(name)
        if key not in self._items:
            close = difflib.get_close_matches(key, list(self._items), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.error(f"{self.unknown} {self.what} {name!r}{hint}; choose from "
                             f"{', '.join(self.names())}")
        return self._items[key]

    def names(self) -> list[str]:
        """The keys, in the order they were registered."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and key_of(name) in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())
