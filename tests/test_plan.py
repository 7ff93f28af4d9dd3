"""training/plan.py: a run is planned once; a resume reads its checkpoint's meta once,
and what a run stores of its settings is what its resume reads back."""
import numpy as np
import pytest
from mxnet import autograd, gluon, init, nd

import d2lnets as d2l
from d2lnets import checkpoint as C
from d2lnets.config import RunConfig
from d2lnets.training.plan import plan_run
from d2lnets.training.run import _trainer, run_plan

QUICK = {"data": "sample", "subset": 128, "batch_size": 64}


def _run(out, resume=None, **given):
    plan = plan_run("lenet-bn", "book", {**QUICK, **given}, out, resume)
    return plan, run_plan(plan, log=None)


def test_a_resume_reads_its_checkpoints_meta_once(tmp_path, monkeypatch):
    _run(tmp_path, epochs=2)
    reads, real = [], C.read_meta
    monkeypatch.setattr(C, "read_meta", lambda path: reads.append(path) or real(path))
    plan, trained = _run(tmp_path, resume=True, epochs=3)
    assert reads == [tmp_path / "ckpt-0002-00000"]
    assert [r["epoch"] for r in trained.history.epochs] == [1, 2, 3]
    assert plan.changed == {"epochs": [2, 3]}


def test_what_the_user_set_is_stored_and_read_back_by_the_resume(tmp_path):
    _run(tmp_path, epochs=1, wd=0.001)
    plan, _ = _run(tmp_path, resume=True, epochs=2)
    assert plan.given == {**QUICK, "wd": 0.001, "epochs": 2}
    stored = C.read_meta(C.latest_checkpoint(tmp_path))
    assert stored["given"] == plan.given and stored["config"]["wd"] == 0.001


def test_a_resume_from_a_checkpoint_goes_on_in_its_folder(tmp_path):
    _run(tmp_path / "run", epochs=1)
    plan = plan_run("lenet-bn", None, {"epochs": 2}, None, tmp_path / "run" / "ckpt-0001-00000")
    assert plan.out == tmp_path / "run" and plan.position().epoch == 1


def test_a_resume_of_another_model_is_refused_before_anything_is_built(tmp_path):
    _run(tmp_path, epochs=1)
    with pytest.raises(d2l.UsageError, match="is a run of lenet-bn, not resnet18"):
        plan_run("resnet18", None, {}, tmp_path, True)


@pytest.mark.parametrize("optimizer", ["sgd", "nag"])
def test_clip_gradient_clips_each_element_before_the_update(optimizer):
    """One step from zero momentum: w - lr * clip(grad) (NAG's first step adds
    momentum * that step again), against numpy."""
    net = gluon.nn.Dense(3, in_units=4, use_bias=False)
    net.initialize(init.Constant(0.0))
    config = RunConfig(lr=0.5, clip_gradient=0.1, optimizer=optimizer, momentum=0.9)
    trainer = _trainer(config, net, {})
    x = nd.array(np.arange(8).reshape(2, 4))
    with autograd.record():
        loss = (net(x) * nd.array([[1, -2, 3]])).sum()
    loss.backward()
    grad = net.weight.grad().asnumpy()
    trainer.step(1)
    step = -0.5 * np.clip(grad, -0.1, 0.1)
    want = step * (1.9 if optimizer == "nag" else 1.0)
    assert np.abs(grad).max() > 0.1  # the clip acts
    np.testing.assert_allclose(net.weight.data().asnumpy(), want, rtol=1e-6)


def test_train_refuses_a_setting_of_what_the_caller_built():
    net = gluon.nn.Dense(10)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    train_iter, test_iter = d2l.load_data_fashion_mnist(64, root="sample", subset=128)
    with pytest.raises(d2l.UsageError, match=r"clip_gradient: set where the data, trainer"):
        d2l.train(net, train_iter, test_iter, trainer, None, 1, log=None, clip_gradient=1.0)
