"""Devices: the book's helpers, --ctx parsing, and OpenMP threads on every usable core."""
import os
import subprocess
import sys

import mxnet as mx
import pytest

import d2lnets as d2l
from d2lnets.devices import parse_ctx
from d2lnets.threads import usable_cores

PROBE = """
import os, sys
if sys.argv[1] == "mxnet-first":
    import mxnet
import d2lnets, mxnet as mx
from mxnet import nd
before = len(os.listdir("/proc/self/task"))
x = nd.random.uniform(shape=(16, 16, 32, 32))
nd.Convolution(x, nd.ones((16, 16, 3, 3)), kernel=(3, 3), num_filter=16, no_bias=True).wait_to_read()
print(os.environ["OMP_NUM_THREADS"], len(os.listdir("/proc/self/task")) - before)
"""


def probe(order, env):
    full = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full.update(env)
    r = subprocess.run([sys.executable, "-c", PROBE, order], capture_output=True, text=True,
                       env=full, timeout=120)
    assert r.returncode == 0, r.stderr
    return [int(v) for v in r.stdout.split()]


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core")
@pytest.mark.parametrize("order", ["d2lnets-first", "mxnet-first"])
def test_every_usable_core_whatever_the_import_order(order):
    threads, new_all = probe(order, {})
    assert threads == usable_cores()
    # what MXNet really does: its worker's OpenMP team has one thread per core
    _, new_one = probe(order, {"OMP_NUM_THREADS": "1"})
    assert new_all - new_one == usable_cores() - 1


def test_the_users_choice_wins():
    threads, _ = probe("d2lnets-first", {"OMP_NUM_THREADS": "1"})
    assert threads == 1


def test_book_helpers_without_gpu():
    assert d2l.try_gpu() == mx.cpu()
    assert d2l.try_all_gpus() == [mx.cpu()]


def test_parse_ctx():
    assert parse_ctx("cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]
    assert parse_ctx("cpu") == [mx.cpu(0)]
    assert parse_ctx("auto") == d2l.try_all_gpus()
    with pytest.raises(ValueError, match="bad context"):
        parse_ctx("cpu:x")
    with pytest.raises(ValueError, match="no GPU"):
        parse_ctx("gpu")
