"""Train a variant of a chapter network over seeds: the runs behind every
accuracy an exercise compares. A trial is a planned run of ``model``'s
recipe with ``build`` in place of the registry's network. ``tuned`` first
picks each variant's own learning rate, so that no variant is compared at a
rate chosen for another."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

from ..data import SAMPLE
from ..errors import DivergedError
from ..training.plan import plan_run
from ..training.run import run_plan
from .registry import Options
from .report import Spread

__all__ = ["spread", "tuned", "at_edge", "chosen", "caveat", "budget", "QUICK", "TUNING_SEED"]

#: what ``--quick`` trains on: the shipped 1,000-image sample, one epoch
QUICK = {"data": SAMPLE, "epochs": 1, "subset": None}
#: the seed a learning rate is chosen on: none of the compared seeds (0, 1, ...),
#: so the choice cannot favour the runs that are compared
TUNING_SEED = 100


def spread(opts: Options, model: str, recipe: str, build: Callable[[], Any] | None = None,
           label: str = "", seeds: Sequence[int] | None = None,
           inspect: Callable[[Any], None] | None = None, **given: Any) -> Spread:
    """Final test accuracy of ``model`` (or ``build()``) for each seed of ``opts``
    (or ``seeds``), and each run's first and last epochs' loss; a run that diverges counts
    as None. ``inspect(trained)`` sees each finished run (its net and history)."""
    accs: list[float | None] = []
    losses: list[tuple[float | None, float | None]] = []
    for seed in opts.seed_list if seeds is None else seeds:
        settings = {**given, **(QUICK if opts.quick else {}), "seed": seed}
        try:
            trained = run_plan(plan_run(model, recipe, settings), ctx=opts.ctx, log=None,
                               build=build)
            epochs = trained.history.epochs
            accs.append(round(epochs[-1]["test_acc"], 4))
            losses.append((round(epochs[0]["loss"], 4), round(epochs[-1]["loss"], 4)))
            if inspect is not None:
                inspect(trained)
        except DivergedError:
            accs.append(None)
            losses.append((None, None))
        if opts.log:
            acc = "diverged" if accs[-1] is None else f"{accs[-1]:.3f}"
            opts.log(f"  {label or model} seed {seed}: test acc {acc}")
    return Spread(tuple(accs), tuple(f for f, _ in losses), tuple(la for _, la in losses))


def tuned(opts: Options, lrs: Sequence[float], model: str, recipe: str,
          build: Callable[[], Any] | None = None, label: str = "",
          **given: Any) -> tuple[float, dict[float, Spread], Spread]:
    """Each rate of ``lrs`` on :data:`TUNING_SEED`, then the best one on every
    seed of ``opts``: (the rate, the tuning runs by rate, the seeds' spread).
    A best rate at an end of the grid is not yet a choice, so the grid grows
    by one of its steps past that end, once (:func:`at_edge` says if the best
    is still at an end). ``--quick`` skips the choice and takes the first rate."""
    def run(lr: float) -> Spread:
        return spread(opts, model, recipe, build, f"{label} lr {lr} (tuning)",
                      [TUNING_SEED], lr=lr, **given)

    def score(lr: float) -> float:
        return -1.0 if tries[lr].median is None else tries[lr].median
    tries = {lr: run(lr) for lr in (lrs[:1] if opts.quick else lrs)}
    best = max(tries, key=score)
    if len(tries) > 1 and at_edge(best, tries):
        grid = sorted(tries)
        step = grid[1] / grid[0] if best == grid[0] else grid[-1] / grid[-2]
        beyond = round(best / step if best == grid[0] else best * step, 6)
        tries[beyond] = run(beyond)
        best = max(tries, key=score)
    return best, tries, spread(opts, model, recipe, build, f"{label} lr {best}", lr=best,
                               **given)


def at_edge(lr: float, tries: dict[float, Spread]) -> bool:
    """Whether ``lr`` is the smallest or largest rate tried: the best rate
    may then lie beyond what was tried."""
    return len(tries) > 1 and lr in (min(tries), max(tries))


def chosen(lr: float, tries: dict[float, Spread]) -> str:
    """``lr`` as an answer states it, saying so when it is an end of the rates tried."""
    if not at_edge(lr, tries):
        return f"{lr}"
    return f"{lr} (the {'smallest' if lr == min(tries) else 'largest'} tried)"


def caveat(picks: Sequence[tuple[float, dict[float, Spread]]]) -> str:
    """A sentence for an answer whose tuned rates (``(lr, tries)`` pairs) include
    one at an end of the rates tried, else ""."""
    if not any(at_edge(lr, tries) for lr, tries in picks):
        return ""
    return (" A rate marked as the smallest or largest tried is the best the tuning seed "
            "found even one step past the grid's end, so it is not shown to be that "
            "variant's best rate; the tuning runs are in result.json.")


def budget(opts: Options, text: str) -> str:
    """A figure's title: ``text``, the runs' budget, or what ``--quick`` trained."""
    if opts.quick:
        return f"--quick: 1 epoch of the 1,000-image sample, {len(opts.seed_list)} seed(s)"
    return f"{text}; {len(opts.seed_list)} seeds"
