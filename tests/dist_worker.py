"""A worker for tests/test_distributed.py, started by d2lnets launch:
trains LeNet-BN on its shard of the sample with dist_sync and saves its parameters.

    python tests/dist_worker.py OUT_DIR [KILL_RANK KILL_AT_BATCH]
"""
import os
import signal
import sys
import time

import mxnet as mx
from mxnet import gluon, init

import d2lnets as d2l
from d2lnets.distributed import join_workers

out = sys.argv[1]
kill_rank = int(sys.argv[2]) if len(sys.argv) > 2 else -1
kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
epochs = int(os.environ.get("DIST_TEST_EPOCHS", "1"))

team = join_workers("dist_sync")
kv, rank, workers = team.kv, team.rank, team.count
train_iter, test_iter = d2l.load_data_fashion_mnist(50, root="sample", seed=0)
train_iter.shard(rank, workers)
d2l.set_seed(rank)  # different local initialisations: the kvstore must make them one
net = d2l.lenet_bn()
net.initialize(init.Xavier())
trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5}, kvstore=kv,
                        update_on_kvstore=True)


class Beat:
    """The watchdog's beat, plus a self-inflicted SIGKILL for the fault test."""

    def __init__(self):
        self.batches = 0

    def beat(self):
        team.watchdog.beat()
        self.batches += 1
        if rank == kill_rank and self.batches == kill_at:
            print(f"KILLING rank {rank} at {time.time():.3f}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), epochs, batch_size=50 * workers,
          watchdog=Beat(), is_root=rank == 0, progress=False)
net.save_parameters(os.path.join(out, f"worker{rank}.params"))
print(f"rank {rank} of {workers} done", flush=True)
