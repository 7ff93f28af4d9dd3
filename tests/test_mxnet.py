"""d2lnets.mxnet: the later editions' chapter code runs unchanged on it (quick
mode, numpy mode), prints the book's shapes and lines, and bad input gets a
clear error without MXNet's C++ traceback."""
import os
import re
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest
from mxnet import np, npx
from mxnet.gluon import nn

import d2lnets.mxnet as d2l
from d2lnets.errors import UsageError

CODE = Path(__file__).parent / "editions"
ROOT = Path(__file__).resolve().parents[1]


def chapter(name: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CODE / f"{name}.py")], capture_output=True,
                          text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "D2LNETS_QUICK": "1", "MPLBACKEND": "Agg", **env})


def _book_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith(("loss ", "train ")) or "examples/sec" in ln]


def _shapes(out: str) -> list[str]:
    return re.findall(r"^\(\d+(?:, \d+)*\)$", out, flags=re.M)


def test_v2_batch_norm_runs_as_written():
    r = chapter("v2_batch_norm")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = _book_lines(r.stdout)
    assert len(lines) == 4 and "Traceback" not in r.stderr
    assert re.fullmatch(r"loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}", lines[0])
    assert re.fullmatch(r"\d+\.\d examples/sec on cpu\(0\)", lines[1])


def test_v2_resnet_prints_the_books_shapes():
    r = chapter("v2_resnet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _shapes(r.stdout) == ["(4, 3, 6, 6)", "(4, 6, 3, 3)"]
    walk = [ln.split("\t")[-1].strip() for ln in r.stdout.splitlines() if "output shape" in ln]
    assert walk == ["(1, 64, 112, 112)"] * 3 + [  # the book's printed walk
        "(1, 64, 56, 56)", "(1, 64, 56, 56)", "(1, 128, 28, 28)", "(1, 256, 14, 14)",
        "(1, 512, 7, 7)", "(1, 512, 1, 1)", "(1, 10)"]
    assert len(_book_lines(r.stdout)) == 2


def test_v2_densenet_prints_the_books_shapes():
    r = chapter("v2_densenet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _shapes(r.stdout) == ["(4, 23, 8, 8)", "(4, 10, 4, 4)"]
    assert len(_book_lines(r.stdout)) == 2


def test_v1_0_batch_norm_runs_as_written():
    r = chapter("v1_0_batch_norm")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("MXNet sees 0 GPU(s) here") == 1  # said once for the two Trainers


def test_v1_0_resnet_prints_the_books_summary():
    r = chapter("v1_0_resnet")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = [ln.split(None, 1)[0] + " " + ln.split("\t")[-1].strip()
               for ln in r.stdout.splitlines() if "output shape" in ln]
    assert summary == ["Sequential (1, 64, 24, 24)", "Sequential (1, 64, 24, 24)",
                       "Sequential (1, 128, 12, 12)", "Sequential (1, 256, 6, 6)",
                       "Sequential (1, 512, 3, 3)", "GlobalAvgPool2D (1, 512, 1, 1)",
                       "Dense (1, 10)"]
    assert _shapes(r.stdout) == ["(4, 3, 6, 6)", "(4, 6, 3, 3)", "(4, 32, 96, 96)"]


def test_v1_0_densenet_runs_as_written(tmp_path):
    r = chapter("v1_0_densenet", D2LNETS_FIGURES=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert _shapes(r.stdout) == ["(4, 23, 8, 8)", "(4, 10, 4, 4)"]
    assert [p.name for p in tmp_path.iterdir()] == ["fit-1.png"]  # saved where asked
    assert (tmp_path / "fit-1.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------- bad input
def _lenet():
    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5), nn.Activation("sigmoid"), nn.Dense(10))
    return net


@pytest.fixture
def numpy_mode():
    npx.set_np()
    yield
    npx.reset_np()


def _batch(n=8, side=28):
    return (np.random.uniform(size=(n, 1, side, side)), np.zeros((n,), dtype="int32"))


@pytest.mark.parametrize("args, says", [
    (("net", [1], [1], 1, 0.1, mx.cpu()), "net must be a Gluon Block"),
    ((None, [1], [1], 0, 0.1, mx.cpu()), "num_epochs must be a positive integer"),
    ((None, [1], [1], 1, "0.1", mx.cpu()), "lr must be a positive number"),
    ((None, [1], [1], 1, 0.1, "cpu"), "device must be an MXNet context"),
    ((None, [], [1], 1, 0.1, mx.cpu()), "train_iter yields no batches"),
    ((None, iter([1]), [1], 1, 0.1, mx.cpu()), "train_iter must have a length"),
])
def test_train_ch6_refuses_bad_arguments_before_training(args, says, numpy_mode):
    args = (args[0] if args[0] is not None else _lenet(),) + args[1:]
    with pytest.raises(UsageError, match=says):
        d2l.train_ch6(*args)


def test_a_batch_the_net_cannot_take_is_one_clear_line(numpy_mode):
    net = _lenet()
    train = [_batch(8, 28), _batch(8, 20)]  # the dense layer was sized for 28x28
    with pytest.raises(UsageError) as err:
        d2l.train_ch6(net, train, [_batch()], 1, 0.1, mx.cpu())
    text = str(err.value)
    assert "(8, 1, 20, 20)" in text and "Stack trace" not in text and "\n" not in text


def test_evaluating_a_net_never_initialised_says_so(numpy_mode):
    with pytest.raises(UsageError, match="never initialised"):
        d2l.evaluate_accuracy_gpu(_lenet(), [_batch()])


def test_an_empty_test_set_is_refused(numpy_mode):
    net = _lenet()
    net.initialize()
    with pytest.raises(UsageError, match="no examples"):
        d2l.evaluate_accuracy_gpu(net, [])


def test_trainer_refuses_what_it_cannot_fit(numpy_mode):
    with pytest.raises(UsageError, match="max_epochs"):
        d2l.Trainer(max_epochs=0)

    class Empty(d2l.DataModule):
        def get_dataloader(self, train):
            return []

    class NoNet(d2l.Classifier):
        def __init__(self):
            super().__init__()
            self.lr = 0.1

    with pytest.raises(UsageError, match="no batches"):
        d2l.Trainer(max_epochs=1).fit(NoNet(), Empty())

    class One(d2l.DataModule):
        def get_dataloader(self, train):
            return [_batch()]

    with pytest.raises(UsageError, match="has no parameters: build its layers as self.net"):
        d2l.Trainer(max_epochs=1).fit(NoNet(), One())
    with pytest.raises(UsageError, match="takes a d2l.Module"):
        d2l.Trainer(max_epochs=1).fit(_lenet(), One())


# --------------------------------------------------------------- the helpers
def test_accuracy_counts_right_predictions_in_both_modes(numpy_mode):
    y_hat = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = np.array([1, 1, 1], dtype="int32")
    assert d2l.accuracy(y_hat, y) == 2.0
    npx.reset_np()
    assert d2l.accuracy(mx.nd.array([[0.1, 0.9], [0.8, 0.2]]), mx.nd.array([1, 0])) == 2.0


def test_classifier_accuracy_and_loss_match_a_hand_computation(numpy_mode):
    import math
    c = d2l.Classifier()
    y_hat = np.array([[2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0], dtype="int32")
    assert float(c.accuracy(y_hat, y)) == 0.5
    want = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1))) / 2
    assert abs(float(c.loss(y_hat, y)) - want) < 1e-5  # float32


def test_gradient_clipping_scales_the_joint_norm(numpy_mode):
    from mxnet import autograd
    net = nn.Dense(2, in_units=2)
    net.initialize()

    class M(d2l.Classifier):
        pass
    model = M()
    model.net = net
    with autograd.record():
        (net(np.array([[3.0, 4.0]])) * 100).sum().backward()
    grads = [p.grad().asnumpy() for p in net.collect_params().values()]
    norm = sum(float((g ** 2).sum()) for g in grads) ** 0.5
    d2l.Trainer(max_epochs=1, gradient_clip_val=1.0).clip_gradients(1.0, model)
    after = [p.grad().asnumpy() for p in net.collect_params().values()]
    assert abs(sum(float((g ** 2).sum()) for g in after) ** 0.5 - 1.0) < 1e-5
    assert all(abs(a - g / norm).max() < 1e-6 for a, g in zip(after, grads))


def test_save_hyperparameters_and_add_to_class():
    class A(d2l.HyperParameters):
        def __init__(self, a, b=2, _hidden=3):
            self.save_hyperparameters(ignore=["b"])

    a = A(1)
    assert a.hparams == {"a": 1} and a.a == 1 and not hasattr(a, "b")

    @d2l.add_to_class(A)
    def twice(self):
        return 2 * self.a
    assert a.twice() == 2


def test_the_data_is_mxnet_np_arrays_under_set_np_and_nd_otherwise(numpy_mode):
    os.environ["D2LNETS_DATA"] = "sample"
    try:
        X, y = next(iter(d2l.load_data_fashion_mnist(64, resize=32)[0]))
        assert isinstance(X, np.ndarray) and X.shape == (64, 1, 32, 32) and y.dtype == "int32"
        npx.reset_np()
        X, _ = next(iter(d2l.FashionMNIST(batch_size=16).train_dataloader()))
        assert type(X) is mx.nd.NDArray and X.shape == (16, 1, 28, 28)
    finally:
        del os.environ["D2LNETS_DATA"]


def test_the_last_short_batch_is_kept():
    os.environ["D2LNETS_DATA"] = "sample"
    try:
        train, test = d2l.load_data_fashion_mnist(300)
        assert [len(X) for X, _ in train] == [300, 300, 300, 100]  # 1,000 sample images
        assert [len(X) for X, _ in test] == [300, 200]
    finally:
        del os.environ["D2LNETS_DATA"]
