"""Files written whole or not at all, and never through a planted link.

A run folder may sit in a folder others can write (``/tmp``): a symbolic link
planted under the name of a temporary file or of the lock would make a run
overwrite the file it points to. Temporary files are therefore made new with
``mkstemp`` (``O_EXCL``: a name that exists, link or not, is never opened) and
renamed over the target (a rename replaces a link, never follows it); the lock
is opened with ``O_NOFOLLOW``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["write_atomically", "open_no_follow", "check_writable", "new_file"]


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` with a new temporary file beside ``path``, then rename it to
    ``path``. A killed writer's temporary files are removed first (unlinking a
    name never follows a link; the run folder's lock makes this the only writer)."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _new_file_mode())  # mkstemp's 0600 would hide results from others
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def open_no_follow(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that fails with ``ELOOP`` where ``path`` is a symbolic link."""
    return os.open(path, flags | os.O_NOFOLLOW, mode)


def check_writable(folder: str | os.PathLike) -> None:
    """Make ``folder`` (and its parents) and prove it writable with a new file
    made and removed there; raises the ``OSError`` that says why not."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".d2lnets-write-test.")
    os.close(fd)
    os.unlink(probe)


def new_file(folder: str | os.PathLike, prefix: str, suffix: str, text: str) -> Path:
    """Write ``text`` to a file made new in ``folder`` (never an existing name,
    so never through a planted link) and return its path."""
    fd, path = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(path)
