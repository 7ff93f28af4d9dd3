"""Devices: the book's ``try_gpu`` / ``try_all_gpus`` and CPU thread set-up."""
from __future__ import annotations

import os

__all__ = ["try_gpu", "try_all_gpus", "usable_cores", "configure_cpu_threads", "parse_ctx"]


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads() -> int:
    """Give MXNet one OpenMP thread per usable core unless the user chose.

    MXNet 1.9 runs a single OpenMP thread on a 2-core machine, half the speed
    of the convolutions. OMP_NUM_THREADS is read when libmxnet loads, so this
    sets it before ``import mxnet``; if MXNet was imported already, it asks the
    library directly (MXSetNumOMPThreads). Returns the thread count in force.
    """
    user = os.environ.get("OMP_NUM_THREADS")
    if user:
        return int(user) if user.isdigit() else 0
    n = usable_cores()
    os.environ["OMP_NUM_THREADS"] = str(n)
    import sys
    if "mxnet" in sys.modules:  # loaded before us: the variable came too late
        import ctypes

        from mxnet.base import _LIB, check_call
        check_call(_LIB.MXSetNumOMPThreads(ctypes.c_int(n)))
    return n


def try_gpu(i: int = 0):
    """``mx.gpu(i)`` if it exists, else ``mx.cpu()`` (the book's helper)."""
    import mxnet as mx
    from mxnet import nd
    try:
        ctx = mx.gpu(i)
        nd.zeros((1,), ctx=ctx).wait_to_read()
    except mx.base.MXNetError:
        ctx = mx.cpu()
    return ctx


def try_all_gpus():
    """Every GPU, or ``[mx.cpu()]`` when there is none (the book's helper)."""
    import mxnet as mx
    ctxes = []
    for i in range(mx.context.num_gpus()):
        ctxes.append(mx.gpu(i))
    return ctxes or [mx.cpu()]


def parse_ctx(text: str):
    """'cpu', 'cpu:0,cpu:1', 'gpu:0', 'gpu' (all GPUs) or 'auto' -> list of contexts."""
    import mxnet as mx
    text = text.strip().lower()
    if text in ("", "auto"):
        return try_all_gpus()
    if text == "gpu":
        gpus = [c for c in try_all_gpus() if c.device_type == "gpu"]
        if not gpus:
            raise ValueError("--ctx gpu: no GPU is visible to MXNet (try --ctx cpu)")
        return gpus
    ctxes = []
    for part in text.split(","):
        kind, _, idx = part.strip().partition(":")
        if kind not in ("cpu", "gpu") or (idx and not idx.isdigit()):
            raise ValueError(f"bad context {part!r}: use cpu, cpu:N, gpu:N or a comma list")
        ctxes.append(getattr(mx, kind)(int(idx or 0)))
    return ctxes
