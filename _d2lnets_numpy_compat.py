"""Lets MXNet 1.9.1 import under any numpy from 1.21 to 2.x.

MXNet 1.9.1 is the last release. While it imports it reads numpy names that
numpy 1.24 (``bool``) and 2.0 (the 20 in :data:`ALIASES` and
:data:`STAND_INS`) removed. :func:`install` puts a finder on ``sys.meta_path``
that waits for ``import mxnet``. Then, and only then, it imports numpy and
supplies the missing names, lets MXNet import, and takes them away again. The
exception is ``bool``: MXNet's ``mx.np`` reads it at run time, and numpy 2 has
it again as ``numpy.bool_``, so it stays. Names numpy has are never touched.

This is a top-level module, not part of the ``d2lnets`` package, because
``d2lnets-numpy-compat.pth`` (installed with d2lnets, as setuptools installs
its ``distutils`` shim) imports it at every interpreter start. ``import mxnet``
then works with or without ``import d2lnets`` before it, in any order.
Importing the ``d2lnets`` package installs it too, for a kernel that started
before d2lnets was installed. It is stdlib only and imports numpy only when
MXNet is imported. ``D2LNETS_NUMPY_COMPAT=0`` turns it off.
"""
from __future__ import annotations

import os
import sys

# Only os and sys at the top: this runs at every interpreter start. The rest is
# imported when MXNet is, and the annotations below are never evaluated.

__all__ = ["ALIASES", "STAND_INS", "APPLIED", "install", "enabled", "supply", "withdraw"]

#: removed name -> the numpy attribute (a str) or the value (a float) it stood for
ALIASES: dict[str, object] = {
    "bool": "bool_",
    "PZERO": 0.0, "NZERO": -0.0, "PINF": float("inf"), "NINF": float("-inf"), "Inf": float("inf"),
    "NAN": float("nan"), "NaN": float("nan"),
    "alltrue": "all", "sometrue": "any", "product": "prod", "round_": "round",
    "in1d": "isin", "trapz": "trapezoid", "msort": "sort",
}
#: numpy 1.20 moved these to numpy_financial; MXNet only re-exports them
STAND_INS = ("mirr", "npv", "pmt", "ppmt", "pv", "rate")
#: names that stay after MXNet's import (read at run time by ``mx.np``)
KEPT = ("bool",)
#: the names this process supplied, in order (``d2lnets doctor`` shows them)
APPLIED: list[str] = []


def enabled(environ: dict | None = None) -> bool:
    """Off only when ``D2LNETS_NUMPY_COMPAT=0``."""
    return (os.environ if environ is None else environ).get("D2LNETS_NUMPY_COMPAT", "1") != "0"


def _stand_in(name: str):
    def removed(*args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            f"numpy.{name} was removed in numpy 2.0 (it lives in the numpy_financial package); "
            f"d2lnets supplied this stand-in only so that MXNet 1.9.1 can import")
    removed.__name__ = name
    return removed


def _value(numpy: object, name: str) -> object:
    if name in STAND_INS:
        return _stand_in(name)
    alias = ALIASES[name]
    if alias == "sort":  # msort(a) was sort(a, axis=0)
        return lambda a: numpy.sort(a, axis=0)
    if alias == "isin":  # in1d flattened its first argument
        return lambda a, b, **kw: numpy.isin(numpy.ravel(a), b, **kw)
    return getattr(numpy, alias) if isinstance(alias, str) else alias


def _lacks(numpy: object, name: str) -> bool:
    """numpy 1.20-1.23 still give the deprecated names through a warning."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(numpy, name)
        except AttributeError:
            return True
    return False


def supply(numpy: object) -> list[str]:
    """Set every name of :data:`ALIASES` and :data:`STAND_INS` that ``numpy``
    lacks; returns the names set."""
    added = []
    for name in (*ALIASES, *STAND_INS):
        if _lacks(numpy, name):
            setattr(numpy, name, _value(numpy, name))
            added.append(name)
    return added


def withdraw(numpy: object, names: list[str]) -> None:
    """Remove the supplied names again, but :data:`KEPT`."""
    for name in names:
        if name not in KEPT:
            numpy.__dict__.pop(name, None)


class _SupplyingLoader:
    """MXNet's own loader, with numpy's missing names present while it runs."""

    def __init__(self, loader: object) -> None:
        self._loader = loader

    def create_module(self, spec: object) -> object:
        return self._loader.create_module(spec)

    def exec_module(self, module: object) -> None:
        import numpy

        added = supply(numpy)
        APPLIED.extend(added)
        try:
            self._loader.exec_module(module)
        finally:
            withdraw(numpy, added)

    def __getattr__(self, name: str) -> object:  # get_data, get_resource_reader, ...
        return getattr(self._loader, name)


class _MXNetFinder:
    """Steps in once, for the top-level ``mxnet`` package."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if fullname != "mxnet":
            return None
        from importlib.util import find_spec
        sys.meta_path.remove(self)
        spec = find_spec("mxnet")
        if spec is not None and spec.loader is not None:
            spec.loader = _SupplyingLoader(spec.loader)
        return spec


def install() -> None:
    """Watch for ``import mxnet`` (no-op when off, already on, or MXNet loaded)."""
    if not enabled() or "mxnet" in sys.modules:
        return
    if not any(isinstance(f, _MXNetFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MXNetFinder())
