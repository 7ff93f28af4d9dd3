"""A worker for tests/test_distributed.py, started by d2lnets launch: trains
LeNet-BN on its shard of the sample with dist_sync, as a user's script would
(``train_recipe(..., kvstore="dist_sync")``), and saves its parameters.

    python tests/dist_worker.py OUT_DIR [KILL_RANK KILL_AT_BATCH]

KILL_RANK kills itself with SIGKILL before batch KILL_AT_BATCH (counted by the
watchdog's beats, one per batch), for the fault tests.
"""
import os
import signal
import sys
import time

import d2lnets as d2l
from d2lnets import distributed
from d2lnets.training import run as runs

out = sys.argv[1]
kill_rank = int(sys.argv[2]) if len(sys.argv) > 2 else -1
kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
epochs = int(os.environ.get("DIST_TEST_EPOCHS", "1"))
beats, team = [], {}
beat, join = distributed.Watchdog.beat, runs.join_workers


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


distributed.Watchdog.beat, runs.join_workers = counted, joined
run = d2l.train_recipe("lenet-bn", kvstore="dist_sync", data="sample", batch_size=50, lr=0.5,
                       epochs=epochs, seed=0, log=None)
rank = team["workers"].rank
run.net.save_parameters(os.path.join(out, f"worker{rank}.params"))
print(f"rank {rank} of {run.config.workers} done", flush=True)
