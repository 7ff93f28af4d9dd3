"""``Checkpointer``: save the run every epoch and on Ctrl-C; restore it on resume.

Like timm's ``CheckpointSaver``, only the process that writes the run (rank 0)
gets one: the caller adds it. The caller also says whether the trainer's
states are saved (not under a distributed kvstore, where they live on the
servers).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ...checkpoint import latest_checkpoint, load_checkpoint, read_meta, resolve_checkpoint, save_checkpoint
from ...errors import UsageError
from ..history import History
from .base import Callback

__all__ = ["Checkpointer", "BREAKS_MID_EPOCH"]

#: configuration keys whose change in the middle of an epoch would train on
#: other batches than the interrupted run (or another model, at any time)
BREAKS_MID_EPOCH = ("batch_size", "subset", "data", "resize", "seed", "verify", "workers")


class Checkpointer(Callback):
    """Checkpoints into ``out_dir``: one after every epoch, one at the exact
    batch on an interruption. ``resume`` (a checkpoint folder, a run folder, or
    True for ``out_dir``) restores the position, the history and the
    iterator's seed before the first batch. ``write=False`` only restores.

    ``config`` (plain data: the run's model, batch size, data, ...) is stored
    in every checkpoint. On resume, a change of model, or a change of a
    :data:`BREAKS_MID_EPOCH` value in the middle of an epoch, is refused; the
    values that changed are recorded in the next history row."""

    def __init__(self, out_dir: str | os.PathLike, resume: str | os.PathLike | bool | None = None,
                 save_states: bool = True, log: Callable[[str], None] | None = print,
                 config: dict | None = None, write: bool = True):
        self.out, self.write = Path(out_dir), write
        self.resume, self.save_states, self.log = resume, save_states, log
        self.config = dict(config or {})

    def on_train_begin(self, run: Any) -> None:
        if self.resume:
            self._restore(run)
        run.last_checkpoint = run.last_checkpoint or _str(latest_checkpoint(self.out))

    def _restore(self, run: Any) -> None:
        path = resolve_checkpoint(self.out if self.resume is True else Path(self.resume))
        meta = dict(read_meta(path), path=str(path))
        run.start_epoch, run.start_batch = int(meta["epoch"]), int(meta.get("batch", 0))
        self._compare(meta, run)  # before any loading: a refusal changes nothing
        load_checkpoint(path, run.net, run.trainer if self.save_states else None, ctx=run.ctxs)
        run.history = History(meta.get("history", []))
        run.partial = meta.get("partial")
        if "seed" in meta and "seed" not in self.config and hasattr(run.train_iter, "seed"):
            run.train_iter.seed = int(meta["seed"])
        run.last_checkpoint = meta["path"]
        if self.log:
            self.log(f"resuming from {meta['path']} (epoch {run.start_epoch + 1}, "
                     f"batch {run.start_batch})")

    def _compare(self, meta: dict, run: Any) -> None:
        """Refuse what cannot resume exactly; note what changed in the next row."""
        stored = meta.get("config") or {}
        changed = {k: [stored[k], v] for k, v in self.config.items()
                   if k in stored and stored[k] != v}
        where = f"{meta['path']} (epoch {run.start_epoch + 1}, batch {run.start_batch})"
        if "model" in changed:
            raise UsageError(f"{where} is a run of {stored['model']}, not {self.config['model']}: "
                             f"resume it as {stored['model']}, or start a new run")
        breaking = [k for k in BREAKS_MID_EPOCH if k in changed]
        if breaking and run.start_batch:
            said = ", ".join(f"{k} {changed[k][1]} (the run has {changed[k][0]})" for k in breaking)
            raise UsageError(f"cannot resume {where} with {said}: in the middle of an epoch that "
                             f"would train on other batches than the interrupted run. Resume with "
                             f"the run's values, or change them at the start of a new run.")
        if changed:
            run.row_note = {"changed": changed}

    def save(self, run: Any, epoch: int, batch: int, partial: dict | None) -> str:
        meta = {"epoch": epoch, "batch": batch, "partial": partial,
                "history": run.history.epochs, "num_epochs": run.config.num_epochs,
                "seed": getattr(run.train_iter, "seed", run.config.seed), "config": self.config}
        trainer = run.trainer if self.save_states else None
        return str(save_checkpoint(self.out, run.net, trainer, meta))

    def on_epoch_end(self, run: Any, row: dict) -> None:
        if self.write:
            run.last_checkpoint = self.save(run, run.epoch + 1, 0, None)

    def on_interrupt(self, run: Any, partial: dict) -> str | None:
        return self.save(run, run.epoch, run.batch, partial) if self.write else None


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
