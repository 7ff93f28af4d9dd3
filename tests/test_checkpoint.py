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
    d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), epochs, log=None, out=out)
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
        d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 2, log=None, out=tmp_path,
                  resume=True)
    assert [p.name for p in C.list_checkpoints(tmp_path)] == ["ckpt-0001-00000"]
    assert no_temporaries(tmp_path)


# ---- loading a run someone else wrote ---------------------------------------------------
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402

import numpy as np  # noqa: E402
from mxnet import autograd, nd  # noqa: E402


def _sha1(path):
    return hashlib.sha1(path.read_bytes()).hexdigest()


class _Payload:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_optimizer_state_is_refused_and_never_run(tmp_path):
    _train_lenet(tmp_path / "run", 1)
    ckpt = C.latest_checkpoint(tmp_path / "run")
    marker = tmp_path / "pwned"
    (ckpt / "trainer.states").write_bytes(pickle.dumps(_Payload(marker)))
    meta = json.loads((ckpt / C.META).read_text())
    meta["files"]["trainer.states"] = {"size": (ckpt / "trainer.states").stat().st_size,
                                       "sha1": _sha1(ckpt / "trainer.states")}
    (ckpt / C.META).write_text(json.dumps(meta))
    net = d2l.lenet_bn()
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with pytest.raises(C.CheckpointError, match="holds trainer.states, which d2lnets does not load"):
        C.load_checkpoint(ckpt, net, trainer)
    assert not marker.exists()
    assert sorted(p.name for p in ckpt.iterdir()) == ["meta.json", "net.params", "trainer.states"]


def _momentum_lenet(seed):
    d2l.set_seed(seed)
    net = d2l.lenet_bn()
    net.initialize(init.Xavier())
    return net, gluon.Trainer(net.collect_params(), "sgd",
                              {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4})


def _steps(net, trainer, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        X = nd.array(rng.random((8, 1, 28, 28), dtype=np.float32))
        y = nd.array(rng.integers(0, 10, 8))
        with autograd.record():
            loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(X), y)
        loss.backward()
        trainer.step(8)


def test_momentum_state_round_trips_as_arrays(tmp_path):
    """Saved as NDArrays + JSON, loaded into a fresh trainer: the next steps equal
    those of the trainer that never stopped."""
    net, trainer = _momentum_lenet(0)
    _steps(net, trainer, 3, 1)
    path = C.save_checkpoint(tmp_path, net, trainer, {"epoch": 0, "batch": 3})
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "net.params", "optimizer.arrays"]
    arrays = nd.load(str(path / C.OPTIMIZER))
    assert isinstance(arrays, dict) and len(arrays) == sum(p.grad_req != "null" for p in net.collect_params().values())
    net2, trainer2 = _momentum_lenet(5)
    C.load_checkpoint(path, net2, trainer2)
    _steps(net, trainer, 2, 2)
    _steps(net2, trainer2, 2, 2)
    for (k, a), b in zip(net.collect_params().items(), net2.collect_params().values()):
        np.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy(), err_msg=k)
    assert trainer2._optimizer.num_update == trainer._optimizer.num_update == 5


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(epoch="3"), "'epoch' must be a whole number"),
    (lambda m: m.update(batch=10**12), "'batch' must be a whole number from 0 to"),
    (lambda m: m.pop("files"), "does not list its files"),
    (lambda m: m.update(history={"a": 1}), "'history' has the wrong type"),
    (lambda m: m.update(partial={"n": "x"}), "'partial' lacks its numeric sums"),
    (lambda m: m["files"]["net.params"].update(size="big"), "entry for net.params is malformed"),
], ids=["epoch-string", "huge-batch", "no-files", "history-dict", "partial", "size-string"])
def test_a_hand_edited_meta_json_is_refused(tmp_path, edit, message):
    _train_lenet(tmp_path, 2)
    first, second = C.list_checkpoints(tmp_path)
    meta = json.loads((second / C.META).read_text())
    edit(meta)
    (second / C.META).write_text(json.dumps(meta))
    with pytest.raises(C.CheckpointError, match=message):
        C.read_meta(second)
    assert C.latest_checkpoint(tmp_path) == first  # the edited one is passed over


def test_another_models_parameters_are_named(tmp_path):
    _train_lenet(tmp_path, 1)
    net = d2l.resnet18()
    with pytest.raises(C.CheckpointError, match="holds parameters of another model"):
        C.load_checkpoint(tmp_path, net, None)


def test_a_huge_meta_json_is_passed_over_without_reading_it(tmp_path):
    """`truncate -s 3G meta.json`: the resume must not read 3 GB (it did, then
    failed as a bug); under a 1.5 GB data limit it resumes from the checkpoint before."""
    import resource
    import subprocess
    import sys
    args = [sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample", "--subset",
            "200", "--batch-size", "100", "--out", str(tmp_path), "--no-progress"]
    r = subprocess.run(args + ["--epochs", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    first, second = C.list_checkpoints(tmp_path)
    with open(second / C.META, "r+b") as f:
        f.truncate(3 << 30)  # sparse: no disk used

    def limit():
        resource.setrlimit(resource.RLIMIT_DATA, (1536 << 20, 1536 << 20))
    r = subprocess.run(args + ["--epochs", "3", "--resume"], capture_output=True, text=True,
                       timeout=300, preexec_fn=limit)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming from {first}" in r.stdout and "epoch 2," in r.stdout
