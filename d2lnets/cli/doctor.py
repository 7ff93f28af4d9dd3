"""``d2lnets doctor``: the installation, threads, GPUs, data and disk, and what to fix."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import MXNET_PROBLEM
from ..doctor import diagnose, mirror_reachable

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check the installation and say what to fix",
                       description="Print what is installed and in force; exit 1 with the fix "
                       "for every problem found.")
    p.add_argument("--runs", default="runs", help="where runs are written (default runs/)")
    p.add_argument("--offline", action="store_true",
                   help="do not ask the data mirror whether it can be reached")
    p.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    report = diagnose(MXNET_PROBLEM, Path(args.runs), None if args.offline else mirror_reachable)
    for line in report.lines:
        print(line)
    for what, fix in report.problems:
        print(f"PROBLEM    {what}\n  fix:     {fix}")
    print("ok: nothing to fix" if not report.problems else
          f"{len(report.problems)} problem(s) found")
    return 1 if report.problems else 0
