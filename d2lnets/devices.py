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
        _set_engine_omp_threads(n)
    _single_threaded_caller()
    return n


def _single_threaded_caller() -> None:
    """One OpenMP thread for the Python thread itself.

    The engine's worker threads run the operators, each with its own OpenMP
    team. Copies made synchronously in the calling thread (``nd.array(numpy)``
    for every batch) would start a second team of spinning threads that fights
    the workers for the cores: LeNet-BN steps were twice as slow.
    """
    import ctypes

    import mxnet as mx
    mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(1))


def _set_engine_omp_threads(n: int) -> bool:
    """Set the thread count MXNet's engine gives its CPU worker threads when they
    start (they start with the first operation on a device).

    libmxnet 1.9.1 exports ``OpenMP::Get`` and ``GetRecommendedOMPThreadCount``
    but not the setter: the cap (``omp_thread_max_``) is the int after the
    ``enabled`` flag. The write is verified through the getter and undone if it
    does not read back.
    """
    import ctypes

    import mxnet as mx
    lib = mx.base._LIB
    try:
        get = lib._ZN5mxnet6engine6OpenMP3GetEv
        count = lib._ZNK5mxnet6engine6OpenMP28GetRecommendedOMPThreadCountEb
    except AttributeError:
        return False
    get.restype = ctypes.c_void_p
    count.argtypes, count.restype = [ctypes.c_void_p, ctypes.c_bool], ctypes.c_int
    engine_omp = get()
    if not engine_omp:
        return False
    # the count is min(the calling thread's OpenMP maximum, omp_thread_max_)
    lib.MXSetNumOMPThreads(ctypes.c_int(n))
    field = ctypes.c_int.from_address(engine_omp + 4)
    before = field.value
    if count(engine_omp, False) not in (before, n):  # not the layout we know: leave it
        return False
    field.value = n
    if count(engine_omp, False) != n:
        field.value = before
        return False
    return True


def try_gpu(i: int = 0):
    """``mx.gpu(i)`` if it exists, else ``mx.cpu()`` (the book's helper)."""
    import mxnet as mx
    return mx.gpu(i) if i < _num_gpus() else mx.cpu()


def _num_gpus() -> int:
    import mxnet as mx
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:  # a CPU-only build
        return 0


def try_all_gpus():
    """Every GPU, or ``[mx.cpu()]`` when there is none (the book's helper)."""
    import mxnet as mx
    return [mx.gpu(i) for i in range(_num_gpus())] or [mx.cpu()]


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
