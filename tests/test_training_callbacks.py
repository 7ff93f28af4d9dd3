"""The fit loop's callbacks: hook order, the lagged divergence check, progress
totals, restoring without writing, and schedules."""
import math
import os

import mxnet as mx
import pytest
from mxnet import gluon, init, nd

import d2lnets as d2l
from d2lnets.training import callbacks as cb
from d2lnets.training.loop import Run
from d2lnets.training.plan import plan_run
from d2lnets.training.run import fit_run


class Recorder(cb.Callback):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda *a: calls.append(name)
        return object.__getattribute__(self, name)


def lenet_and_data(batch=64, subset=256):
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch, root="sample", subset=subset)
    d2l.set_seed(0)
    net = d2l.lenet_bn()
    net.initialize(init.Xavier())
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5}), train_iter, test_iter


def test_hooks_run_in_order_once_per_batch_and_epoch():
    net, trainer, train_iter, test_iter = lenet_and_data(batch=100, subset=250)
    rec = Recorder()
    d2l.fit(net, train_iter, test_iter, trainer, mx.cpu(), d2l.RunConfig(epochs=2, batch_size=None), [rec])
    batches = math.ceil(250 / 100)
    epoch = ["on_epoch_begin"] + ["on_batch_begin", "on_batch_end"] * batches + \
        ["on_batches_end", "on_epoch_end"]
    assert rec.calls == ["on_train_begin"] + epoch * 2 + ["on_train_end"]


def _run():
    net = d2l.lenet_bn()
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    return Run(net, trainer, [], [], [mx.cpu()], d2l.RunConfig(batch_size=None), None)


def test_divergence_guard_reads_two_batches_late_and_names_the_batch():
    run, guard = _run(), cb.DivergenceGuard(max_loss=1e4)
    guard.on_epoch_begin(run)
    for i, value in enumerate([1.0, 2.0, float("nan"), 1.0]):
        run.batch = i + 1
        guard.on_batch_end(run, {"loss_sums": [nd.array([value])], "size": 1})
    run.batch = 5  # the NaN of batch 3 is read now, two batches later
    with pytest.raises(d2l.DivergedError, match=r"became nan in epoch 1 \(batch 3\)"):
        guard.on_batch_end(run, {"loss_sums": [nd.array([1.0])], "size": 1})


def test_divergence_guard_drains_at_the_end_of_the_batches():
    run, guard = _run(), cb.DivergenceGuard(max_loss=10)
    guard.on_epoch_begin(run)
    run.batch = 1
    guard.on_batch_end(run, {"loss_sums": [nd.array([50.0])], "size": 2})  # 25 per example
    with pytest.raises(d2l.DivergedError, match="exploded to 25 per example"):
        guard.on_batches_end(run)


def test_progress_bar_total_only_when_the_length_is_known(capsys):
    run, bar = _run(), cb.ProgressBar(enabled=True)
    run.train_iter = iter([])  # no len()
    bar.on_epoch_begin(run)
    assert bar._bar.total is None
    bar.on_batches_end(run)
    run.train_iter = [1, 2, 3]
    run.batch = 1  # resumed after one batch
    bar.on_epoch_begin(run)
    assert bar._bar.total == 2
    bar.on_batches_end(run)


def test_a_schedule_needs_a_length():
    run = _run()
    run.train_iter = iter([])
    with pytest.raises(d2l.UsageError, match="needs an iterator with len"):
        cb.LRScheduler(0.1).on_train_begin(run)


def test_a_run_that_does_not_write_still_restores(tmp_path):
    net, trainer, train_iter, test_iter = lenet_and_data()
    d2l.fit(net, train_iter, test_iter, trainer, mx.cpu(), d2l.RunConfig(epochs=1, batch_size=None),
            [cb.Checkpointer(tmp_path)])
    before = sorted(p.name for p in tmp_path.iterdir())
    net2, trainer2, train_iter, test_iter = lenet_and_data()
    plan = plan_run(None, out=tmp_path, resume=True, base=d2l.RunConfig(epochs=2, batch_size=None))
    hist = fit_run(net2, trainer2, train_iter, test_iter, mx.cpu(), plan, write=False, log=None)
    assert [r["epoch"] for r in hist.epochs] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_target_accuracy_stops_the_run_when_reached(capsys):
    """On the sample, LeNet-BN passes 0.5 test accuracy within a few epochs: the run
    stops at that epoch, not at the tenth, and says when."""
    net, trainer, train_iter, test_iter = lenet_and_data(batch=32, subset=1000)
    target = cb.TargetAccuracy(0.5)
    hist = d2l.fit(net, train_iter, test_iter, trainer, mx.cpu(), d2l.RunConfig(epochs=10, batch_size=None),
                   [target])
    accs = [r["test_acc"] for r in hist.epochs]
    assert accs[-1] >= 0.5 and all(a < 0.5 for a in accs[:-1]) and len(accs) < 10
    assert target.reached[0] == len(accs)
    assert f"reached test acc {accs[-1]:.3f} >= 0.5 in epoch {len(accs)}" in capsys.readouterr().out


def test_a_run_resumed_at_an_epochs_end_records_the_scheduled_rate():
    """Interrupted during evaluation, a run resumes past the epoch's last batch: no
    batch begins, and the row recorded the base rate (0.4) instead of the schedule's."""
    from d2lnets.training.position import Position
    from d2lnets.training.schedule import lr_schedule
    run = _run()
    run.train_iter = [0] * 5  # 5 batches an epoch
    run.config = d2l.RunConfig(epochs=3, schedule="linear", warmup=0.0, batch_size=None)
    run.start = Position(epoch=1, batch=5)
    cb.LRScheduler(0.4).on_train_begin(run)
    assert run.trainer.learning_rate == pytest.approx(lr_schedule("linear", 0.4, 15)(9))


@pytest.mark.slow
def test_train_ch5_draws_its_curves_live_in_jupyter_when_asked(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    code = ("import d2lnets as d2l\nfrom mxnet import gluon\nnet = d2l.lenet_bn()\n"
            "net.initialize()\ntr, te = d2l.load_data_fashion_mnist(256, root='sample')\n"
            "t = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.9})\n"
            "d2l.train_ch5(net, tr, te, 256, t, d2l.try_gpu(), 2, plot=True)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute(env=dict(os.environ))
    outs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
    assert "epoch 1, loss" in text and "epoch 2, loss" in text  # the lines still printed
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outs)


def test_a_stop_without_a_run_folder_does_not_advise_resume():
    """An interrupted exercise (no run folder) advised `--resume`, which it does
    not take: with nothing saved, the message says to run again."""
    import signal

    from d2lnets.config import RunConfig
    from d2lnets.training.loop import fit
    from d2lnets.training.signals import StopRequest
    net, trainer, train_iter, test_iter = lenet_and_data()
    stop = StopRequest()

    class StopAfterTwo(cb.Callback):
        def on_batch_end(self, run, logs):
            if run.batch == 2:
                stop.signum = signal.SIGINT
    with pytest.raises(d2l.TrainingInterrupted) as err:
        fit(net, train_iter, test_iter, trainer, mx.cpu(), RunConfig(epochs=1, batch_size=None),
            [StopAfterTwo()], stop=stop)
    text = str(err.value)
    assert "after batch 2; nothing saved (no run folder): run it again" in text
    assert "--resume" not in text
