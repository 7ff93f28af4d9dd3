"""The 1.0 edition's two small tools for writing classes in a notebook."""
from __future__ import annotations

import inspect
from typing import Callable

__all__ = ["HyperParameters", "add_to_class"]


def add_to_class(Class: type) -> Callable[[Callable], None]:
    """``@add_to_class(C)`` above a function makes it a method of ``C``."""
    def wrapper(obj: Callable) -> None:
        setattr(Class, obj.__name__, obj)
    return wrapper


class HyperParameters:
    """``self.save_hyperparameters()`` in ``__init__`` keeps every argument of
    that ``__init__`` as an attribute, and all of them in ``self.hparams``."""

    def save_hyperparameters(self, ignore=[]):  # noqa: B006 - d2l's signature; never changed
        frame = inspect.currentframe().f_back
        _, _, _, local_vars = inspect.getargvalues(frame)
        skip = set(ignore) | {"self"}
        self.hparams = {k: v for k, v in local_vars.items()
                        if k not in skip and not k.startswith("_")}
        for k, v in self.hparams.items():
            setattr(self, k, v)
