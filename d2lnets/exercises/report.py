"""What an exercise says about its numbers: a seed spread, a paired verdict
between two variants (a sign test over seeds), and markdown tables."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plotting import pyplot, save_figure

__all__ = ["Spread", "Verdict", "verdict", "compare", "sign_test", "SIGNIFICANT",
           "markdown_table", "millions", "plot_spreads"]

#: a difference is called when the two-sided sign test gives p at most this:
#: over 5 seeds, only a variant better on all 5 (p = 0.0625)
SIGNIFICANT = 0.1


@dataclass(frozen=True)
class Spread:
    """Final test accuracies over seeds (None: the run diverged), and each
    run's mean training loss in its first and last epochs (None where it
    diverged or was not kept)."""

    values: tuple[float | None, ...]
    first_loss: tuple[float | None, ...] = ()
    last_loss: tuple[float | None, ...] = ()

    @property
    def finite(self) -> list[float]:
        return sorted(v for v in self.values if v is not None)

    @property
    def diverged(self) -> int:
        return sum(v is None for v in self.values)

    @property
    def median(self) -> float | None:
        # the lower median of every seed, a diverged one counted as the worst
        ranked = sorted(self.values, key=_rank)
        return ranked[(len(ranked) - 1) // 2] if ranked else None

    @property
    def low(self) -> float | None:
        """The worst seed: None if one diverged."""
        return None if self.diverged else min(self.finite, default=None)

    @property
    def high(self) -> float | None:
        return max(self.finite, default=None)

    def __str__(self) -> str:
        n = len(self.values)
        if not self.finite:
            return f"diverged ({n} of {n})"
        med = "diverged" if self.median is None else f"{self.median:.3f}"
        if n == 1:
            return med
        low = "diverged" if self.diverged else f"{self.finite[0]:.3f}"
        tail = f", {self.diverged} of {n} diverged" if self.diverged else ""
        return f"{med} ({low} to {self.finite[-1]:.3f}{tail})"

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "median": self.median, "low": self.low,
                "high": self.high, "first_loss": list(self.first_loss),
                "last_loss": list(self.last_loss)}


def _rank(v: float | None) -> float:
    return float("-inf") if v is None else v


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven
    between ``wins`` and ``losses`` if either variant were as likely to win."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Verdict:
    """``a`` against ``b``, seed by seed: the same seed trains both (same data
    order), so each seed gives one paired comparison; ties (equal to the
    fourth decimal, or both diverged) count for neither."""

    wins: int
    losses: int
    ties: int
    diffs: tuple[float, ...]  # a - b where neither diverged
    p: float

    @property
    def better(self) -> int:
        """1: a is better, -1: b is, 0: no detectable difference."""
        if self.p > SIGNIFICANT:
            return 0
        return 1 if self.wins > self.losses else -1


def verdict(a: Spread, b: Spread) -> Verdict:
    """Pair ``a`` and ``b`` by seed; a diverged run loses to any that did not."""
    if len(a.values) != len(b.values):
        raise ValueError(f"paired seeds needed: {len(a.values)} against {len(b.values)}")
    wins = losses = ties = 0
    diffs = []
    for x, y in zip(a.values, b.values):
        if x is not None and y is not None:
            diffs.append(round(x - y, 4))
        if _rank(x) > _rank(y) and abs(_rank(x) - _rank(y)) >= 5e-5:
            wins += 1
        elif _rank(y) > _rank(x) and abs(_rank(x) - _rank(y)) >= 5e-5:
            losses += 1
        else:
            ties += 1
    return Verdict(wins, losses, ties, tuple(diffs), sign_test(wins, losses))


def compare(a: Spread, b: Spread, name_a: str, name_b: str) -> str:
    """One sentence from :func:`verdict`: which is better and on how many seeds
    (with p), or that no difference shows; the paired differences' median and range."""
    head = f"{name_a} {a} against {name_b} {b}"
    n = len(a.values)
    if n < 2:
        return (f"{head}: one seed each, too few to tell a difference from seed noise "
                f"(run with --seeds 5).")
    v = verdict(a, b)
    split = f"{name_a} better on {v.wins} of {n} seeds, {name_b} on {v.losses}" + (
        f", {v.ties} tied" if v.ties else "")
    if v.better:
        winner, loser, k = (name_a, name_b, v.wins) if v.better > 0 else (name_b, name_a,
                                                                         v.losses)
        said = f"{winner} is better than {loser} on {_count(k, n)} (sign test p = {v.p:.2f})"
    else:
        said = f"no detectable difference over {n} seeds ({split}; sign test p = {v.p:.2f})"
    return f"{head}: {said}{_diffs(v, name_a, name_b)}."


def _count(k: int, n: int) -> str:
    return f"every one of {n} seeds" if k == n else f"{k} of {n} seeds"


def _diffs(v: Verdict, name_a: str, name_b: str) -> str:
    if not v.diffs:
        return ""
    med = statistics.median(v.diffs)
    spread = (f"{min(v.diffs):+.3f} to {max(v.diffs):+.3f}" if len(v.diffs) > 1 else "")
    left = len(v.diffs) < v.wins + v.losses + v.ties
    note = ", seeds where a run diverged left out" if left else ""
    return (f"; {name_a} minus {name_b}, seed by seed: median {med:+.3f}"
            + (f", range {spread}" if spread else "") + note)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value else f"{value:.3f}"
    return str(value)


def millions(n: float) -> str:
    return f"{n / 1e6:.2f} M"


def plot_spreads(spreads: dict[str, Spread], title: str, ylabel: str = "test accuracy") -> Any:
    """A figure: each seed's accuracy as a dot (a diverged run as a red x at
    the bottom), the median as a bar, per variant; ``title`` says the budget."""
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3.2))
        finite = [v for s in spreads.values() for v in s.finite]
        floor = min(finite, default=0.0) - 0.01
        for i, s in enumerate(spreads.values()):
            ax.scatter([i] * len(s.finite), s.finite, color="C0", s=14)
            if s.diverged:
                ax.scatter([i] * s.diverged, [floor] * s.diverged, color="red", marker="x",
                           s=20)
            if s.median is not None:
                ax.hlines(s.median, i - 0.25, i + 0.25, color="C1")
        ax.set_xticks(range(len(spreads)), list(spreads), fontsize=7)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot
