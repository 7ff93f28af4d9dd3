"""``d2lnets train MODEL``: the chapter's examples with the book's settings.

Every setting's flag is generated from :class:`~d2lnets.config.RunConfig`
(type, bounds, help), so the command line cannot disagree with the library.
The run is built and trained by :func:`~d2lnets.run.train_run`; this module
only turns the flags into its arguments. ``--resume`` alone continues a run as
it was; a flag given with it changes that setting (recorded in the history).
"""
from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..checkpoint import resolve_checkpoint
from ..config import SETTINGS, RunConfig, expected, kind_of
from ..devices import parse_ctx
from ..recipes import RECIPES
from ..training.run import train_run
from ..training.signals import StopRequest
from ._args import context, model_name, number, out_folder
from ._parser import note

__all__ = ["add_parser", "add_setting_flags", "given_settings"]


def _flag_type(f: Any) -> Any:
    """An argparse type for a number field, checked by the field's own bounds."""
    cast = int if kind_of(f) == "int" else float

    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {f.metadata['what']}, got {text!r}") from None
        want = expected(f, value)
        if want is not None:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text}")
        return value
    return parse


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`RunConfig` field that has one (``flag=None``: none;
    ``negative``: the flag that sets False or None). Flags not given are absent
    from the namespace, so what the user set is known exactly."""
    recipes = tuple(sorted({"book", *(r for _, r in RECIPES)}))
    for f in fields(RunConfig):
        meta, dest = f.metadata, f.name
        flag = meta["flag"] if meta["flag"] != "" else "--" + dest.replace("_", "-")
        kind = kind_of(f)
        choices = recipes if dest == "recipe" else meta["choices"]
        shown = f.default not in (None, True, False) and dest != "recipe"
        help_text = meta["help"] + (f" (default {f.default})" if shown else "")
        common = {"dest": dest, "default": argparse.SUPPRESS, "help": help_text.replace("%", "%%")}
        if not flag:
            pass
        elif kind == "bool":
            parser.add_argument(flag, action="store_true", **common)
        elif choices:
            parser.add_argument(flag, choices=choices, **common)
        else:
            parser.add_argument(flag, type=str if kind == "str" else _flag_type(f), **common)
        if meta["negative"]:
            parser.add_argument(meta["negative"], action="store_const",
                                const=False if kind == "bool" else None,
                                **{**common, "help": meta["negative_help"] or None})


def given_settings(args: argparse.Namespace) -> dict:
    """The settings the command line set (and only those)."""
    return {k: getattr(args, k) for k in SETTINGS if hasattr(args, k) and k != "model"}


def add_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a chapter model on Fashion-MNIST",
                       description="Train with the book's settings; every flag overrides one. "
                       "With --resume, flags not given keep the run's values.")
    t.add_argument("model", type=model_name,
                   help="lenet-bn, lenet-bn-scratch, resnet18, densenet, or any registered model")
    add_setting_flags(t)
    t.add_argument("--ctx", type=context, default="auto",
                   help="auto (the book's try_gpu()), cpu, cpu:0,cpu:1, gpu:0, gpu (all)")
    t.add_argument("--out", type=out_folder, default=None, help="run folder for checkpoints, "
                   "history and curves (default runs/MODEL, or the folder of --resume PATH)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                   help="continue the run in --out (or in PATH)")
    t.add_argument("--kvstore", default=None, help="device (default), local, or dist_sync "
                   "under `d2lnets launch`")
    t.add_argument("--target-acc", type=number(float, 0.0, False, "a test accuracy in (0, 1]", 1.0),
                   help="stop as soon as the test accuracy reaches this, and say when")
    t.add_argument("--progress", dest="progress", action="store_true", default=None)
    t.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(handler=run_train)


def _folders(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(the run folder to write, the checkpoint to resume from or None)."""
    default = Path(args.out or Path("runs") / args.model)
    if args.resume is None:
        return default, None
    ckpt = resolve_checkpoint(default if args.resume is True else Path(args.resume))
    return (Path(args.out) if args.out else ckpt.parent), ckpt


def run_train(args: argparse.Namespace) -> int:
    with StopRequest() as stop:  # from the start: Ctrl-C always means 130, never a traceback
        out, ckpt = _folders(args)
        train_run(args.model, None, given_settings(args), ctx=parse_ctx(args.ctx), out=out,
                  resume=ckpt, note=note, progress=args.progress, kvstore=args.kvstore, stop=stop,
                  target_acc=args.target_acc)
        if (out / "history.jsonl").exists():
            note(f"d2lnets: history in {out / 'history.jsonl'}, curves in {out / 'curves.png'}")
        if stop.requested:
            note(f"d2lnets: {stop.name} came after the run had finished; it is complete and "
                 f"saved")
    return 0
