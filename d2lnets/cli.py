"""The ``d2lnets`` command: train a chapter model, print a summary, and more.

    d2lnets train lenet-bn            # the book's settings: lr 1.0, batch 256, 5 epochs
    d2lnets train resnet18 --subset 2000 --epochs 1
    d2lnets summary resnet18 --resize 96

stdout carries the book's lines ("training on cpu(0)", "epoch 1, loss ..."); notes go
to stderr. Exit codes: 0 done, 1 a run-time failure (data, checkpoint, diverged),
2 bad arguments, 130 interrupted after a checkpoint.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

# The book's settings per model (lr, resize) live in the registry (models.ModelInfo);
# for all of them: batch 256, 5 epochs, Xavier, SGD.


def _number(cast: type, low: float, inclusive: bool, what: str) -> Any:
    """An argparse type: a finite ``cast`` number >= ``low`` (> ``low`` if not inclusive)."""
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value
    return parse


_positive_int = _number(int, 1, True, "a positive integer")
_non_negative_int = _number(int, 0, True, "an integer >= 0")
_positive_float = _number(float, 0.0, False, "a positive finite number")
_non_negative_float = _number(float, 0.0, True, "a finite number >= 0")


def _model_name(text: str) -> str:
    from .models import list_models
    key = text.strip().lower().replace("_", "-")
    if key.replace("-", "_") in list_models():
        return key
    import difflib
    names = sorted(m.replace("_", "-") for m in list_models())
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise argparse.ArgumentTypeError(f"unknown model {text!r}{hint}; choose from {', '.join(names)}")


def _ctx(text: str) -> str:
    from .devices import parse_ctx
    try:
        parse_ctx(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with usage, never a traceback
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="d2lnets", description="Batch norm, ResNet and DenseNet from Dive into "
                "Deep Learning (MXNet), fast and offline.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a chapter model on Fashion-MNIST",
                       description="Train with the book's settings; every flag overrides one.")
    t.add_argument("model", type=_model_name,
                   help="lenet-bn, lenet-bn-scratch, resnet18, densenet, or any registered model")
    t.add_argument("--lr", type=_positive_float, help="learning rate (book: 1.0 LeNet-BN, 0.05 "
                   "ResNet-18, 0.1 DenseNet)")
    t.add_argument("--batch-size", type=_positive_int, default=256, help="default 256")
    t.add_argument("--epochs", type=_positive_int, default=5, help="default 5")
    t.add_argument("--resize", type=_positive_int, help="image side (book: 96 for ResNet/DenseNet)")
    t.add_argument("--no-resize", action="store_true", help="train at 28x28")
    t.add_argument("--ctx", type=_ctx, default="auto",
                   help="auto (the book's try_gpu()), cpu, cpu:0,cpu:1, gpu:0, gpu (all)")
    t.add_argument("--data", default=None, help="Fashion-MNIST folder, or 'sample' for the "
                   "shipped sample (default: search, see README)")
    t.add_argument("--out", default=None, help="run folder for checkpoints, history and curves "
                   "(default runs/MODEL)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                   help="continue the run in --out (or in PATH)")
    t.add_argument("--no-verify", action="store_true",
                   help="skip the Fashion-MNIST checksums (other IDX data, e.g. MNIST)")
    t.add_argument("--seed", type=_non_negative_int, default=0, help="default 0")
    t.add_argument("--subset", type=_positive_int, help="train on the first N images only")
    t.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    t.add_argument("--warmup", type=_non_negative_float, default=0.0, help="warm-up epochs")
    t.add_argument("--kvstore", default=None, help="device (default), local, or dist_sync "
                   "under `d2lnets launch`")
    t.add_argument("--no-hybridize", action="store_true")
    t.add_argument("--progress", dest="progress", action="store_true", default=None)
    t.add_argument("--no-progress", dest="progress", action="store_false")
    t.set_defaults(handler=cmd_train)

    s = sub.add_parser("summary", help="print a model's layer table")
    s.add_argument("model", type=_model_name)
    s.add_argument("--resize", type=_positive_int, help="image side (default: the model's)")
    s.add_argument("--channels", type=_positive_int, default=1)
    s.add_argument("--batch-size", type=_positive_int, default=1)
    s.add_argument("--classes", type=_positive_int, default=10)
    s.set_defaults(handler=cmd_summary)

    sub.add_parser("models", help="list the registered models").set_defaults(handler=cmd_models)
    from . import distributed, export
    distributed.add_cli(sub)
    export.add_cli(sub)
    return p


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fresh_run_folder(out: Path) -> None:
    """A new run into a folder holding an earlier run: move the earlier one aside."""
    from .checkpoint import list_checkpoints
    if out.exists() and (list_checkpoints(out) or (out / "history.jsonl").exists()):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(out.stat().st_mtime))
        moved = out.with_name(f"{out.name}-{stamp}")
        out.rename(moved)
        _note(f"note: the earlier run in {out} was moved to {moved} (use --resume to continue a run)")


def cmd_train(args: argparse.Namespace) -> int:
    import mxnet as mx
    from mxnet import gluon, init

    from .data import load_data_fashion_mnist
    from .devices import parse_ctx, try_gpu
    from .models import model_info
    from .training import train

    info = model_info(args.model)
    lr = args.lr if args.lr is not None else info.lr
    resize = None if args.no_resize else (args.resize or info.resize)
    ctxs = [try_gpu()] if args.ctx == "auto" else parse_ctx(args.ctx)
    out = Path(args.out or os.path.join("runs", args.model))

    rank, num_workers, kv, watchdog = 0, 1, args.kvstore, None
    if kv and kv.startswith("dist"):
        from .distributed import worker_setup
        if args.schedule != "constant" or args.warmup:
            raise ValueError(f"--kvstore {kv} runs the optimizer on the servers: use the "
                             f"constant schedule (no --schedule cosine, no --warmup)")
        kv, rank, num_workers = worker_setup(kv)
        watchdog = getattr(kv, "d2lnets_watchdog", None)
    if args.resume is None and rank == 0:
        _fresh_run_folder(out)
    train_iter, test_iter = load_data_fashion_mnist(args.batch_size, resize=resize, root=args.data,
                                                    seed=args.seed, subset=args.subset,
                                                    verify=not args.no_verify)
    if num_workers > 1:
        train_iter.shard(rank, num_workers)
    from .training import set_seed
    set_seed(args.seed)
    net = info.builder()
    net.initialize(init.Xavier(), ctx=ctxs)
    trainer_kw = {"kvstore": kv} if kv else {}
    if num_workers > 1 or isinstance(kv, mx.kvstore.KVStore):
        trainer_kw["update_on_kvstore"] = True
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr}, **trainer_kw)
    _note(f"d2lnets: {args.model}, lr {lr}, batch {args.batch_size}, {args.epochs} epochs, "
          f"resize {resize or 28}, {train_iter.num_examples} training images, "
          f"seed {args.seed}, out {out}"
          + (f", worker {rank}/{num_workers}" if num_workers > 1 else ""))
    resume = args.resume if args.resume is not True else True
    # --batch-size is per worker; the servers sum the workers' gradients, so dividing
    # by the global batch makes each step the mean over batch-size x workers images
    train(net, train_iter, test_iter, trainer, ctxs, args.epochs, hybridize=not args.no_hybridize,
          progress=args.progress, out_dir=out, resume=resume, seed=args.seed,
          schedule=args.schedule, warmup_epochs=args.warmup, is_root=(rank == 0),
          watchdog=watchdog, batch_size=args.batch_size * num_workers)
    if rank == 0:
        _note(f"d2lnets: history in {out / 'history.jsonl'}, curves in {out / 'curves.png'}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .models import model_info
    from .summary import summary
    info = model_info(args.model)
    net = info.builder(num_classes=args.classes)
    side = args.resize or info.input_shape[1]
    summary(net, (args.batch_size, args.channels, side, side))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .models import list_models, model_info
    for name in list_models():
        info = model_info(name)
        print(f"{name:<18} {info.doc}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .checkpoint import CheckpointError
    from .data import DataError
    from .training import NonFiniteLossError, TrainingInterrupted
    try:
        return int(args.handler(args) or 0)
    except TrainingInterrupted as err:
        _note(f"d2lnets: {err}")
        return _exit(130)
    except KeyboardInterrupt:
        _note("d2lnets: interrupted")
        return _exit(130)
    except (DataError, CheckpointError, NonFiniteLossError) as err:
        _note(f"d2lnets: error: {err}")
        return _exit(1)
    except (ValueError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        _note(f"d2lnets: error: {msg}")
        return _exit(2)


def _exit(code: int) -> int:
    """A failing parameter-server worker leaves at once: a normal exit would
    wait in the kvstore's shutdown for peers that wait for it."""
    if os.environ.get("DMLC_ROLE") == "worker" and "DMLC_PS_ROOT_URI" in os.environ:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
