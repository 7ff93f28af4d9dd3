"""The exercise registry: each of the chapter's exercises (练习) as an experiment
that returns a table, an answer and, where a picture says more, a figure.

``run_exercise`` writes the folder (``result.json``, ``answer.md``, a PNG) and
prints the table. The experiments live in one module per section of the
chapter: ``batch_norm``, ``resnet``, ``densenet``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError
from ..files import check_writable, write_atomically
from ..registry import Registry, key_of
from ..runfolder import RunFolder
from .report import markdown_table

__all__ = ["Exercise", "Options", "Result", "register_exercise", "get_exercise", "list_exercises",
           "run_exercise", "SECTIONS"]

#: the chapter's sections, in order (each notebook, notebooks/SECTION.ipynb, ends with its own)
SECTIONS = ("batch-norm", "resnet", "densenet")


@dataclass(frozen=True)
class Options:
    """How an exercise runs. ``quick``: the shipped sample, one epoch, one seed
    unless ``seeds`` says otherwise (seconds: for tests and CI)."""

    seeds: int | None = None
    quick: bool = False
    ctx: Any = None
    log: Callable[[str], None] | None = None

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds or (1 if self.quick else 5)))


@dataclass
class Result:
    """What an exercise found: ``header``/``rows`` (the table), ``answer``
    (markdown), ``data`` (for ``result.json``) and ``plot(path)`` if a figure helps."""

    header: list[str]
    rows: list[list[Any]]
    answer: str
    data: dict[str, Any] = field(default_factory=dict)
    plot: Callable[[Path], None] | None = None

    def table(self) -> str:
        return markdown_table(self.header, self.rows)


@dataclass(frozen=True)
class Exercise:
    """``number`` is the exercise's place in the chapter (1-11); ``minutes`` its
    default wall time on the 2-core CPU here (docs/exercises.md)."""

    name: str
    section: str
    number: int
    question: str
    run: Callable[[Options], Result]
    minutes: float
    trains: bool = False


#: every exercise, by name (``bn-lr``)
EXERCISES: Registry[Exercise] = Registry("exercise", hint="`d2lnets exercise list` lists them",
                                         unknown="no")


def register_exercise(name: str, section: str, number: int, question: str, minutes: float,
                      trains: bool = False) -> Callable:
    """Decorator: register ``fn(options) -> Result``; a name or number used twice is refused."""
    if section not in SECTIONS:
        raise UsageError(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")

    def wrap(fn: Callable[[Options], Result]) -> Callable[[Options], Result]:
        if number in {e.number for e in EXERCISES}:
            raise UsageError(f"an exercise numbered {number} is registered already")
        EXERCISES.add(name, Exercise(key_of(name), section, number, question, fn, minutes, trains))
        return fn
    return wrap


def list_exercises(section: str | None = None) -> list[Exercise]:
    """Every exercise (of ``section``), in the chapter's order."""
    return sorted((e for e in EXERCISES if section in (None, e.section)),
                  key=lambda e: e.number)


def get_exercise(name: str) -> Exercise:
    return EXERCISES.get(name)


def run_exercise(name: str, out: str | os.PathLike | None = None, seeds: int | None = None,
                 quick: bool = False, ctx: Any = None,
                 log: Callable[[str], None] | None = None) -> Result:
    """Run one exercise; with ``out``, write ``result.json``, ``answer.md`` and
    ``figure.png`` there (any earlier result in ``out`` is replaced)."""
    if seeds is not None and not 1 <= seeds <= 20:
        raise UsageError(f"--seeds must be 1 to 20; got {seeds}")
    ex, opts = get_exercise(name), Options(seeds, quick, ctx, log)
    if out is None:
        return ex.run(opts)
    with RunFolder(out):  # one writer: two runs into one folder would race on its files
        _prepare(Path(out))  # before the experiment: a folder that cannot be written loses nothing
        result = ex.run(opts)
        _write(Path(out), ex, result, opts)
    return result


def _prepare(folder: Path) -> None:
    try:
        check_writable(folder)
    except OSError as err:
        raise UsageError(f"cannot write the exercise's folder {folder}: "
                         f"{err.strerror or err}; choose another --out") from None


def _write(folder: Path, ex: Exercise, result: Result, opts: Options) -> None:
    record = {"exercise": ex.name, "number": ex.number, "question": ex.question,
              "quick": opts.quick, "seeds": opts.seed_list if ex.trains else None,
              "header": result.header, "rows": result.rows, "data": result.data}
    _write_text(folder / "result.json", json.dumps(record, indent=1, default=str) + "\n")
    text = (f"# Exercise {ex.number}: {ex.name}\n\n> {ex.question}\n\n{result.table()}\n\n"
            f"{result.answer}\n")
    if result.plot is not None:
        result.plot(folder / "figure.png")
        text += "\n![figure](figure.png)\n"
    _write_text(folder / "answer.md", text)


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda f: f.write(text.encode()))
