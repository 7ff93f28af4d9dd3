"""``d2lnets exercise list`` and ``d2lnets exercise run NAME``: the chapter's
exercises, answered by experiment (``d2lnets/exercises/``)."""
from __future__ import annotations

import argparse
import os
import time
from typing import Any

from ..devices import parse_ctx
from ..errors import UsageError
from ..exercises import get_exercise, list_exercises, run_exercise
from ..exercises.registry import SECTIONS
from ._args import context, number, out_folder
from ._parser import note

__all__ = ["add_parser"]


def _exercise_name(text: str) -> str:
    try:
        return get_exercise(text).name
    except UsageError as err:  # it names the exercises to choose from
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(sub: Any) -> None:
    e = sub.add_parser("exercise", help="the chapter's exercises, answered by experiment")
    cmds = e.add_subparsers(dest="action", metavar="ACTION", parser_class=type(e))
    cmds.required = True
    ls = cmds.add_parser("list", help="every exercise: name, question, default minutes")
    ls.set_defaults(handler=run_list)
    r = cmds.add_parser("run", help="run one exercise and write its folder")
    r.add_argument("name", type=_exercise_name)
    r.add_argument("--seeds", type=number(int, 1, True, "a whole number from 1 to 20", 20),
                   help="seeds per variant of an exercise that trains (default 3; --quick: 1)")
    r.add_argument("--quick", action="store_true",
                   help="seconds: the shipped sample, one epoch (D2LNETS_QUICK=1 does the same)")
    r.add_argument("--out", type=out_folder, help="the folder (default runs/exercises/NAME)")
    r.add_argument("--ctx", type=context, default="auto", help="cpu, gpu(0), cpu(0),cpu(1), auto")
    r.set_defaults(handler=run_one)


def run_list(args: argparse.Namespace) -> int:
    for section in SECTIONS:
        for ex in list_exercises(section):
            kind = "trains" if ex.trains else "counts"
            print(f"{ex.number:>2}  {ex.name:<16} {section:<11} {kind:<7} "
                  f"~{ex.minutes:g} min  {ex.question}")
    return 0


def run_one(args: argparse.Namespace) -> int:
    quick = args.quick or os.environ.get("D2LNETS_QUICK", "") not in ("", "0")
    out = args.out or os.path.join("runs", "exercises", args.name)
    ex = get_exercise(args.name)
    note(f"d2lnets: exercise {ex.number}, {ex.name}{' (quick)' if quick else ''}: "
         f"{ex.question} Out {out}.")
    start = time.time()
    result = run_exercise(args.name, out, args.seeds, quick, parse_ctx(args.ctx), log=note)
    print(result.table())
    print()
    print(result.answer)
    note(f"d2lnets: {time.time() - start:.0f} s; result.json and answer.md in {out}")
    return 0
