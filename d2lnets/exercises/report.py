"""What an exercise says about its numbers: a seed spread, whether two spreads
overlap, and markdown tables."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plotting import pyplot, save_figure

__all__ = ["Spread", "compare", "markdown_table", "millions", "plot_spreads"]


@dataclass(frozen=True)
class Spread:
    """Final test accuracies over seeds (None: the run diverged)."""

    values: tuple[float | None, ...]

    @property
    def finite(self) -> list[float]:
        return sorted(v for v in self.values if v is not None)

    @property
    def median(self) -> float | None:
        # the lower median of every seed, a diverged one counted as the worst
        ranked = sorted(self.values, key=lambda v: float("-inf") if v is None else v)
        return ranked[(len(ranked) - 1) // 2] if ranked else None

    @property
    def low(self) -> float | None:
        return None if None in self.values else min(self.finite, default=None)

    @property
    def high(self) -> float | None:
        return max(self.finite, default=None)

    def __str__(self) -> str:
        if not self.finite:
            return f"diverged ({len(self.values)}/{len(self.values)})"
        failed = sum(v is None for v in self.values)
        tail = f", {failed} diverged" if failed else ""
        med = "diverged" if self.median is None else f"{self.median:.3f}"
        if len(self.values) == 1:
            return med
        return f"{med} ({self.finite[0]:.3f}-{self.finite[-1]:.3f}{tail})"

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "median": self.median, "low": self.low,
                "high": self.high}


def compare(a: Spread, b: Spread, name_a: str, name_b: str) -> str:
    """One sentence: the medians, and "no difference" when the ranges overlap."""
    if len(a.values) < 2 or len(b.values) < 2:
        return (f"{name_a} {a} against {name_b} {b}: one seed each, too few to tell a "
                f"difference from seed noise (run with --seeds 3).")
    lo_a, hi_a = (a.finite[0], a.finite[-1]) if a.finite else (0.0, 0.0)
    lo_b, hi_b = (b.finite[0], b.finite[-1]) if b.finite else (0.0, 0.0)
    if lo_a <= hi_b and lo_b <= hi_a:
        return (f"{name_a} {a} against {name_b} {b}: the ranges overlap, so no difference "
                f"over {len(a.values)} seeds.")
    better, worse = (name_a, name_b) if lo_a > hi_b else (name_b, name_a)
    return (f"{name_a} {a} against {name_b} {b}: {better} is better than {worse} on every "
            f"seed (the ranges do not overlap).")


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


def plot_spreads(spreads: dict[str, Spread], ylabel: str = "test accuracy") -> Any:
    """A figure: each seed's accuracy as a dot, the median as a bar, per variant."""
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3))
        for i, s in enumerate(spreads.values()):
            ax.scatter([i] * len(s.finite), s.finite, color="C0", s=14)
            if s.median is not None:
                ax.hlines(s.median, i - 0.25, i + 0.25, color="C1")
        ax.set_xticks(range(len(spreads)), list(spreads), fontsize=7)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot
