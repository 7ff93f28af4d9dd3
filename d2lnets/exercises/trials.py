"""Train a variant of a chapter network over seeds: the runs behind every
accuracy an exercise compares. A trial is a planned run of ``model``'s
recipe with ``build`` in place of the registry's network."""
from __future__ import annotations

from typing import Any, Callable

from ..data import SAMPLE
from ..errors import DivergedError
from ..training.plan import plan_run
from ..training.run import run_plan
from .registry import Options
from .report import Spread

__all__ = ["spread", "QUICK"]

#: what ``--quick`` trains on: the shipped 1,000-image sample, one epoch
QUICK = {"data": SAMPLE, "epochs": 1, "subset": None}


def spread(opts: Options, model: str, recipe: str, build: Callable[[], Any] | None = None,
           label: str = "", **given: Any) -> Spread:
    """Final test accuracy of ``model`` (or ``build()``) for each seed of ``opts``;
    a run that diverges counts as None."""
    accs: list[float | None] = []
    for seed in opts.seed_list:
        settings = {**given, **(QUICK if opts.quick else {}), "seed": seed}
        try:
            trained = run_plan(plan_run(model, recipe, settings), ctx=opts.ctx, log=None,
                               build=build)
            accs.append(round(trained.history.epochs[-1]["test_acc"], 4))
        except DivergedError:
            accs.append(None)
        if opts.log:
            acc = "diverged" if accs[-1] is None else f"{accs[-1]:.3f}"
            opts.log(f"  {label or model} seed {seed}: test acc {acc}")
    return Spread(tuple(accs))
