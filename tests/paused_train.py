"""``d2lnets train`` that holds still at one batch until its stdin closes.

The fault tests send their real SIGINT while the run waits here, so the signal
lands inside an epoch on any machine, fast or loaded, instead of racing a
sub-second epoch. Usage: ``python paused_train.py EPOCH BATCH <train args>``;
``EPOCH BATCH`` = ``-1 -1`` holds still when ``fit`` is called, before any batch;
``-2 -2`` when ``fit`` has returned, the run complete.
"""
import sys

from d2lnets.cli import main
from d2lnets.training import loop
from d2lnets.training import run as run_factory

EPOCH, BATCH = int(sys.argv[1]), int(sys.argv[2])
_real_step, _real_fit = loop.train_step, run_factory.fit


def _paused_fit(*args, **kwargs):
    print("paused at fit", file=sys.stderr, flush=True)
    sys.stdin.read()
    return _real_fit(*args, **kwargs)


def _paused_step(run, X, y):
    if (run.epoch, run.batch) == (EPOCH, BATCH):
        print(f"paused at epoch {EPOCH} batch {BATCH}", file=sys.stderr, flush=True)
        sys.stdin.read()  # the test signals, then closes our stdin
    return _real_step(run, X, y)


def _fit_then_pause(*args, **kwargs):
    history = _real_fit(*args, **kwargs)
    print("paused at end", file=sys.stderr, flush=True)
    sys.stdin.read()
    return history


loop.train_step = _paused_step
if EPOCH == -1:
    run_factory.fit = _paused_fit
elif EPOCH == -2:
    run_factory.fit = _fit_then_pause
sys.exit(main(["train", *sys.argv[3:]]))
