"""``HistoryWriter``: ``history.jsonl`` and ``curves.png`` in the run folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ...plotting import plot_history
from .base import Callback

__all__ = ["HistoryWriter"]


class HistoryWriter(Callback):
    """Rewrites the history and the curves after every epoch. They are
    conveniences (the checkpoint holds the history too), so a failure to write
    them is a warning, not an error."""

    def __init__(self, out_dir: str | os.PathLike, plot: bool = True):
        self.out, self.plot = Path(out_dir), plot

    def on_epoch_end(self, run: Any, row: dict) -> None:
        try:
            run.history.write_jsonl(self.out / "history.jsonl")
            if self.plot:
                plot_history(run.history, self.out / "curves.png")
        except OSError as err:
            print(f"d2lnets: warning: could not write history/curves in {self.out}: {err}",
                  file=sys.stderr)
