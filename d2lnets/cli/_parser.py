"""The parser class of the ``d2lnets`` command and its ``note`` (they import no
MXNet: ``doctor`` needs them where MXNet cannot load)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["Parser", "note", "ClosedSafeStdout"]


def note(msg: str) -> None:
    """A line on stderr; none when the terminal has gone (SIGHUP), and the run goes on."""
    try:
        print(msg, file=sys.stderr, flush=True)
    except OSError:
        pass


class ClosedSafeStdout:
    """``sys.stdout`` for the command: when it is closed under us (``| head -1``)
    or full (``> /dev/full``), its lines are dropped, that is said once on
    stderr, and the run goes on (its figures are in ``history.jsonl``)."""

    def __init__(self, stream: Any):
        self._stream = stream

    def _lost(self, err: OSError) -> None:
        try:  # later flushes, at exit too, go nowhere instead of failing
            self._stream = open(os.devnull, "w")
        except OSError:
            pass
        note(f"d2lnets: standard output cannot be written ({err.strerror or err}); the run "
             f"goes on without its lines on stdout")

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as err:
            self._lost(err)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            self._lost(err)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Parser(argparse.ArgumentParser):
    """exit 2 with the usage line, never a traceback."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
