"""``d2lnets train MODEL``: the chapter's examples with the book's settings.

A run's configuration is the book's defaults, overridden by what a resumed
checkpoint stored, overridden by what the command line gives. It is stored in
every checkpoint, so ``--resume`` alone continues the run as it was, and
``--resume --lr 0.5`` continues it at another learning rate (recorded in the
history).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import mxnet as mx

from ..checkpoint import read_meta, resolve_checkpoint
from ..devices import parse_ctx, try_gpu
from ..distributed import worker_setup
from ..errors import TrainingInterrupted, UsageError
from ..recipes import OPTIMIZERS, RECIPES, build, resolve, train_config
from ..runfolder import RunFolder
from ..threads import CHOICE
from ..training import default_callbacks, fit
from ..training.config import SCHEDULES
from ..training.signals import StopRequest
from ._args import context, model_name, non_negative_int, number, positive_float, positive_int

__all__ = ["add_parser", "resolve_config"]

#: the largest image side --resize takes (the chapter uses 96; ImageNet's 224 fits)
MAX_SIDE = 512


def add_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a chapter model on Fashion-MNIST",
                       description="Train with the book's settings; every flag overrides one. "
                       "With --resume, flags not given keep the run's values.")
    t.add_argument("model", type=model_name,
                   help="lenet-bn, lenet-bn-scratch, resnet18, densenet, or any registered model")
    t.add_argument("--recipe", choices=sorted({"book", *(r for _, r in RECIPES)}),
                   help="book (the chapter's settings, default) or fast (the book's accuracy in "
                   "minutes on a CPU); see docs/recipes.md")
    t.add_argument("--lr", type=positive_float, help="learning rate (book: 1.0 LeNet-BN, 0.05 "
                   "ResNet-18, 0.1 DenseNet)")
    t.add_argument("--batch-size", type=positive_int, help="default 256")
    t.add_argument("--epochs", type=positive_int, help="default 5")
    side = number(int, 1, True, f"a positive integer (an image side, at most {MAX_SIDE})", MAX_SIDE)
    t.add_argument("--resize", type=side, help="image side (book: 96 for ResNet/DenseNet)")
    t.add_argument("--no-resize", action="store_true", help="train at 28x28")
    t.add_argument("--ctx", type=context, default="auto",
                   help="auto (the book's try_gpu()), cpu, cpu:0,cpu:1, gpu:0, gpu (all)")
    t.add_argument("--data", default=None, help="Fashion-MNIST folder, or 'sample' for the "
                   "shipped sample (default: search, see docs/training.md)")
    t.add_argument("--out", default=None, help="run folder for checkpoints, history and curves "
                   "(default runs/MODEL, or the folder of --resume PATH)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                   help="continue the run in --out (or in PATH)")
    t.add_argument("--no-verify", action="store_true",
                   help="skip the Fashion-MNIST checksums (other IDX data, e.g. MNIST)")
    t.add_argument("--seed", type=non_negative_int, help="default 0")
    t.add_argument("--subset", type=positive_int, help="train on the first N images only")
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--warmup", type=number(float, 0.0, True, "a finite number >= 0 (epochs, "
                                           "at most 1000)", 1000.0), help="warm-up epochs")
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd (book) or nag (Nesterov)")
    t.add_argument("--momentum", type=number(float, 0.0, True, "a momentum in [0, 1)", 0.999))
    t.add_argument("--wd", type=number(float, 0.0, True, "a weight decay in [0, 0.1]", 0.1),
                   help="weight decay")
    t.add_argument("--label-smoothing", type=number(float, 0.0, True, "a number in [0, 0.5]", 0.5))
    t.add_argument("--shift", type=number(int, 0, True, "whole pixels in [0, 16]", 16),
                   help="shift training images up to this many pixels (a padded random crop)")
    t.add_argument("--flip", dest="flip", action="store_true", default=None,
                   help="mirror half the training images")
    t.add_argument("--no-flip", dest="flip", action="store_false")
    t.add_argument("--tta", dest="tta_flip", action="store_true", default=None,
                   help="test on each image and its mirror image")
    t.add_argument("--no-tta", dest="tta_flip", action="store_false")
    t.add_argument("--kvstore", default=None, help="device (default), local, or dist_sync "
                   "under `d2lnets launch`")
    t.add_argument("--target-acc", type=number(float, 0.0, False, "a test accuracy in (0, 1]", 1.0),
                   help="stop as soon as the test accuracy reaches this, and say when")
    t.add_argument("--no-hybridize", action="store_true")
    t.add_argument("--low-memory", action="store_true", help="about half the memory, about "
                   "20%% slower (no static allocation)")
    t.add_argument("--progress", dest="progress", action="store_true", default=None)
    t.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(handler=run_train)


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _given(args: argparse.Namespace) -> dict:
    """What the command line says, leaving out what it does not."""
    given = {"recipe": args.recipe, "lr": args.lr, "batch_size": args.batch_size,
             "epochs": args.epochs, "seed": args.seed, "subset": args.subset,
             "schedule": args.schedule, "warmup": args.warmup, "data": args.data,
             "optimizer": args.optimizer, "momentum": args.momentum, "wd": args.wd,
             "label_smoothing": args.label_smoothing, "shift": args.shift, "flip": args.flip,
             "tta_flip": args.tta_flip}
    given = {k: v for k, v in given.items() if v is not None}
    if args.no_resize or args.resize is not None:
        given["resize"] = None if args.no_resize else args.resize
    if args.no_verify:
        given["verify"] = False
    return given


def resolve_config(args: argparse.Namespace, stored: dict | None) -> dict:
    """The book's defaults < the recipe's < the resumed run's stored values < the command line."""
    return resolve(args.model, "book", stored, _given(args))


class _Workers:
    """The distributed side of a run: kvstore, rank, worker count, watchdog."""

    def __init__(self, args: argparse.Namespace):
        self.kv, self.rank, self.count, self.watchdog = args.kvstore, 0, 1, None
        if self.kv and self.kv.startswith("dist"):
            if args.schedule not in (None, "constant") or args.warmup or args.recipe not in (None, "book"):
                raise UsageError(f"--kvstore {self.kv} runs the optimizer on the servers: use "
                                 f"the book's recipe and constant schedule (no --recipe fast, "
                                 f"no --schedule, no --warmup)")
            self.kv, self.rank, self.count = worker_setup(self.kv)
            self.watchdog = getattr(self.kv, "d2lnets_watchdog", None)

    @property
    def on_servers(self) -> bool:
        """The optimizer runs on the parameter servers: its states cannot be saved here."""
        return isinstance(self.kv, mx.kvstore.KVStore) and "dist" in self.kv.type

    def trainer_kwargs(self) -> dict:
        kw: dict[str, Any] = {"kvstore": self.kv} if self.kv else {}
        if self.count > 1 or isinstance(self.kv, mx.kvstore.KVStore):
            kw["update_on_kvstore"] = True
        return kw


def _folders(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(the run folder to write, the checkpoint to resume from or None)."""
    if args.resume is None:
        return Path(args.out or Path("runs") / args.model), None
    source = Path(args.out or Path("runs") / args.model) if args.resume is True else Path(args.resume)
    ckpt = resolve_checkpoint(source)
    return Path(args.out) if args.out else ckpt.parent, ckpt


def _train(args: argparse.Namespace, stop: StopRequest, folder: RunFolder | None,
           workers: _Workers, out: Path, ckpt: Path | None) -> None:
    config = resolve_config(args, read_meta(ckpt).get("config") if ckpt else None)
    config["workers"] = workers.count
    if folder is not None:
        moved = folder.prepare(fresh=ckpt is None or ckpt.parent.resolve() != out.resolve())
        if moved:
            _note(f"note: the earlier run in {out} was moved to {moved} (use --resume to continue a run)")
    ctxs = [try_gpu()] if args.ctx == "auto" else parse_ctx(args.ctx)
    net, trainer, train_iter, test_iter = build(config, ctxs, workers.trainer_kwargs(),
                                                (workers.rank, workers.count))
    arch = f" as {config['arch']}" if config["arch"] else ""
    _note(f"d2lnets: {config['model']} ({config['recipe']} recipe{arch}), lr {config['lr']}, "
          f"batch {config['batch_size']}, "
          f"{config['epochs']} epochs, resize {config['resize'] or 28}, "
          f"{train_iter.num_examples} training images, seed {config['seed']}, "
          f"data {train_iter.source}, out {out}, {CHOICE.threads or 'default'} OpenMP threads"
          + (f", worker {workers.rank}/{workers.count}" if workers.count > 1 else ""))
    if stop.requested:
        raise TrainingInterrupted(f"{stop.name}: stopped before training started; nothing was "
                                  f"changed in {out}.", None, stop.signum)
    # --batch-size is per worker; the servers sum the workers' gradients, so dividing
    # by the global batch makes each step the mean over batch-size x workers images
    loop_config = train_config(config, config["batch_size"] * workers.count,
                               hybridize=not args.no_hybridize, low_memory=args.low_memory)
    callbacks = default_callbacks(loop_config, progress=args.progress, out_dir=out,
                                  write=folder is not None, resume=ckpt, watchdog=workers.watchdog,
                                  save_states=not workers.on_servers, config_record=config,
                                  target_acc=args.target_acc)
    fit(net, train_iter, test_iter, trainer, ctxs, loop_config, callbacks, stop=stop)
    if folder is not None:
        _note(f"d2lnets: history in {out / 'history.jsonl'}, curves in {out / 'curves.png'}")


def run_train(args: argparse.Namespace) -> int:
    with StopRequest() as stop:  # from the start: Ctrl-C always means 130, never a traceback
        workers = _Workers(args)
        out, ckpt = _folders(args)
        if workers.rank != 0:  # only rank 0 writes the run folder
            _train(args, stop, None, workers, out, ckpt)
            return 0
        with RunFolder(out) as folder:
            _train(args, stop, folder, workers, out, ckpt)
    return 0
