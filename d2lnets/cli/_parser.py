"""The parser class of the ``d2lnets`` command and its ``note`` (they import no
MXNet: ``doctor`` needs them where MXNet cannot load)."""
from __future__ import annotations

import argparse
import sys

__all__ = ["Parser", "note"]


def note(msg: str) -> None:
    """A line on stderr; none when the terminal has gone (SIGHUP), and the run goes on."""
    try:
        print(msg, file=sys.stderr, flush=True)
    except OSError:
        pass


class Parser(argparse.ArgumentParser):
    """exit 2 with the usage line, never a traceback."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
