"""How many OpenMP threads MXNet gets, decided before MXNet loads.

MXNet 1.9 runs one OpenMP thread on a 2-core machine, half the speed of the
convolutions. ``import d2lnets`` therefore sets ``OMP_NUM_THREADS`` to the
cores this process may really use: its affinity mask, capped by the cgroup CPU
quota (a container's ``--cpus``), rounded down, less the cores other busy
processes hold at that moment, at least 1. The user's own ``OMP_NUM_THREADS``
always wins; ``D2LNETS_THREADS=<n>`` sets the count and ``D2LNETS_THREADS=off``
leaves MXNet's default alone.

Why the busy cores count: an OpenMP team is as fast as its slowest thread. With
one other busy process on 2 cores, a team of 2 keeps waiting at its barriers for
the member the kernel has descheduled, and ResNet-18 ran at 0.3x its quiet speed
(0.6x the book's single thread); passive waiting (``OMP_WAIT_POLICY``) and
shorter spinning (``GOMP_SPINCOUNT``) recovered almost none of it (see
docs/benchmarks.md). oneDNN fixes a primitive's thread count when it creates it,
so the count cannot follow the load during a run: it is decided at import.

This module must not import MXNet at its top: the variable is read when
libmxnet loads. If MXNet was imported first, the engine's cap is written
directly (see ``_mxnet_compat``).
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .environment import check_environment

__all__ = ["usable_cores", "cgroup_cpu_limit", "busy_cores", "configure_cpu_threads",
           "user_set", "use",
           "ThreadChoice", "CHOICE"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class ThreadChoice:
    """The thread count in force and why (for ``d2lnets doctor``)."""

    threads: int | None
    reason: str


#: what :func:`configure_cpu_threads` decided in this process
CHOICE = ThreadChoice(None, "not configured")
#: why ``D2LNETS_THREADS`` was not used as given (``d2lnets doctor`` names it), or None
BAD_SETTING: str | None = None


def _affinity() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _own_cgroups(proc_file: Path) -> dict[str, str]:
    """controller -> cgroup path of this process ('' for cgroup v2's unified line)."""
    groups = {}
    try:
        lines = proc_file.read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                groups[controller] = parts[2]
    return groups


def _quota_v1(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v2(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return int(quota) / int(period) if quota != "max" and int(period) > 0 else None
    except (OSError, ValueError):
        return None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_file: Path = Path("/proc/self/cgroup")
                     ) -> float | None:
    """The tightest CPU quota (in cores) on this process's cgroup and its
    ancestors, v1 (``cpu.cfs_quota_us``) or v2 (``cpu.max``); None if unlimited."""
    groups = _own_cgroups(proc_file)
    limits = []
    for controller, reader in (("cpu", _quota_v1), ("", _quota_v2)):
        path = groups.get(controller)
        if path is None:
            continue
        base = root / ("cpu" if controller == "cpu" and (root / "cpu").is_dir() else "")
        folder = base / path.lstrip("/")
        while True:
            limit = reader(folder)
            if limit is not None:
                limits.append(limit)
            if folder == base or folder.parent == folder:
                break
            folder = folder.parent
    return min(limits) if limits else None


def _procs_running(stat: Path = Path("/proc/stat")) -> int | None:
    try:
        for line in stat.read_text().splitlines():
            if line.startswith("procs_running "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def busy_cores(samples: int = 5, interval: float = 0.04, stat: Path = Path("/proc/stat")) -> int:
    """Cores other processes keep busy now: the machine's runnable tasks less
    this one, the median of a few samples (0 if it cannot tell). Only meaningful
    when this process may use every core (no narrower affinity mask)."""
    seen = []
    for i in range(samples):
        n = _procs_running(stat)
        if n is None:
            return 0
        seen.append(max(0, n - 1))  # the reading thread itself is running
        if i + 1 < samples:
            time.sleep(interval)
    return sorted(seen)[len(seen) // 2]


def usable_cores() -> int:
    """Cores this process may really use: the affinity mask, capped by the
    cgroup CPU quota rounded down, at least 1."""
    n = _affinity()
    quota = cgroup_cpu_limit()
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return n


def configure_cpu_threads() -> int | None:
    """Set MXNet's OpenMP threads by the policy above; return the count (None: MXNet's own)."""
    global CHOICE
    check_environment()  # before MXNet and libgomp read it
    user = os.environ.get("OMP_NUM_THREADS")
    mine = os.environ.get("D2LNETS_THREADS", "").strip().lower()
    if user:
        CHOICE = ThreadChoice(int(user), "OMP_NUM_THREADS set by you")
        return CHOICE.threads
    if mine == "off":
        CHOICE = ThreadChoice(None, "D2LNETS_THREADS=off: MXNet's default")
        return None
    n, why = _from_setting(mine) if mine else _policy()
    if BAD_SETTING:
        warnings.warn(BAD_SETTING, RuntimeWarning, stacklevel=2)
    loaded_before = "mxnet" in sys.modules  # then the variable comes too late
    os.environ["OMP_NUM_THREADS"] = str(n)
    CHOICE = ThreadChoice(n, why)
    from . import _mxnet_compat  # loads MXNet: only now that the variable is set
    if loaded_before:
        _mxnet_compat.set_engine_omp_threads(n)
    # one thread for the Python thread itself: its per-batch copies would
    # otherwise start a second spinning team that fights the engine's workers
    _mxnet_compat.set_caller_omp_threads(1)
    return n


def user_set() -> bool:
    """Whether the user chose the count (``OMP_NUM_THREADS`` of their own, or
    ``D2LNETS_THREADS``), rather than the policy."""
    return CHOICE.reason.startswith(("OMP_NUM_THREADS", "D2LNETS_THREADS"))


def use(n: int, why: str) -> None:
    """Give MXNet's engine ``n`` threads from now on (before its first operation
    on a device: the workers take the count when they start)."""
    global CHOICE
    from . import _mxnet_compat
    os.environ["OMP_NUM_THREADS"] = str(n)
    if _mxnet_compat.set_engine_omp_threads(n):
        CHOICE = ThreadChoice(n, why)


def _from_setting(text: str) -> tuple[int, str]:
    """``D2LNETS_THREADS`` as a count, capped at the usable cores; a value that is
    no count falls back to the policy, and both are said (:data:`BAD_SETTING`)."""
    global BAD_SETTING
    usable = usable_cores()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        BAD_SETTING = (f"D2LNETS_THREADS={text!r} is neither a count of threads (1 to "
                       f"{usable}) nor 'off': ignored")
        n, why = _policy()
        return n, f"{why}; {BAD_SETTING}"
    if int(text) > usable:  # more would only make the team wait for itself (1000 aborted MXNet)
        BAD_SETTING = f"D2LNETS_THREADS={text} is more than the {usable} usable cores: capped"
        return usable, BAD_SETTING
    return int(text), "D2LNETS_THREADS"


def _policy() -> tuple[int, str]:
    """(threads, why): usable cores less the ones other processes keep busy."""
    quota, affinity = cgroup_cpu_limit(), _affinity()
    n = usable_cores()
    why = (f"cgroup CPU quota {quota:g} cores (affinity {affinity})"
           if quota is not None and math.floor(quota) < affinity
           else f"{affinity} cores in the affinity mask")
    if n > 1 and affinity == (os.cpu_count() or affinity):
        busy = busy_cores()
        if busy and n - busy < n:
            n = max(1, n - busy)
            why += f", {busy} busy with other processes"
    return n, why
