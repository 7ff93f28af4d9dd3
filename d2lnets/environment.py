"""The environment variables MXNet and OpenMP read when they load, checked
before they do: libmxnet aborts (exit 134) on a number it cannot parse, a
worker count below 1 hangs it, and libgomp fails to start thousands of threads.
A bad value becomes one :class:`~d2lnets.errors.BadEnvironment` naming the
variable, the value and what to set."""
from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import BadEnvironment

__all__ = ["check_environment", "MAX_OMP_THREADS", "ENGINES"]

#: MXNet's engines (``MXNET_ENGINE_TYPE``)
ENGINES = ("NaiveEngine", "ThreadedEngine", "ThreadedEnginePerDevice")
#: the most OpenMP threads asked for: libgomp could not create 5,000 here
MAX_OMP_THREADS = max(64, 8 * (os.cpu_count() or 1))
#: counts of threads: a whole number from 1 (D2LNETS_THREADS is d2lnets' own: a bad value
#: is passed over for the thread policy and said, see threads.py)
THREAD_COUNTS = ("OMP_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS",
                 "MXNET_CPU_PRIORITY_NTHREADS", "MXNET_GPU_WORKER_NTHREADS",
                 "MXNET_GPU_COPY_NTHREADS", "MXNET_OMP_MAX_THREADS",
                 "MXNET_KVSTORE_REDUCTION_NTHREADS", "MXNET_MP_WORKER_NTHREADS",
                 "MXNET_MP_OPENCV_NUM_THREADS")
#: MXNet variables read as text, not as numbers
TEXT = ("MXNET_ENGINE_TYPE", "MXNET_SUBGRAPH_BACKEND", "MXNET_USE_OPERATOR_TUNING",
        "MXNET_TUNING_WEIGHT_SCALE", "MXNET_C_API", "MXNET_HOME", "MXNET_LIBRARY_PATH",
        "MXNET_PROFILER_MODE", "MXNET_CUDNN_AUTOTUNE_DEFAULT")


def _is_int(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isascii() and body.isdigit()


def _count_problem(name: str, value: str) -> str | None:
    if not _is_int(value.strip()) or int(value) < 1:
        return "is not a count of threads (a whole number from 1)"
    if name == "OMP_NUM_THREADS" and int(value) > MAX_OMP_THREADS:
        return f"asks for more threads than OpenMP can start here (at most {MAX_OMP_THREADS})"
    return None


def _problem(name: str, value: str) -> str | None:
    if name in THREAD_COUNTS:
        return _count_problem(name, value)
    if name == "MXNET_ENGINE_TYPE":
        return None if value in ENGINES else f"is not an engine ({', '.join(ENGINES)})"
    if name.startswith("MXNET_") and name not in TEXT:
        ok = _is_int(value.strip()) or value.strip().lower() in ("true", "false")
        return None if ok else "is not a number, and MXNet reads it as one"
    return None


def check_environment(env: Mapping[str, str] = os.environ) -> None:
    """Raise :class:`BadEnvironment` for the first variable MXNet or OpenMP
    cannot use; set but empty counts as unset."""
    for name in sorted(n for n in env if n in THREAD_COUNTS or n.startswith("MXNET_")):
        value = env[name]
        if value == "":
            continue
        why = _problem(name, value)
        if why:
            raise BadEnvironment(f"the environment variable {name}={value[:40]!r} {why}. "
                                 f"Set it right or unset it (`unset {name}`), then run again.")
