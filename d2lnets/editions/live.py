"""The books' live figures, redrawn in place in Jupyter as d2l draws them, and
never shown elsewhere: a script or CI gets no window and no display call. A
figure is saved where ``$D2LNETS_FIGURES`` names a folder (at the end of a
``train_ch6`` or ``Trainer.fit``)."""
from __future__ import annotations

import collections
import itertools
import os
import sys
from pathlib import Path
from typing import Any

from ..files import check_writable, write_atomically
from .hparams import HyperParameters

__all__ = ["in_notebook", "set_axes", "Animator", "ProgressBoard", "keep_figure"]

_SAVED = itertools.count(1)
Point = collections.namedtuple("Point", ["x", "y"])


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where the books' figures are displayed)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _new_figure(figsize: Any, nrows: int = 1, ncols: int = 1, svg: bool = True
                ) -> tuple[Any, Any]:
    """A bare Figure that no window or pyplot holds (in a notebook shown as SVG,
    as the books do, unless ``svg=False``)."""
    if in_notebook():  # teach IPython to show a bare Figure, in the kernel's format or SVG
        from matplotlib_inline.backend_inline import InlineBackend, set_matplotlib_formats
        set_matplotlib_formats(*(["svg"] if svg else InlineBackend.instance().figure_formats))
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols)


def _show(owner: Any) -> None:
    """Display ``owner.fig`` in the notebook, then redraw it in place: d2l clears
    the cell's output instead, which also wipes what the cell printed."""
    if not in_notebook():
        return
    from IPython import display
    handle = getattr(owner, "_handle", None)
    if handle is None:
        owner._handle = display.display(owner.fig, display_id=True)
    else:
        handle.update(owner.fig)


def keep_figure(fig: Any, name: str) -> Path | None:
    """Save ``fig`` as ``$D2LNETS_FIGURES/NAME-N.png`` when that folder is set."""
    folder = os.environ.get("D2LNETS_FIGURES")
    if not folder:
        return None
    check_writable(folder)
    path = Path(folder) / f"{name}-{next(_SAVED)}.png"
    write_atomically(path, lambda f: fig.savefig(f, format="png"))
    return path


def set_axes(axes: Any, xlabel: Any, ylabel: Any, xlim: Any, ylim: Any, xscale: str,
             yscale: str, legend: Any) -> None:
    """Label, scale and limit ``axes`` (the books' helper)."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


class Animator:
    """Lines that grow point by point (0.17's ``Animator``): ``add(x, ys)``.
    ``svg=False`` leaves the notebook's figure format as it is."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1,
                 ncols=1, figsize=(3.5, 2.5), svg=True):
        legend = [] if legend is None else legend
        self.fig, axes = _new_figure(figsize, nrows, ncols, svg)
        self.axes = [axes] if nrows * ncols == 1 else axes
        self.config_axes = lambda: set_axes(self.axes[0], xlabel, ylabel, xlim, ylim, xscale,
                                            yscale, legend)
        self.X, self.Y, self.fmts = None, None, fmts

    def add(self, x: Any, y: Any) -> None:
        """One point on each line; a None leaves that line as it is."""
        y = y if hasattr(y, "__len__") else [y]
        x = x if hasattr(x, "__len__") else [x] * len(y)
        if not self.X:
            self.X, self.Y = [[] for _ in y], [[] for _ in y]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if in_notebook():
            self.draw()
            _show(self)

    def draw(self) -> None:
        """Draw every line on the figure."""
        self.axes[0].cla()
        for xs, ys, fmt in zip(self.X or [], self.Y or [], self.fmts):
            self.axes[0].plot(xs, ys, fmt)
        self.config_axes()


def _value(y: Any) -> Any:
    """A drawn value: an MXNet array is read here, when its point is averaged,
    not when it was recorded (reading it each batch would stall the engine)."""
    return y.asnumpy() if hasattr(y, "asnumpy") else y


class ProgressBoard(HyperParameters):
    """The 1.0 edition's board: ``draw(x, y, label, every_n)`` averages every
    ``every_n`` points of a line into one (``data[label]``), and redraws."""

    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", ls=["-", "--", "-.", ":"], colors=["C0", "C1", "C2", "C3"],  # noqa: B006, E501
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):
        self.save_hyperparameters()
        self.raw_points: dict[str, list] = collections.OrderedDict()
        self.data: dict[str, list] = collections.OrderedDict()

    def draw(self, x: Any, y: Any, label: str, every_n: int = 1) -> None:
        """Record (x, y) on line ``label``; every ``every_n`` points become one."""
        points = self.raw_points.setdefault(label, [])
        line = self.data.setdefault(label, [])
        points.append(Point(x, y))
        if len(points) != every_n:
            return
        ys = [_value(p.y) for p in points]
        line.append(Point(sum(p.x for p in points) / len(points), sum(ys) / len(ys)))
        points.clear()
        if self.display and in_notebook():
            self.render()
            _show(self)

    def render(self) -> Any:
        """Draw every line on the figure (made on first use) and return it."""
        if self.fig is None:
            self.fig, self.axes = _new_figure(self.figsize)
        axes = self.axes
        axes.cla()
        lines = [axes.plot([p.x for p in v], [p.y for p in v], linestyle=ls, color=color)[0]
                 for v, ls, color in zip(self.data.values(), self.ls, self.colors)]
        if self.xlim:
            axes.set_xlim(self.xlim)
        if self.ylim:
            axes.set_ylim(self.ylim)
        axes.set_xlabel(self.xlabel or "")
        axes.set_ylabel(self.ylabel or "")
        axes.set_xscale(self.xscale)
        axes.set_yscale(self.yscale)
        axes.legend(lines, list(self.data))
        return self.fig
