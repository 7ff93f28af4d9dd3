"""``plan_run``: what a run is, decided once before anything is built.

A :class:`Plan` holds the run's settings (the book's, the recipe's, a resumed
run's and the user's, layered by ``recipes.layered``), its folder, and for a
resume the checkpoint with its meta, read and checksummed once. It is the one
place that reads a checkpoint's meta and layers settings, and it refuses what
cannot resume exactly before data or a net are built.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..checkpoint import open_checkpoint
from ..config import RunConfig, check_names, check_servers, mid_epoch_fixed
from ..data import SAMPLE, find_fashion_mnist
from ..errors import UsageError
from ..models import model_info
from ..recipes import layered
from .history import History
from .position import Position

__all__ = ["Plan", "plan_run"]


@dataclass(frozen=True)
class Plan:
    """``given``: the settings the user set, by name (a resumed run's too);
    ``changed``: those a resume sets differently, ``{name: [was, now]}``."""

    config: RunConfig
    given: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    checkpoint: Path | None = None
    meta: dict | None = None
    changed: dict | None = None

    @property
    def stored(self) -> dict:
        """The resumed run's settings ({} for a new run)."""
        return (self.meta or {}).get("config") or {}

    @property
    def where(self) -> str:
        return f"{self.checkpoint} (epoch {self.meta['epoch'] + 1}, batch {self.meta['batch']})"

    def position(self) -> Position:
        """Where the loop starts: the beginning, or the checkpoint's place."""
        if self.meta is None:
            return Position()
        seed = self.meta.get("seed")
        seed = seed if isinstance(seed, int) and 0 <= seed < 2**32 else None
        return Position(self.meta["epoch"], self.meta["batch"], self.meta.get("partial"),
                        History(self.meta.get("history", [])), self.changed,
                        str(self.checkpoint), seed)


def plan_run(model: str | None, recipe: str | None = None, given: dict | None = None,
             out: str | os.PathLike | None = None, resume: str | os.PathLike | bool | None = None,
             *, base: RunConfig | None = None, kvstore: str | None = None) -> Plan:
    """Plan a run of the registered ``model``, or with ``base`` (the settings of
    a net the caller built; ``model`` None). ``resume``: a checkpoint or run folder, or True for ``out``; a
    run resumed from a PATH without ``out`` goes on in that checkpoint's folder."""
    given = dict(given or {})
    check_names(given)
    if out is not None and not str(out):
        raise UsageError("out is empty: name the run folder (out=\".\" for this one)")
    if resume is True and out is None:
        raise UsageError("resume=True needs out (the run folder to resume)")
    ckpt, meta = open_checkpoint(out if resume is True else resume) if resume else (None, None)
    folder = Path(out) if out is not None else ckpt.parent if ckpt is not None else None
    plan = Plan(base or RunConfig(batch_size=None), given, folder, ckpt, meta)
    if ckpt is not None:
        _same_network(plan, None if base is not None else model)
    if base is not None:
        return plan
    config = layered(model, recipe, plan.stored, given)
    if config.data != SAMPLE:  # the folder itself, so that a resume finds the same data
        config = replace(config, data=str(find_fashion_mnist(config.data).resolve()))
    check_servers(config, kvstore)
    before = (plan.meta or {}).get("given")  # a list of names in earlier runs
    before = before if isinstance(before, dict) else {}
    return _changes(replace(plan, config=config, given={**before, **given}), given)


def _same_network(plan: Plan, model: str | None) -> None:
    stored = plan.stored
    if stored.get("arch"):  # an older d2lnets' recipe could train another network
        raise UsageError(f"{plan.where} trained {stored['arch']} for {stored.get('model')}'s "
                         f"{stored.get('recipe')} recipe (an older d2lnets); today every recipe "
                         f"trains the network it names, so this run cannot resume: start a new "
                         f"run in another --out")
    named = plan.config.model if model is None else model_info(model).name
    if stored.get("model") not in (None, named):
        raise UsageError(f"{plan.where} is a run of {stored['model']}, not {named}: resume it "
                         f"as {stored['model']}, or start a new run")


def _changes(plan: Plan, given: dict) -> Plan:
    """What the resuming command changes; refused mid-epoch where it would train
    on other batches than the interrupted run."""
    stored, mine = plan.stored, plan.config.to_dict()
    changed = {k: [stored[k], mine[k]] for k in given if k in stored and stored[k] != mine[k]}
    breaking = [k for k in mid_epoch_fixed() if k in changed]
    if breaking and plan.meta and plan.meta["batch"]:
        said = ", ".join(f"{k} {changed[k][1]} (the run has {changed[k][0]})" for k in breaking)
        raise UsageError(f"cannot resume {plan.where} with {said}: in the middle of an epoch "
                         f"that would train on other batches than the interrupted run. Resume "
                         f"with the run's values, or change them at the start of a new run.")
    return replace(plan, changed=changed or None)
