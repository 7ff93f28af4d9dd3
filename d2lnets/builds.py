"""Which MXNet distribution fits this machine: ``mxnet`` (CPU) or ``mxnet-cuXYZ``.

d2lnets does not require a specific MXNet build (the convention of GluonCV and
d2lzh): requiring ``mxnet`` would make pip install the CPU build beside a
reader's ``mxnet-cu112`` and overwrite its ``mxnet/`` package. ``make setup``
runs this file as a script, before d2lnets is installed, so it imports nothing
of d2lnets and not MXNet:

    python d2lnets/builds.py --dry-run        # the choice and why
    python d2lnets/builds.py --requirement    # what pip should install ('' = keep)

MXNet is always installed with ``pip install --no-deps`` (:data:`PIP`): its
metadata asks for numpy<2, and pip would replace a reader's numpy 2 or, where
no numpy 1 wheel exists (Python 3.13), fail. d2lnets requires MXNet's other
dependencies itself, and ``_d2lnets_numpy_compat`` lets it import.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

__all__ = ["CUDA_BUILDS", "VERSION", "driver_cuda_version", "build_for", "installed_mxnet",
           "choose", "installed_version", "numpy_needs_compat", "explain_import_failure", "PIP"]

#: the CUDA builds of MXNet 1.9.1 on PyPI (cu101 = CUDA 10.1)
CUDA_BUILDS = (101, 102, 110, 112, 113, 114, 115, 116, 117)
VERSION = "1.9.1"
#: how every fix line installs an MXNet build (then the distribution==VERSION)
PIP = "pip install --no-deps"
_DIST = re.compile(r"^mxnet(-cu\d+)?$")


def driver_cuda_version(smi: str = "nvidia-smi") -> tuple[int, int] | None:
    """The highest CUDA version the NVIDIA driver supports, from ``nvidia-smi``
    (None: no driver, or no GPU)."""
    path = shutil.which(smi)
    if path is None:
        return None
    try:
        out = subprocess.run([path], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", out)
    return (int(found[1]), int(found[2])) if found else None


def build_for(cuda: tuple[int, int] | None) -> str:
    """The newest MXNet build the driver can run: a driver runs toolkits up to
    its own CUDA version; none, or older than 10.1, means the CPU build."""
    if cuda is None:
        return "mxnet"
    fits = [b for b in CUDA_BUILDS if b <= cuda[0] * 10 + min(cuda[1], 9)]
    return f"mxnet-cu{fits[-1]}" if fits else "mxnet"


def installed_mxnet() -> list[str]:
    """Every MXNet distribution installed in this environment (normally 0 or 1)."""
    names = {re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "").lower())
             for d in importlib.metadata.distributions()}
    return sorted(n for n in names if _DIST.match(n))


def choose(environ: dict | None = None) -> tuple[str | None, str]:
    """``(distribution to install or None to keep the installed one, why)``."""
    environ = os.environ if environ is None else environ
    if environ.get("MXNET"):
        return environ["MXNET"], "MXNET is set"
    have = installed_mxnet()
    if len(have) == 1:
        return None, f"{have[0]} is installed already: kept"
    cuda = driver_cuda_version()
    dist = build_for(cuda)
    why = (f"nvidia-smi reports a driver for CUDA {cuda[0]}.{cuda[1]}" if cuda
           else "no NVIDIA driver (nvidia-smi)")
    return dist, why


def installed_version(dist: str) -> str | None:
    """A distribution's installed version, without importing it."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def numpy_needs_compat(version: str | None) -> bool:
    """MXNet 1.9 imports under numpy 1.24 and later only with the names
    ``_d2lnets_numpy_compat`` supplies (``np.bool`` went in 1.24, 20 more in 2.0)."""
    if not version:
        return False
    parts = re.findall(r"\d+", version)[:2]
    return tuple(int(p) for p in parts) >= (1, 24)


def explain_import_failure(err: BaseException) -> str:
    """What a failed ``import mxnet`` means, and the fix, in one paragraph."""
    if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] == "mxnet":
        return (f"MXNet is not installed. d2lnets does not pick a build for you: run `make setup` "
                f"in a clone (it picks the build), or {PIP} mxnet=={VERSION} (CPU; "
                f"mxnet-cu112=={VERSION} for CUDA 11.2: use your CUDA version).")
    numpy = installed_version("numpy")
    if isinstance(err, AttributeError) and numpy_needs_compat(numpy):
        if os.environ.get("D2LNETS_NUMPY_COMPAT") == "0":
            return (f"MXNet 1.9 cannot import with numpy {numpy} while D2LNETS_NUMPY_COMPAT=0 "
                    f"turns off the names d2lnets supplies for it ({err}). Fix: unset "
                    f"D2LNETS_NUMPY_COMPAT.")
        return (f"MXNet 1.9 cannot import with numpy {numpy} ({err}): a name it reads is "
                f"missing. Fix: import d2lnets before mxnet, or reinstall d2lnets (pip "
                f"install --force-reinstall --no-deps d2lnets) so that its "
                f"d2lnets-numpy-compat.pth is in place.")
    return f"MXNet failed to import ({type(err).__name__}: {err}). `d2lnets doctor` says more."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the MXNet build for this machine")
    p.add_argument("--dry-run", action="store_true", help="print the choice and why")
    p.add_argument("--requirement", action="store_true", help="print the pip requirement")
    args = p.parse_args(argv)
    have = installed_mxnet()
    if len(have) > 1:
        print(f"two MXNet distributions are installed ({', '.join(have)}): they overwrite each "
              f"other. Fix: pip uninstall -y {' '.join(have)}, then run this again.",
              file=sys.stderr)
        return 1
    dist, why = choose()
    if args.requirement:
        print(f"{dist}=={VERSION}" if dist else "")
    else:
        print(f"{dist or have[0]} ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
