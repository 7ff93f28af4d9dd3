"""Checkpoints that survive an interrupted run.

A checkpoint is a folder ``ckpt-EEEE-BBBBB`` (epoch, batch) holding the net's
parameters, the trainer's states and ``meta.json`` (epoch, batch, partial sums,
seed, history). It is written under a hidden temporary name, flushed to disk,
then renamed in one step, so a reader only ever sees complete checkpoints;
``meta.json`` records the size and sha1 of the other files and is checked on
load. The newest two are kept.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import CheckpointError

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
           "list_checkpoints"]

PREFIX = "ckpt-"
PARAMS, STATES, META = "net.params", "trainer.states", "meta.json"


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def list_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first (temporary folders are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if p.is_dir() and p.name.startswith(PREFIX) and (p / META).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest checkpoint in ``folder`` that passes its own checks, or None."""
    for path in reversed(list_checkpoints(folder)):
        try:
            _verify(path)
            return path
        except CheckpointError:
            continue
    return None


def save_checkpoint(folder: str | os.PathLike, net: Any, trainer: Any, meta: dict,
                    keep: int = 2) -> Path:
    """Write a checkpoint atomically; return its path.

    On failure (a full disk, say) nothing partial is left behind and the
    previous checkpoints are untouched; :class:`CheckpointError` says so.
    """
    folder = Path(folder)
    name = f"{PREFIX}{int(meta['epoch']):04d}-{int(meta.get('batch', 0)):05d}"
    final = folder / name
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # one writer per run folder: a temporary folder left now is from a killed writer
        for stale in folder.glob(f".{PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
        net.save_parameters(str(tmp / PARAMS))
        files = [PARAMS]
        if trainer is not None:
            trainer.save_states(str(tmp / STATES))
            files.append(STATES)
        meta = dict(meta, files={f: {"size": (tmp / f).stat().st_size, "sha1": _sha1(tmp / f)}
                                 for f in files})
        with open(tmp / META, "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        for f_name in files:
            with open(tmp / f_name, "rb") as f:
                os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        tmp = None
        _fsync_dir(folder)
    except (OSError, Exception) as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        last = latest_checkpoint(folder) if folder.is_dir() else None
        kept = f"the last complete checkpoint, {last}, is kept" if last else "no earlier checkpoint exists"
        raise CheckpointError(f"could not write checkpoint {final}: {_reason(err, folder)}; {kept}. "
                              f"Free some space or choose another --out folder.") from None
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _reason(err: BaseException, folder: Path) -> str:
    """What went wrong, in one line. MXNet reports a full disk as an incomplete
    write, so the free space is looked at too."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if getattr(err, "errno", None) == errno.ENOSPC or "No space left" in str(err) or \
            ("Write incomplete" in str(err) and free is not None and free < (16 << 20)):
        return "the disk is full" + (f" ({free // 1024} KiB free)" if free is not None else "")
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    fallback = lines[-1] if lines else repr(err)
    return next((ln for ln in lines if "Check failed" in ln or "Error" in ln), fallback)


def _verify(path: Path) -> dict:
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable {META} ({err})") from None
    for f_name, info in meta.get("files", {}).items():
        p = path / f_name
        if not p.is_file() or p.stat().st_size != info["size"] or _sha1(p) != info["sha1"]:
            raise CheckpointError(f"{path}: {f_name} is missing or does not match its checksum")
    return meta


def load_checkpoint(path: str | os.PathLike, net: Any, trainer: Any, ctx: Any = None) -> dict:
    """Load a checkpoint folder (or the newest one in a run folder) into
    ``net`` and ``trainer``; return its metadata."""
    path = Path(path)
    if not (path / META).is_file():
        found = latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"no complete checkpoint in {path}: nothing to resume. Start a "
                                  f"new run, or point --resume at a run's --out folder.")
        path = found
    meta = _verify(path)
    net.load_parameters(str(path / PARAMS), ctx=ctx)
    if trainer is not None and (path / STATES).is_file():
        trainer.load_states(str(path / STATES))
    meta["path"] = str(path)
    return meta
