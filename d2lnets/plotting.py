"""Figures: the book's ``show_fashion_mnist`` and training curves. Headless (Agg) unless
a notebook or a display backend is already in use."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .files import write_atomically

__all__ = ["pyplot", "save_figure", "use_svg_display", "set_figsize", "show_fashion_mnist",
           "plot_history", "plot_time_to_accuracy"]


def pyplot() -> Any:
    """matplotlib.pyplot, headless unless a notebook or a display is in use."""
    import matplotlib
    if "MPLBACKEND" not in os.environ and not os.environ.get("DISPLAY") \
            and "ipykernel" not in __import__("sys").modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``fig`` as PNG atomically (a reader never sees half a file), then close it."""
    write_atomically(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))
    pyplot().close(fig)


def use_svg_display() -> None:
    """Draw SVG in notebooks (the book's helper); a no-op outside IPython."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("svg")
    except ImportError:
        pass


def set_figsize(figsize: tuple[float, float] = (3.5, 2.5)) -> None:
    """Set matplotlib's default figure size (the book's helper)."""
    pyplot().rcParams["figure.figsize"] = figsize


def show_fashion_mnist(images: Sequence[Any], labels: Sequence[str], path: str | None = None) -> Any:
    """One row of images with their labels as titles (the book's helper).

    ``images`` are (28, 28), (1, 28, 28) or (28, 28, 1) arrays or NDArrays.
    With ``path`` the figure is also saved there. Returns the figure.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(images), figsize=(max(1.2 * len(images), 2), 1.6))
    axes = [axes] if len(images) == 1 else list(axes)
    for ax, img, lbl in zip(axes, images, labels):
        arr = img.asnumpy() if hasattr(img, "asnumpy") else img
        ax.imshow(arr.reshape(arr.shape[-2:] if arr.shape[0] == 1 else arr.shape[:2]), cmap="gray")
        ax.set_title(str(lbl), fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    if path:
        suffix = os.path.splitext(str(path))[1][1:] or "png"
        write_atomically(path, lambda f: fig.savefig(f, format=suffix))
    return fig


def plot_history(history: Any, path: str | os.PathLike | None = None) -> Any:
    """Loss and accuracy per epoch; saved as PNG at ``path`` when given."""
    plt = pyplot()
    rows = history.epochs if hasattr(history, "epochs") else list(history)
    epochs = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
    ax1.plot(epochs, [r["loss"] for r in rows], "o-", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(epochs, [r["train_acc"] for r in rows], "o-", label="train acc")
    ax2.plot(epochs, [r["test_acc"] for r in rows], "s--", label="test acc")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_time_to_accuracy(curves: dict[str, Any], path: str | os.PathLike | None = None,
                          title: str = "", targets: Sequence[float] = ()) -> Any:
    """Test accuracy against wall-clock seconds, one line per run (e.g. the
    book's recipe and the fast one). ``curves`` maps a label to a History, a
    list of history rows (``time`` per epoch, summed), or ``(seconds, accs)``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, curve in curves.items():
        seconds, accs = _seconds_and_accs(curve)
        ax.plot(seconds, accs, "o-", label=label)
    for target in targets:
        ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("wall-clock seconds (log scale)")
    ax.set_ylabel("test accuracy")
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _seconds_and_accs(curve: Any) -> tuple[list[float], list[float]]:
    if isinstance(curve, tuple):
        return list(curve[0]), list(curve[1])
    rows = curve.epochs if hasattr(curve, "epochs") else list(curve)
    seconds, total = [], 0.0
    for row in rows:
        total += row["time"]
        seconds.append(total)
    return seconds, [row["test_acc"] for row in rows]
