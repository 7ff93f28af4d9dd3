"""What the repeatable Nesterov update costs: training steps per second with MXNet's fused
``nag_mom_update`` and with d2lnets' ``NesterovSGD``, in one process, alternating rounds.

    python bench/optimizer.py [--models lenet-bn resnet18-small resnet18] [--steps 30]

Prints one line per model: the median step time of each and the ratio (ours / fused).
"""
from __future__ import annotations

import argparse
import statistics
import time

import mxnet as mx
from mxnet import autograd, gluon, init, nd

import d2lnets as d2l
from d2lnets.training.optimizer import NesterovSGD


def step_time(model: str, optimizer, steps: int, batch: int = 256) -> float:
    """Seconds per training step (forward, backward, update) after two warm-up steps."""
    d2l.set_seed(0)
    net = d2l.get_model(model)
    net.initialize(init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), optimizer)
    side = d2l.model_info(model).input_shape[1]
    X, y = nd.random.uniform(shape=(batch, 1, side, side)), nd.arange(batch) % 10
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for k in range(steps + 2):
        if k == 2:
            nd.waitall()
            start = time.perf_counter()
        with autograd.record():
            value = loss(net(X), y)
        value.backward()
        trainer.step(batch)
    nd.waitall()
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lenet-bn", "resnet18-small"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    opts = {"learning_rate": 0.05, "momentum": 0.9, "wd": 5e-4}
    for model in args.models:
        fused, ours = [], []
        for _ in range(args.rounds):  # alternate, so that a noisy neighbour hits both
            fused.append(step_time(model, mx.optimizer.NAG(**opts), args.steps))
            ours.append(step_time(model, NesterovSGD(**opts), args.steps))
        f, o = statistics.median(fused), statistics.median(ours)
        print(f"{model:<16} fused nag_mom_update {f * 1e3:7.1f} ms/step   NesterovSGD "
              f"{o * 1e3:7.1f} ms/step   ratio {o / f:.3f}")


if __name__ == "__main__":
    main()
