"""Checkpoints in process: a torn file is skipped, a full disk keeps the last one."""
import errno

import mxnet as mx
import pytest
from mxnet import gluon, init

import d2lnets as d2l
from d2lnets import checkpoint as C


def no_temporaries(folder):
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def _train_lenet(out, epochs):
    """LeNet-BN trained on the sample with checkpoints in ``out``: (net, trainer, iterators)."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
    d2l.set_seed(0)
    net = d2l.lenet_bn()
    net.initialize(init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), epochs, log=None, out_dir=out)
    return net, trainer, train_iter, test_iter


def test_a_corrupted_checkpoint_is_skipped(tmp_path):
    net, trainer, _, _ = _train_lenet(tmp_path, 2)
    first, second = C.list_checkpoints(tmp_path)
    with open(second / C.PARAMS, "r+b") as f:  # a torn write on a disk without fsync
        f.seek(100)
        f.write(b"\0" * 64)
    assert C.latest_checkpoint(tmp_path) == first
    with pytest.raises(C.CheckpointError, match="checksum"):
        C.load_checkpoint(second, net, trainer)


def test_full_disk_in_process_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    net, trainer, train_iter, test_iter = _train_lenet(tmp_path, 1)
    real = net.save_parameters

    def full(path, *a, **k):
        real(path, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(net, "save_parameters", full)
    with pytest.raises(d2l.CheckpointError, match=r"the disk is full.*ckpt-0001-00000, is kept"):
        d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 2, log=None, out_dir=tmp_path,
                  resume=True)
    assert [p.name for p in C.list_checkpoints(tmp_path)] == ["ckpt-0001-00000"]
    assert no_temporaries(tmp_path)
