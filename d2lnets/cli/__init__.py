"""The ``d2lnets`` command: train a chapter model, and more.

    d2lnets train lenet-bn            # the book's settings: lr 1.0, batch 256, 5 epochs
    d2lnets summary resnet18 --resize 96

stdout carries the book's lines ("training on cpu(0)", "epoch 1, loss ..."); notes
go to stderr. The exit code comes from the error's class alone
(``errors.D2lnetsError.exit_code``): 0 done, 1 a run-time failure, 2 a wrong use,
130 interrupted after a checkpoint. Each command is one module here; the
library never imports this package.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence

from .. import MXNET_PROBLEM
from ..errors import D2lnetsError, TrainingInterrupted
from ..files import new_file
from . import _parser, doctor
from ._parser import note

if MXNET_PROBLEM is None:  # else only doctor can run, to say what is wrong
    from . import exercise, export, launch, models, summary, train

__all__ = ["main", "build_parser"]

COMMANDS = (doctor,) if MXNET_PROBLEM is not None else (train, summary, models, exercise, export,
                                                         launch, doctor)


def build_parser() -> argparse.ArgumentParser:
    p = _parser.Parser(prog="d2lnets", description="Batch norm, ResNet and DenseNet from Dive into "
               "Deep Learning (MXNet), fast and offline.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_parser.Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _bug(err: Exception) -> int:
    """An exception d2lnets did not expect: one line, the traceback in a log file."""
    try:  # a new file: a link planted under a guessable name is never written through
        log = new_file(tempfile.gettempdir(), f"d2lnets-error-{os.getpid()}-", ".log",
                       "".join(traceback.format_exception(err)))
        where = f"the traceback is in {log}"
    except OSError:
        where = "the traceback could not be written"
    note(f"d2lnets: internal error, a bug in d2lnets ({type(err).__name__}: {str(err)[:300]}); "
         f"{where}. Please report it on d2lnets' issue tracker with that file and the command.")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if MXNET_PROBLEM is not None and argv[:1] != ["doctor"]:
        note(f"d2lnets: error: {MXNET_PROBLEM} Run `d2lnets doctor` to see everything it checks.")
        return MXNET_PROBLEM.exit_code
    args = build_parser().parse_args(argv)
    if not isinstance(sys.stdout, _parser.ClosedSafeStdout):
        sys.stdout = _parser.ClosedSafeStdout(sys.stdout)
    try:
        return int(args.handler(args) or 0)
    except TrainingInterrupted as err:
        note(f"d2lnets: {err}")
        return _exit(err.exit_code)
    except D2lnetsError as err:
        note(f"d2lnets: error: {err}")
        return _exit(err.exit_code)
    except KeyboardInterrupt:
        note("d2lnets: interrupted")
        return _exit(TrainingInterrupted.exit_code)
    except Exception as err:  # noqa: BLE001 - the one place a bug meets the user
        return _exit(_bug(err))


def _exit(code: int) -> int:
    """A failing parameter-server worker leaves at once: a normal exit would
    wait in the kvstore's shutdown for peers that wait for it."""
    if os.environ.get("DMLC_ROLE") == "worker" and "DMLC_PS_ROOT_URI" in os.environ:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
