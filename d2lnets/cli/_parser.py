"""The parser class of the ``d2lnets`` command (imports no MXNet: ``doctor`` needs it)."""
from __future__ import annotations

import argparse
import sys

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    """exit 2 with the usage line, never a traceback."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
