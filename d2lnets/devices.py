"""Devices: the book's ``try_gpu`` / ``try_all_gpus`` and ``--ctx`` parsing."""
from __future__ import annotations

import mxnet as mx

from .errors import UsageError

__all__ = ["try_gpu", "try_all_gpus", "num_gpus", "parse_ctx", "MAX_CPU_INDEX"]

#: the highest ``cpu:N``. MXNet's CPU contexts are names for the same CPU (two of
#: them test the multi-device code), and Gluon allocates a slot for every index up
#: to the highest one named: ``cpu:99999999999999999999`` took all 24 GB.
MAX_CPU_INDEX = 63


def num_gpus() -> int:
    """GPUs visible to MXNet (0 on a CPU-only build)."""
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:  # a CPU-only build
        return 0


def try_gpu(i: int = 0) -> mx.Context:
    """``mx.gpu(i)`` if it exists, else ``mx.cpu()`` (the book's helper)."""
    return mx.gpu(i) if i < num_gpus() else mx.cpu()


def try_all_gpus() -> list[mx.Context]:
    """Every GPU, or ``[mx.cpu()]`` when there is none (the book's helper)."""
    return [mx.gpu(i) for i in range(num_gpus())] or [mx.cpu()]


def parse_ctx(text: str) -> list[mx.Context]:
    """'cpu', 'cpu:0,cpu:1', 'gpu:0', 'gpu' (all GPUs) or 'auto' (the book's
    ``try_gpu()``, the default device everywhere) -> list of contexts.

    Raises :class:`UsageError` for a malformed entry, a repeated context, or a
    GPU that MXNet does not see.
    """
    text = text.strip().lower()
    if text in ("", "auto"):
        return [try_gpu()]
    gpus = num_gpus()
    if text == "gpu":
        if not gpus:
            raise UsageError("--ctx gpu: no GPU is visible to MXNet (try --ctx cpu; "
                             "`d2lnets doctor` says why)")
        return [mx.gpu(i) for i in range(gpus)]
    ctxes = []
    for part in text.split(","):
        kind, _, idx = part.strip().partition(":")
        if kind not in ("cpu", "gpu") or (idx and not idx.isdigit()):
            raise UsageError(f"bad context {part!r}: use cpu, cpu:N, gpu:N or a comma list")
        index = int(idx or 0)
        if kind == "cpu" and index > MAX_CPU_INDEX:
            raise UsageError(f"--ctx {part}: a CPU context index is at most {MAX_CPU_INDEX} "
                             f"(cpu:0,cpu:1 splits each batch over two, as over two GPUs)")
        if kind == "gpu" and index >= gpus:
            raise UsageError(f"--ctx {part}: MXNet sees {gpus} GPU(s) (try --ctx cpu; "
                             f"`d2lnets doctor` says why)")
        ctx = getattr(mx, kind)(index)
        if ctx in ctxes:
            raise UsageError(f"--ctx names {ctx} twice: list each device once")
        ctxes.append(ctx)
    return ctxes
