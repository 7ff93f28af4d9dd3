"""Checkpoints that survive an interrupted run, and that are safe to load.

A checkpoint is a folder ``ckpt-EEEE-BBBBB`` (epoch, batch) holding the net's
parameters (``net.params``), the optimizer's state as plain arrays
(``optimizer.arrays``, MXNet's NDArray format) and ``meta.json`` (position,
partial sums, history, the run's configuration, the optimizer's counters and
the size and sha1 of the other files). Nothing is pickled: loading a run that
someone else wrote cannot run code, and a folder holding anything else (the
pickled ``trainer.states`` of d2lnets 0.1) is refused. A checkpoint is written
under a hidden temporary name, flushed, then renamed in one step, so a reader
only ever sees complete ones; the newest two are kept.
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

from mxnet import nd
from mxnet.base import MXNetError

from ._mxnet_compat import optimizer_state, set_optimizer_state
from .errors import CheckpointError, mxnet_reason

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
           "list_checkpoints", "read_meta", "resolve_checkpoint", "open_checkpoint", "PARAMS",
           "OPTIMIZER", "META", "PREFIX"]

PREFIX = "ckpt-"
PARAMS, OPTIMIZER, META = "net.params", "optimizer.arrays", "meta.json"
#: the largest epoch and batch index a meta.json may name
MAX_EPOCH, MAX_BATCH = 10**6, 10**9


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
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


def _newest(folder: str | os.PathLike) -> tuple[Path, dict] | None:
    """The newest checkpoint in ``folder`` that passes its own checks, with its meta."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return path, read_meta(path)
        except CheckpointError:
            continue
    return None


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest checkpoint in ``folder`` that passes its own checks, or None."""
    found = _newest(folder)
    return found[0] if found else None


def _write_files(tmp: Path, net: Any, trainer: Any, meta: dict) -> None:
    net.save_parameters(str(tmp / PARAMS))
    files = [PARAMS]
    if trainer is not None:
        arrays, opt_meta = optimizer_state(trainer)
        if arrays:  # plain SGD keeps none: its counters are in meta.json
            nd.save(str(tmp / OPTIMIZER), arrays)
            files.append(OPTIMIZER)
        meta = dict(meta, optimizer=opt_meta)
    meta = dict(meta, files={f: {"size": (tmp / f).stat().st_size, "sha1": _sha1(tmp / f)}
                             for f in files})
    with open(tmp / META, "w") as f:
        json.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    for name in files:
        _fsync(tmp / name)


def save_checkpoint(folder: str | os.PathLike, net: Any, trainer: Any, meta: dict,
                    keep: int = 2) -> Path:
    """Write a checkpoint atomically; return its path. ``trainer`` None: no
    optimizer state (it lives on parameter servers, or plain SGD has none).

    On failure (a full disk, say) nothing partial is left behind and the
    previous checkpoints are untouched; :class:`CheckpointError` says so. The
    caller holds the run folder's lock: a temporary folder found here is a
    killed writer's, and is removed.
    """
    folder = Path(folder)
    name = f"{PREFIX}{int(meta['epoch']):04d}-{int(meta.get('batch', 0)):05d}"
    final, tmp = folder / name, None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f".{PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
        _write_files(tmp, net, trainer, meta)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        tmp = None
        _fsync(folder)
    except Exception as err:  # noqa: BLE001 - MXNet reports I/O failures as MXNetError
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        last = latest_checkpoint(folder) if folder.is_dir() else None
        kept = f"the last complete checkpoint, {last}, is kept" if last else "no earlier checkpoint exists"
        raise CheckpointError(f"could not write checkpoint {final}: {_reason(err, folder)}; {kept}. "
                              f"{_advice(err, folder)}") from None
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _disk_full(err: BaseException, folder: Path) -> bool:
    """MXNet reports a full disk as an incomplete write, so the free space is looked at too."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    return getattr(err, "errno", None) == errno.ENOSPC or "No space left" in str(err) or \
        ("Write incomplete" in str(err) and free is not None and free < (16 << 20))


def _reason(err: BaseException, folder: Path) -> str:
    """What went wrong, in one line."""
    if _disk_full(err, folder):
        try:
            return f"the disk is full ({shutil.disk_usage(folder).free // 1024} KiB free)"
        except OSError:
            return "the disk is full"
    if isinstance(err, PermissionError):
        return f"permission denied ({err.filename or folder})"
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    fallback = lines[-1] if lines else repr(err)
    return next((ln for ln in lines if "Check failed" in ln or "Error" in ln), fallback)


def _advice(err: BaseException, folder: Path) -> str:
    if _disk_full(err, folder):
        return "Free some space or choose another --out folder."
    return "Choose an --out folder you can write to."


def _check_int(meta: dict, key: str, high: int, path: Path) -> None:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise CheckpointError(f"{path / META}: {key!r} must be a whole number from 0 to {high}; "
                              f"found {value!r}. The file was edited or damaged: use an earlier "
                              f"checkpoint or start a new run.")


def _check_files(meta: dict, path: Path) -> None:
    files = meta.get("files")
    if not isinstance(files, dict) or PARAMS not in files:
        raise CheckpointError(f"{path / META} does not list its files and their checksums: "
                              f"it was edited or damaged; use an earlier checkpoint.")
    for name, info in files.items():
        if name not in (PARAMS, OPTIMIZER):
            raise CheckpointError(
                f"{path} holds {name}, which d2lnets does not load (optimizer state is read only "
                f"as arrays, never unpickled: a pickle can run code). Resume from a checkpoint "
                f"written by this version, or export the parameters only.")
        if not isinstance(info, dict) or not isinstance(info.get("size"), int) \
                or not isinstance(info.get("sha1"), str):
            raise CheckpointError(f"{path / META}: the entry for {name} is malformed")
        p = path / name
        if not p.is_file() or p.stat().st_size != info["size"] or _sha1(p) != info["sha1"]:
            raise CheckpointError(f"{path}: {name} is missing or does not match its checksum")


#: the most of a meta.json that is read: a 10,000-epoch history takes about 3 MB
MAX_META_BYTES = 16 << 20


def read_meta(path: str | os.PathLike) -> dict:
    """A checkpoint's ``meta.json``, checked: types, bounds and file checksums."""
    path = Path(path)
    try:
        with open(path / META, "rb") as f:
            raw = f.read(MAX_META_BYTES + 1)
        if len(raw) > MAX_META_BYTES:
            raise CheckpointError(f"{path / META} is larger than the {MAX_META_BYTES:,} bytes "
                                  f"d2lnets writes: it is damaged")
        meta = json.loads(raw)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable {META} ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path / META} is not a JSON object")
    _check_int(meta, "epoch", MAX_EPOCH, path)
    _check_int(meta, "batch", MAX_BATCH, path)
    for key, kind in (("history", list), ("partial", (dict, type(None))), ("config", dict),
                      ("optimizer", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise CheckpointError(f"{path / META}: {key!r} has the wrong type")
    sums = ("loss_sum", "correct", "n", "elapsed")
    if isinstance(meta.get("partial"), dict) and not all(
            isinstance(meta["partial"].get(k), (int, float)) for k in sums):
        raise CheckpointError(f"{path / META}: 'partial' lacks its numeric sums")
    _check_files(meta, path)
    return meta


def open_checkpoint(path: str | os.PathLike) -> tuple[Path, dict]:
    """``path`` if it is a checkpoint folder, else the newest complete one in it,
    with its meta, read and checked once."""
    path = Path(path)
    if (path / META).is_file():
        return path, read_meta(path)
    found = _newest(path)
    if found is None and list_checkpoints(path):
        read_meta(list_checkpoints(path)[-1])  # none passes its checks: say why the newest fails
    if found is None:
        raise CheckpointError(f"no complete checkpoint in {path}: nothing to resume. Start a "
                              f"new run, or point --resume at a run's --out folder.")
    return found


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` if it is a checkpoint folder, else the newest complete one in it."""
    return open_checkpoint(path)[0]


def _load_params(path: Path, net: Any, ctx: Any) -> None:
    try:
        net.load_parameters(str(path / PARAMS), ctx=ctx)
    except (AssertionError, MXNetError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path} holds parameters of another model, or of other shapes "
                              f"({mxnet_reason(err)}); resume it with the model and settings it "
                              f"was trained with") from None


def _load_optimizer(path: Path, trainer: Any, meta: dict) -> None:
    if "optimizer" not in meta:
        return
    try:
        arrays = nd.load(str(path / OPTIMIZER)) if OPTIMIZER in meta["files"] else {}
        if not isinstance(arrays, dict):
            raise ValueError("not a dict of arrays")
        set_optimizer_state(trainer, arrays, meta["optimizer"])
    except (MXNetError, ValueError, KeyError, TypeError, IndexError) as err:
        raise CheckpointError(f"{path}: the optimizer state does not fit this run ({err}); "
                              f"resume with the same optimizer and model") from None


def load_checkpoint(path: str | os.PathLike, net: Any, trainer: Any, ctx: Any = None,
                    meta: dict | None = None) -> dict:
    """Load a checkpoint folder (or the newest one in a run folder) into
    ``net`` and ``trainer`` (None: parameters only); return its metadata.
    ``meta``: what :func:`read_meta` gave the caller for ``path`` (not read again)."""
    if meta is None:
        path, meta = open_checkpoint(path)
    path, meta = Path(path), dict(meta)
    _load_params(path, net, ctx)
    if trainer is not None:
        _load_optimizer(path, trainer, meta)
    meta["path"] = str(path)
    return meta
