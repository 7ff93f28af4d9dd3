"""Devices: the book's helpers and --ctx parsing."""
import mxnet as mx
import pytest

import d2lnets as d2l
from d2lnets.devices import parse_ctx


def test_book_helpers_without_gpu():
    assert d2l.try_gpu() == mx.cpu()
    assert d2l.try_all_gpus() == [mx.cpu()]


def test_parse_ctx():
    assert parse_ctx("cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]
    assert parse_ctx("cpu") == [mx.cpu(0)]
    assert parse_ctx("auto") == [d2l.try_gpu()]
    with pytest.raises(ValueError, match="bad context"):
        parse_ctx("cpu:x")
    with pytest.raises(ValueError, match="no GPU"):
        parse_ctx("gpu")
    with pytest.raises(ValueError, match="MXNet sees 0 GPU"):
        parse_ctx("gpu:0")
    with pytest.raises(ValueError, match="names cpu\\(0\\) twice"):
        parse_ctx("cpu:0,cpu:0")


def test_a_huge_cpu_index_is_refused_before_any_memory_is_taken():
    """cpu:99999999999999999999 grew to 24 GB (Gluon pads its device list up to the index):
    now exit 2 at once, under a 4 GB limit that the old behaviour would have hit."""
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--ctx", "cpu:99999999999999999999"], capture_output=True, text=True,
                       timeout=120, preexec_fn=limit)
    assert r.returncode == 2 and "a CPU context index is at most 63" in r.stderr, r.stderr
    with pytest.raises(d2l.UsageError, match="a CPU context index is at most 63"):
        d2l.train_recipe("lenet-bn", ctx=mx.cpu(64), data="sample", log=None)
