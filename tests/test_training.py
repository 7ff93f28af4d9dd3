"""train / train_ch5: the book's lines, learning, several contexts, checkpoints and resume."""
import json
import math
import os
import re
import signal

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon, init, nd
from mxnet.gluon import nn

import d2lnets as d2l
from d2lnets import checkpoint as C
from d2lnets.checkpoint import list_checkpoints
from d2lnets.training import lr_schedule

LINE = re.compile(r"^epoch \d+, loss \d+\.\d{4}, train acc \d\.\d{3}, test acc \d\.\d{3}, time \d+\.\d sec$")


def lenet(seed=0, ctx=None, lr=1.0):
    d2l.set_seed(seed)
    net = d2l.lenet_bn()
    net.initialize(init.Xavier(), ctx=ctx or mx.cpu())
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})


def params(net):
    """Parameters by their place in the net (as save_parameters names them)."""
    return {k: v.data(v.list_ctx()[0]).asnumpy() for k, v in net._collect_params_with_prefix().items()}


def test_train_ch5_prints_the_books_lines(capsys):
    train_iter, test_iter = d2l.load_data_fashion_mnist(64, root="sample", subset=256)
    net, trainer = lenet()
    d2l.train_ch5(net, train_iter, test_iter, 64, trainer, mx.cpu(), 2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "training on cpu(0)"
    assert len(lines) == 3 and all(LINE.match(ln) for ln in lines[1:]), lines


def test_short_run_on_the_sample_learns():
    train_iter, test_iter = d2l.load_data_fashion_mnist(32, root="sample")
    net, trainer = lenet(lr=0.1)
    hist = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 3, log=None, progress=False)
    assert hist.epochs[-1]["test_acc"] > 0.6  # chance is 0.1; 0.73 here
    assert hist.epochs[-1]["train_acc"] > 0.65
    assert hist.epochs[-1]["loss"] < hist.epochs[0]["loss"]


def test_history_matches_a_numpy_recount():
    """The on-device sums equal a recount of the same epoch's predictions."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
    net, trainer = lenet()
    hist = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 1, log=None)
    X = nd.array(d2l.data.load_fashion_mnist_arrays("sample")["test"][0][:, None] / 255.0)
    y = d2l.data.load_fashion_mnist_arrays("sample")["test"][1]
    acc = float((net(X).argmax(axis=1).asnumpy() == y).mean())
    assert math.isclose(hist.epochs[0]["test_acc"], acc, abs_tol=1e-9)


def mlp(seed, ctx):
    d2l.set_seed(seed)
    net = nn.HybridSequential()
    net.add(nn.Dense(32, activation="relu"), nn.Dense(10))
    net.initialize(init.Xavier(), ctx=ctx)
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.3})


def test_two_contexts_equal_one_without_batch_norm():
    """Splitting a batch over cpu(0), cpu(1) and summing gradients is exact."""
    results = []
    for ctx in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample", seed=3)
        net, trainer = mlp(0, ctx)
        hist = d2l.train(net, train_iter, test_iter, trainer, ctx, 2, log=None)
        results.append((hist, params(net)))
        assert all(np.array_equal(p.data(ctx[0]).asnumpy(), p.data(ctx[-1]).asnumpy())
                   for p in net.collect_params().values())
    (h1, p1), (h2, p2) = results
    for k in p1:
        np.testing.assert_allclose(p1[k], p2[k], rtol=1e-4, atol=1e-5)
    for a, b in zip(h1.epochs, h2.epochs):
        assert abs(a["loss"] - b["loss"]) < 1e-4 and abs(a["test_acc"] - b["test_acc"]) < 1e-9


def test_two_contexts_lenet_bn_close_to_one():
    """With BN each device normalises its half batch, so only close, not equal."""
    accs = []
    for ctx in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        train_iter, test_iter = d2l.load_data_fashion_mnist(64, root="sample", seed=1)
        net, trainer = lenet(0, ctx, lr=0.5)
        hist = d2l.train(net, train_iter, test_iter, trainer, ctx, 2, log=None)
        accs.append(hist.epochs[-1]["train_acc"])
    assert abs(accs[0] - accs[1]) < 0.08, accs


def test_checkpoint_then_resume_equals_one_run(tmp_path):
    def fresh():
        train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample", seed=5)
        net, trainer = lenet(0)
        return net, trainer, train_iter, test_iter
    net, trainer, tr, te = fresh()
    full = d2l.train(net, tr, te, trainer, mx.cpu(), 3, log=None, out=tmp_path / "a", seed=5)
    ref = params(net)

    net, trainer, tr, te = fresh()
    d2l.train(net, tr, te, trainer, mx.cpu(), 1, log=None, out=tmp_path / "b", seed=5)
    net, trainer, tr, te = fresh()  # a new process would start from scratch like this
    net.initialize(init.Uniform(5), force_reinit=True)  # resume must overwrite everything
    hist = d2l.train(net, tr, te, trainer, mx.cpu(), 3, log=None, out=tmp_path / "b",
                     resume=True, seed=5)
    for k, v in params(net).items():
        np.testing.assert_array_equal(v, ref[k], err_msg=k)
    strip = lambda h: [{k: v for k, v in r.items() if k != "time"} for r in h.epochs]
    assert strip(hist) == strip(full)
    rows = [json.loads(ln) for ln in (tmp_path / "b" / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (tmp_path / "b" / "curves.png").stat().st_size > 1000
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == ["ckpt-0002-00000", "ckpt-0003-00000"]


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
    net, trainer = mlp(0, [mx.cpu()])
    d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 1, log=None, out=tmp_path)
    good = params(net)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1e30})
    with pytest.raises(d2l.NonFiniteLossError, match=r"loss became (nan|inf).*Lower the learning rate.*ckpt-0001"):
        d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 3, log=None, out=tmp_path)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-0001-00000"]
    net2, trainer2 = mlp(1, [mx.cpu()])
    d2l.load_checkpoint(tmp_path, net2, trainer2)
    for k, v in params(net2).items():
        np.testing.assert_array_equal(v, good[k])


def test_lr_schedules():
    const = lr_schedule("constant", 0.1, 100)
    assert const(0) == const(99) == 0.1
    cos = lr_schedule("cosine", 0.1, 100, warmup_steps=10)
    assert cos(0) == pytest.approx(0.01) and cos(9) == pytest.approx(0.1)
    assert cos(10) == pytest.approx(0.1) and cos(55) == pytest.approx(0.05) and cos(100) == pytest.approx(0.0)
    line = lr_schedule("linear", 0.4, 100, warmup_steps=20)  # the one-cycle triangle
    assert line(0) == pytest.approx(0.02) and line(19) == pytest.approx(0.4)
    assert line(20) == pytest.approx(0.4) and line(60) == pytest.approx(0.2)
    assert line(99) == pytest.approx(0.005) and line(100) == 0.0
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        lr_schedule("step", 0.1, 10)


def test_flip_tta_averages_each_image_and_its_mirror():
    train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
    net, _ = lenet()
    X = nd.array(d2l.data.load_fashion_mnist_arrays("sample")["test"][0][:, None] / 255.0)
    y = d2l.data.load_fashion_mnist_arrays("sample")["test"][1]

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    scores = softmax(net(X).asnumpy()) + softmax(net(nd.array(X.asnumpy()[..., ::-1])).asnumpy())
    expected = float((scores.argmax(axis=1) == y).mean())
    plain = float((net(X).asnumpy().argmax(axis=1) == y).mean())
    assert d2l.evaluate_accuracy(test_iter, net, flip=True) == pytest.approx(expected, abs=1e-9)
    assert d2l.evaluate_accuracy(test_iter, net) == pytest.approx(plain, abs=1e-9)


def test_cosine_schedule_drives_the_trainer():
    train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
    net, trainer = mlp(0, [mx.cpu()])
    hist = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 2, log=None, schedule="cosine")
    assert hist.epochs[0]["lr"] > hist.epochs[1]["lr"]
    assert hist.epochs[1]["lr"] == pytest.approx(0.3 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_seed_repeats_exactly():
    runs = []
    for _ in range(2):
        train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
        net, trainer = lenet(7)
        h = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 1, log=None, seed=7)
        runs.append((h.epochs[0]["loss"], params(net)))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][k], runs[1][1][k])


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not d2l.data.Path(d2l.data.DEBIAN_DIR, "train-images-idx3-ubyte.gz").is_file(),
                    reason="dataset-fashion-mnist is not installed")
def test_lenet_bn_one_epoch_full_data_above_080():
    """The book's settings, one epoch on all 60,000 images. Test accuracy after one
    epoch at lr 1.0 swings with the shuffling order (0.68-0.85 over seeds 0-8 here),
    so the claim is about the median of the first three seeds."""
    accs = []
    for seed in (0, 1, 2):
        train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=d2l.data.DEBIAN_DIR, seed=seed)
        net, trainer = lenet(seed)
        hist = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 1, log=None, seed=seed)
        accs.append(hist.epochs[0]["test_acc"])
        assert hist.epochs[0]["train_acc"] > 0.72
    assert sorted(accs)[1] > 0.80, accs


class OnlyIterable:
    """A re-iterable without len(), as the book's train_ch5 accepts."""

    def __init__(self, it):
        self.it = it

    def __iter__(self):
        return iter(self.it)


def test_train_ch5_takes_any_re_iterable(capsys):
    train_iter, test_iter = d2l.load_data_fashion_mnist(64, root="sample", subset=256)
    net, trainer = lenet()
    d2l.train_ch5(net, OnlyIterable(train_iter), OnlyIterable(test_iter), 64, trainer, mx.cpu(), 2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(LINE.match(ln) for ln in lines[1:]), lines


def test_fit_with_a_config_equals_train():
    """train() is a wrapper: fit() with the same config and callbacks gives the same run."""
    runs = []
    for use_fit in (False, True):
        train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample")
        net, trainer = lenet(3)
        if use_fit:
            cfg = d2l.RunConfig(epochs=1, seed=3, batch_size=None)
            h = d2l.fit(net, train_iter, test_iter, trainer, mx.cpu(), cfg)
        else:
            h = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 1, log=None, seed=3)
        runs.append(params(net))
        assert 0 < h.epochs[0]["loss"] < 3
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


# ---- Ctrl-C during evaluation (a real SIGINT to this process) --------------------------
class _InterruptingTestSet:
    """The sample's test batches; sends this process a real SIGINT during the
    evaluation of epoch ``at`` (after its second batch)."""

    def __init__(self, inner, at):
        self.inner, self.at, self.evaluations = inner, at, 0

    def __iter__(self):
        self.evaluations += 1
        for i, batch in enumerate(self.inner):
            if self.evaluations == self.at and i == 2:
                os.kill(os.getpid(), signal.SIGINT)
            yield batch


@pytest.mark.parametrize("epochs, at", [(2, 1), (2, 2)], ids=["mid-run", "last-epoch"])
def test_ctrl_c_during_evaluation_saves_and_resumes_exactly(tmp_path, epochs, at):
    def run(test_wrap, resume):
        train_iter, test_iter = d2l.load_data_fashion_mnist(100, root="sample", seed=1)
        d2l.set_seed(1)
        net = d2l.lenet_bn()
        net.initialize(init.Xavier())
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
        return d2l.train(net, train_iter, test_wrap(test_iter), trainer, mx.cpu(), epochs,
                         log=None, out=tmp_path / ("run" if test_wrap is not _same else "ref"),
                         resume=resume, seed=1, plot=False)
    ref = run(_same, None)
    with pytest.raises(d2l.TrainingInterrupted, match=f"stopped in epoch {at} after batch 10"):
        run(lambda t: _InterruptingTestSet(t, at), None)
    assert C.latest_checkpoint(tmp_path / "run").name == f"ckpt-{at - 1:04d}-00010"
    done = run(lambda t: t, True)
    strip = lambda h: [{k: v for k, v in r.items() if k != "time"} for r in h.epochs]
    assert strip(done) == strip(ref)


def _same(t):
    return t
