"""``d2lnets train MODEL``: the chapter's examples with the book's settings."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import mxnet as mx
from mxnet import gluon, init

from ..checkpoint import list_checkpoints
from ..data import load_data_fashion_mnist
from ..devices import parse_ctx, try_gpu
from ..distributed import worker_setup
from ..errors import UsageError
from ..models import model_info
from ..training import TrainConfig, default_callbacks, fit, set_seed
from ..training.config import SCHEDULES
from ._args import context, model_name, non_negative_float, non_negative_int, positive_float, positive_int

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a chapter model on Fashion-MNIST",
                       description="Train with the book's settings; every flag overrides one.")
    t.add_argument("model", type=model_name,
                   help="lenet-bn, lenet-bn-scratch, resnet18, densenet, or any registered model")
    t.add_argument("--lr", type=positive_float, help="learning rate (book: 1.0 LeNet-BN, 0.05 "
                   "ResNet-18, 0.1 DenseNet)")
    t.add_argument("--batch-size", type=positive_int, default=256, help="default 256")
    t.add_argument("--epochs", type=positive_int, default=5, help="default 5")
    t.add_argument("--resize", type=positive_int, help="image side (book: 96 for ResNet/DenseNet)")
    t.add_argument("--no-resize", action="store_true", help="train at 28x28")
    t.add_argument("--ctx", type=context, default="auto",
                   help="auto (the book's try_gpu()), cpu, cpu:0,cpu:1, gpu:0, gpu (all)")
    t.add_argument("--data", default=None, help="Fashion-MNIST folder, or 'sample' for the "
                   "shipped sample (default: search, see README)")
    t.add_argument("--out", default=None, help="run folder for checkpoints, history and curves "
                   "(default runs/MODEL)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                   help="continue the run in --out (or in PATH)")
    t.add_argument("--no-verify", action="store_true",
                   help="skip the Fashion-MNIST checksums (other IDX data, e.g. MNIST)")
    t.add_argument("--seed", type=non_negative_int, default=0, help="default 0")
    t.add_argument("--subset", type=positive_int, help="train on the first N images only")
    t.add_argument("--schedule", choices=SCHEDULES, default="constant")
    t.add_argument("--warmup", type=non_negative_float, default=0.0, help="warm-up epochs")
    t.add_argument("--kvstore", default=None, help="device (default), local, or dist_sync "
                   "under `d2lnets launch`")
    t.add_argument("--no-hybridize", action="store_true")
    t.add_argument("--progress", dest="progress", action="store_true", default=None)
    t.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(handler=run_train)


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fresh_run_folder(out: Path) -> None:
    """A new run into a folder holding an earlier run: move the earlier one aside."""
    if out.exists() and (list_checkpoints(out) or (out / "history.jsonl").exists()):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(out.stat().st_mtime))
        moved = out.with_name(f"{out.name}-{stamp}")
        out.rename(moved)
        _note(f"note: the earlier run in {out} was moved to {moved} (use --resume to continue a run)")


class _Workers:
    """The distributed side of a run: kvstore, rank, worker count, watchdog."""

    def __init__(self, args: argparse.Namespace):
        self.kv, self.rank, self.count, self.watchdog = args.kvstore, 0, 1, None
        if self.kv and self.kv.startswith("dist"):
            if args.schedule != "constant" or args.warmup:
                raise UsageError(f"--kvstore {self.kv} runs the optimizer on the servers: use "
                                 f"the constant schedule (no --schedule cosine, no --warmup)")
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


def run_train(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    lr = args.lr if args.lr is not None else info.lr
    resize = None if args.no_resize else (args.resize or info.resize)
    ctxs = [try_gpu()] if args.ctx == "auto" else parse_ctx(args.ctx)
    out = Path(args.out or os.path.join("runs", args.model))
    workers = _Workers(args)
    if args.resume is None and workers.rank == 0:
        _fresh_run_folder(out)
    train_iter, test_iter = load_data_fashion_mnist(args.batch_size, resize=resize, root=args.data,
                                                    seed=args.seed, subset=args.subset,
                                                    verify=not args.no_verify)
    if workers.count > 1:
        train_iter.shard(workers.rank, workers.count)
    set_seed(args.seed)
    net = info.builder()
    net.initialize(init.Xavier(), ctx=ctxs)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr},
                            **workers.trainer_kwargs())
    _note(f"d2lnets: {args.model}, lr {lr}, batch {args.batch_size}, {args.epochs} epochs, "
          f"resize {resize or 28}, {train_iter.num_examples} training images, "
          f"seed {args.seed}, data {train_iter.source}, out {out}"
          + (f", worker {workers.rank}/{workers.count}" if workers.count > 1 else ""))
    # --batch-size is per worker; the servers sum the workers' gradients, so dividing
    # by the global batch makes each step the mean over batch-size x workers images
    config = TrainConfig(args.epochs, args.batch_size * workers.count, not args.no_hybridize,
                         args.seed, args.schedule, args.warmup)
    callbacks = default_callbacks(config, progress=args.progress, out_dir=out,
                                  write=workers.rank == 0, resume=args.resume,
                                  watchdog=workers.watchdog, save_states=not workers.on_servers)
    fit(net, train_iter, test_iter, trainer, ctxs, config, callbacks)
    if workers.rank == 0:
        _note(f"d2lnets: history in {out / 'history.jsonl'}, curves in {out / 'curves.png'}")
    return 0
