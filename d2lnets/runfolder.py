"""The run folder (``--out``): one writer at a time, earlier runs moved aside, never lost.

The lock is ``fcntl.flock`` on a file beside the folder (``.NAME.lock``), so it
survives the folder being moved and the kernel releases it when the process
dies, however it dies. Readers (``export``, ``load_checkpoint``) take no lock.
"""
from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from .checkpoint import list_checkpoints
from .errors import CheckpointError, RunFolderBusy, UsageError
from .files import check_writable, open_no_follow

__all__ = ["RunFolder", "holds_a_run", "move_aside"]


def holds_a_run(folder: Path) -> bool:
    """True if ``folder`` holds checkpoints or a history of an earlier run."""
    return folder.is_dir() and bool(list_checkpoints(folder) or (folder / "history.jsonl").exists())


def _unusable(folder: Path, err: OSError, doing: str) -> CheckpointError:
    why = "permission denied" if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else \
        "the name is too long" if err.errno == errno.ENAMETOOLONG else (err.strerror or str(err))
    return CheckpointError(f"cannot {doing} {folder}: {why}. Nothing was trained and nothing was "
                           f"changed; choose an --out folder you can write to.")


def _holds_working_folder(folder: Path) -> bool:
    """True if ``folder`` is the working folder or one of its parents: moving it
    would move the process (and the user's shell) with it."""
    try:
        here = Path(os.getcwd()).resolve()
    except OSError:  # the working folder was removed: nothing to move with it
        return False
    return here == folder or folder in here.parents


def move_aside(folder: Path) -> Path:
    """Rename an earlier run to ``NAME-YYYYmmdd-HHMMSS`` (``-2``, ``-3`` ... if taken).
    The working folder (``--out .``) is never moved: that is refused, nothing changed."""
    if _holds_working_folder(folder):
        raise UsageError(f"{folder} holds an earlier run and is the folder you are working in "
                         f"(or holds it): a new run would move it, and your files with it. "
                         f"Nothing was changed. Continue that run with --resume, or give the "
                         f"new run its own --out (a folder inside this one, say).")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(folder.stat().st_mtime))
    try:
        for n in range(1, 1000):
            target = folder.with_name(f"{folder.name}-{stamp}" + (f"-{n}" if n > 1 else ""))
            if not target.exists():
                break
        folder.rename(target)
    except OSError as err:
        raise _unusable(folder, err, "move the earlier run aside in") from None
    return target


class RunFolder:
    """``with RunFolder(out):`` the calling process is the folder's only writer.

    A second writer gets :class:`RunFolderBusy` at once, naming the folder and
    the holder's PID. The folder is created (and checked writable) on entry.
    """

    def __init__(self, folder: str | os.PathLike):
        # the folder itself, not a link to it: two names of one folder share one lock
        self.folder = Path(os.path.realpath(folder))
        self.lock_path = self.folder.parent / f".{self.folder.name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunFolder:
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            fd = open_no_follow(self.lock_path, os.O_RDWR | os.O_CREAT)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise CheckpointError(f"{self.lock_path} is a symbolic link, where d2lnets keeps "
                                      f"the lock of {self.folder}: it would write through it. "
                                      f"Remove the link, or choose another --out.") from None
            raise _unusable(self.folder, err, "write the run folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunFolderBusy(f"{self.folder} is being written by another d2lnets (PID "
                                f"{holder}). Wait for it to finish, or choose another --out.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def prepare(self, fresh: bool) -> Path | None:
        """Make the folder ready to write; for a ``fresh`` run, move an earlier
        run aside first and return where it went."""
        moved = move_aside(self.folder) if fresh and holds_a_run(self.folder) else None
        try:
            check_writable(self.folder)
        except OSError as err:
            raise _unusable(self.folder, err, "write the run folder") from None
        return moved

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
