"""``History``: the per-epoch figures of a run, written as JSON lines."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..files import write_atomically

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch rows (``epoch``, ``loss``, ``train_acc``, ``test_acc``, ``time``, ``lr``)."""

    epochs: list[dict] = field(default_factory=list)

    def append(self, row: dict) -> None:
        self.epochs.append(row)

    def column(self, key: str) -> list:
        return [row[key] for row in self.epochs]

    def write_jsonl(self, path: str | os.PathLike) -> None:
        """Write atomically: a reader never sees half a file (and no link is followed)."""
        text = "".join(json.dumps(row) + "\n" for row in self.epochs).encode()
        write_atomically(path, lambda f: f.write(text))
