"""``d2lnets doctor``: what is installed, what is in force, and what is wrong.

Every check returns lines to print and the problems it knows, each with its fix
in one line. It must run where MXNet itself cannot (numpy too new, no MXNet,
two builds at once), so what needs MXNet is imported only once MXNet is known
to work.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import _d2lnets_numpy_compat as numpy_compat

from . import builds, threads
from .builds import PIP, VERSION, installed_version, numpy_needs_compat

__all__ = ["Report", "diagnose", "mirror_reachable"]


@dataclass
class Report:
    """Lines to show, and problems as (what is wrong, the fix in one line)."""

    lines: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def say(self, label: str, text: str) -> None:
        self.lines.append(f"{label:<11} {text}")

    def problem(self, what: str, fix: str) -> None:
        self.problems.append((what, fix))


def _packages(report: Report) -> None:
    report.say("python", f"{platform.python_version()} ({sys.executable})")
    _numpy(report)
    needed_by = {"onnx": "only `export --onnx` needs it",
                 "graphviz": "only MXNet's mx.viz.plot_network needs it: pip install "
                             "'graphviz<0.9', and Debian's graphviz to render"}
    for dist in ("matplotlib", "onnx", "graphviz"):
        version = installed_version(dist)
        report.say(dist, version or "not installed"
                   + (f" ({needed_by[dist]})" if dist in needed_by and not version else ""))
    have = builds.installed_mxnet()
    if len(have) > 1:
        report.problem(f"{len(have)} MXNet distributions are installed ({', '.join(have)}): they "
                       f"write the same files", f"pip uninstall -y {' '.join(have)} && make setup")
    elif not have:
        report.problem("MXNet is not installed", f"{PIP} mxnet=={VERSION} (or make setup in a clone)")


def _pth_installed() -> bool:
    """Whether d2lnets' install put ``d2lnets-numpy-compat.pth`` in site-packages."""
    return any(f.name == "d2lnets-numpy-compat.pth"
               for d in importlib.metadata.distributions(name="d2lnets") for f in d.files or [])


def _numpy(report: Report) -> None:
    """numpy, and the names supplied so that MXNet imports under it."""
    numpy = installed_version("numpy")
    if not numpy_needs_compat(numpy):
        report.say("numpy", f"{numpy or 'not installed'} (MXNet imports as it is)")
        return
    applied = numpy_compat.APPLIED
    shown = (f"supplied {len(applied)} names removed from numpy while MXNet imported: "
             f"{' '.join(applied)}" if applied else "MXNet not imported yet")
    pth = "import mxnet works first too" if _pth_installed() else \
        "no d2lnets-numpy-compat.pth: import d2lnets before mxnet"
    report.say("numpy", f"{numpy} ({shown}; {pth})")
    if not numpy_compat.enabled():
        report.problem(f"D2LNETS_NUMPY_COMPAT=0: MXNet 1.9 cannot import with numpy {numpy}",
                       "unset D2LNETS_NUMPY_COMPAT")


def _mxnet(report: Report, problem: Exception | None) -> bool:
    """MXNet's version, distribution and build features; True if it works."""
    if problem is not None:
        report.say("mxnet", "cannot be imported")
        if not any("MXNet" in what or "numpy" in what for what, _ in report.problems):
            report.problem(str(problem).split(". ")[0], str(problem).split(". ", 1)[-1])
        return False
    import mxnet as mx  # known to import now
    names = ", ".join(builds.installed_mxnet()) or "?"
    features = mx.runtime.Features()
    shown = [f"{f}={'yes' if features.is_enabled(f) else 'no'}"
             for f in ("CUDA", "CUDNN", "MKLDNN", "DIST_KVSTORE")]
    report.say("mxnet", f"{mx.__version__} ({names}; {', '.join(shown)})")
    return True


def _gpus(report: Report, mxnet_ok: bool) -> None:
    cuda = builds.driver_cuda_version()
    smi = shutil.which("nvidia-smi")
    listed = 0
    if smi and cuda:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20).stdout
        listed = sum(1 for ln in out.splitlines() if ln.startswith("GPU "))
    if not mxnet_ok:
        report.say("gpus", f"{listed} seen by nvidia-smi" if smi else "no NVIDIA driver")
        return
    import mxnet as mx

    from .devices import num_gpus, try_gpu
    seen = num_gpus()
    report.say("gpus", f"{seen} visible to MXNet, {listed} to nvidia-smi; try_gpu() -> {try_gpu()}")
    if listed and not mx.runtime.Features().is_enabled("CUDA"):
        want = builds.build_for(cuda)
        report.problem(f"nvidia-smi sees {listed} GPU(s) but this MXNet is a CPU build: "
                       f"try_gpu() gives the CPU",
                       f"pip uninstall -y {' '.join(builds.installed_mxnet())} && "
                       f"{PIP} {want}=={VERSION}")


def _threads(report: Report) -> None:
    choice = threads.CHOICE
    quota = threads.cgroup_cpu_limit()
    report.say("threads", f"{choice.threads or 'MXNet default'} OpenMP threads ({choice.reason}); "
               f"usable cores {threads.usable_cores()}, CPU quota "
               f"{'none' if quota is None else f'{quota:g} cores'}")
    if threads.BAD_SETTING:
        report.problem(threads.BAD_SETTING, f"set D2LNETS_THREADS to a count from 1 to "
                       f"{threads.usable_cores()}, or to off, or unset it")


def mirror_reachable() -> bool:
    """Whether Gluon's mirror of Fashion-MNIST answers (asked only when no data is here)."""
    from .data import MIRROR
    try:
        with urllib.request.urlopen(MIRROR + "t10k-labels-idx1-ubyte.gz", timeout=5):
            return True
    except OSError:
        return False


def _data(report: Report, mxnet_ok: bool, probe: Callable[[], bool] | None) -> None:
    if not mxnet_ok:
        return
    from .data import DEBIAN_DIR, DataError, _cache_dir, find_local
    try:
        folder = find_local()
    except DataError as err:
        report.say("data", "broken")
        report.problem(str(err).split(". ")[0], "fix or remove that folder (`make data` gets a new copy)")
        return
    if folder is not None:
        report.say("data", f"Fashion-MNIST in {folder}")
        return
    apt = shutil.which("apt-get") and (os.geteuid() == 0 or shutil.which("sudo"))
    reachable = probe() if probe is not None else None
    where = _cache_dir()
    report.say("data", f"not found; `make data` would use {'apt' if apt else 'the download'}"
               f" ({DEBIAN_DIR}, else {where})")
    if not apt and reachable is False:
        report.problem("Fashion-MNIST is not here and cannot be had (no apt, mirror unreachable)",
                       "copy the four IDX .gz files and set D2LNETS_DATA, or use --data sample "
                       "(the shipped sample, offline)")


def _disk(report: Report, runs: Path) -> None:
    place = runs if runs.exists() else Path.cwd()
    free = shutil.disk_usage(place).free
    report.say("disk", f"{free / 2**30:.1f} GiB free in {place} (runs are written to {runs})")
    if free < 200 << 20:
        report.problem(f"only {free >> 20} MiB free where runs are written",
                       "free some space or pass --out on another disk")


def diagnose(mxnet_problem: Exception | None = None, runs: Path = Path("runs"),
             probe: Callable[[], bool] | None = None) -> Report:
    """Every check, in the order shown; ``probe`` asks whether the data can be
    downloaded (None: not asked)."""
    report = Report()
    _packages(report)
    ok = _mxnet(report, mxnet_problem)
    _threads(report)
    _gpus(report, ok)
    _data(report, ok, probe)
    _disk(report, runs)
    return report
