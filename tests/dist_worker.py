"""A worker for tests/test_distributed.py, started by d2lnets launch: runs what a user
runs, ``d2lnets train lenet-bn --kvstore dist_sync`` on the sample, and saves the
parameters it trained (every worker's, where the command saves rank 0's run only).

    python tests/dist_worker.py OUT_DIR [KILL_RANK KILL_AT_BATCH]

KILL_RANK kills itself with SIGKILL before batch KILL_AT_BATCH (counted by the
watchdog's beats, one per batch), for the fault tests.
"""
import os
import signal
import sys
import time

from d2lnets import distributed
from d2lnets.cli import main
from d2lnets.cli import train as command
from d2lnets.training import run as runs

out = sys.argv[1]
kill_rank = int(sys.argv[2]) if len(sys.argv) > 2 else -1
kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
epochs = os.environ.get("DIST_TEST_EPOCHS", "1")
beats, team = [], {}
beat, join, run_plan = distributed.Watchdog.beat, runs.join_workers, command.run_plan


def counted(dog):
    """The watchdog beats once as the kvstore is made, then once per batch."""
    beats.append(1)
    if team and team["workers"].rank == kill_rank and len(beats) == kill_at + 1:
        print(f"KILLING rank {kill_rank} at {time.time():.3f}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    beat(dog)


def joined(*args, **kwargs):
    team["workers"] = join(*args, **kwargs)
    return team["workers"]


def saving(*args, **kwargs):
    trained = run_plan(*args, **kwargs)
    rank = team.pop("workers").rank
    trained.net.save_parameters(os.path.join(out, f"worker{rank}.params"))
    print(f"rank {rank} of {trained.config.workers} done", flush=True)
    return trained


distributed.Watchdog.beat, runs.join_workers, command.run_plan = counted, joined, saving
sys.exit(main(["train", "lenet-bn", "--kvstore", "dist_sync", "--data", "sample", "--batch-size",
               "50", "--lr", "0.5", "--epochs", epochs, "--seed", "0", "--no-progress",
               "--out", os.path.join(out, "run")]))
