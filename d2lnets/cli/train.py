"""``d2lnets train MODEL``: the chapter's examples with the book's settings.

Every setting's flag is generated from :class:`~d2lnets.config.RunConfig`
(type, bounds, help), so the command line cannot disagree with the library.
The run is planned by :func:`~d2lnets.training.plan.plan_run` and built and
trained by :func:`~d2lnets.training.run.run_plan`; this module only turns the
flags into their arguments. ``--resume`` alone continues a run as
it was; a flag given with it changes that setting (recorded in the history).
"""
from __future__ import annotations

import argparse
import functools
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..config import SETTINGS, RunConfig, expected, kind_of
from ..devices import parse_ctx
from ..recipes import RECIPES
from ..training.plan import plan_run
from ..training.run import run_plan
from ..training.signals import StopRequest
from ._args import checked, context, model_name, number, out_folder
from ._parser import note

__all__ = ["add_parser", "add_setting_flags", "given_settings"]


def add_setting_flags(parser: argparse.ArgumentParser, choices: dict | None = None) -> None:
    """One flag per :class:`RunConfig` field that has one (``flag=None``: none;
    ``negative``: the flag that sets False or None); ``choices``: a field's
    choices known only now (the recipes registered). Flags not given are absent
    from the namespace, so what the user set is known exactly."""
    for f in fields(RunConfig):
        meta, dest = f.metadata, f.name
        flag = meta["flag"] if meta["flag"] != "" else "--" + dest.replace("_", "-")
        kind = kind_of(f)
        options = (choices or {}).get(dest) or meta["choices"]
        shown = f.default not in (None, True, False) and dest not in (choices or {})
        help_text = meta["help"] + (f" (default {f.default})" if shown else "")
        common = {"dest": dest, "default": argparse.SUPPRESS, "help": help_text.replace("%", "%%")}
        if not flag:
            pass
        elif kind == "bool":
            parser.add_argument(flag, action="store_true", **common)
        elif options:
            parser.add_argument(flag, choices=options, **common)
        elif kind == "str":
            parser.add_argument(flag, type=str, **common)
        else:
            check = functools.partial(expected, f)
            cast = int if kind == "int" else float
            parser.add_argument(flag, type=checked(cast, meta["what"], check), **common)
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
    add_setting_flags(t, {"recipe": tuple(sorted({"book", *(r.name for r in RECIPES)}))})
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


def run_train(args: argparse.Namespace) -> int:
    with StopRequest() as stop:  # from the start: Ctrl-C always means 130, never a traceback
        resumes_a_path = args.resume not in (None, True)
        out = args.out or (None if resumes_a_path else Path("runs") / args.model)
        plan = plan_run(args.model, None, given_settings(args), out, args.resume,
                        kvstore=args.kvstore)
        run_plan(plan, ctx=parse_ctx(args.ctx), note=note, progress=args.progress,
                 kvstore=args.kvstore, stop=stop, target_acc=args.target_acc)
        out = plan.out
        if (out / "history.jsonl").exists():
            note(f"d2lnets: history in {out / 'history.jsonl'}, curves in {out / 'curves.png'}")
        if stop.requested:
            note(f"d2lnets: {stop.name} came after the run had finished; it is complete and "
                 f"saved")
    return 0
