"""Export: the symbol/params round trip and ONNX (run by onnxruntime) equal the net."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, init, nd

import d2lnets as d2l
from d2lnets.export import export_model

CASES = [("lenet_bn", {}, 28), ("lenet_bn", {"scratch": True}, 28), ("resnet18", {}, 32),
         ("densenet", {}, 32)]
IDS = ["lenet-bn", "lenet-bn-scratch", "resnet18", "densenet"]


def trained(name, kwargs, side):
    """A net after a few training steps: moving statistics away from 0 and 1."""
    d2l.set_seed(0)
    net = d2l.get_model(name, **kwargs)
    net.initialize(init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(3):
        X = nd.random.uniform(shape=(8, 1, side, side))
        y = nd.array(np.arange(8) % 10)
        with autograd.record():
            out = loss(net(X), y)
        out.backward()
        trainer.step(8)
    return net


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_symbolblock_round_trip(case, tmp_path):
    name, kwargs, side = case
    net = trained(*case)
    paths = export_model(net, tmp_path, name, (1, side, side))
    back = gluon.SymbolBlock.imports(str(paths["symbol"]), ["data"], str(paths["params"]))
    X = nd.random.uniform(shape=(5, 1, side, side))  # another batch size than the export's
    np.testing.assert_allclose(back(X).asnumpy(), net(X).asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_onnx_matches_mxnet(case, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    name, kwargs, side = case
    net = trained(*case)
    paths = export_model(net, tmp_path, name, (1, side, side), onnx=True)
    session = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    for batch in (1, 4):  # a dynamic batch size
        X = np.random.uniform(size=(batch, 1, side, side)).astype(np.float32)
        (got,) = session.run(None, {session.get_inputs()[0].name: X})
        np.testing.assert_allclose(got, net(nd.array(X)).asnumpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_export_command_from_a_run_folder(tmp_path):
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--epochs", "1", "--out", str(run), "--no-progress"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", "--params", str(run),
                        "--out", str(tmp_path / "exported")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    back = gluon.SymbolBlock.imports(str(tmp_path / "exported" / "lenet-bn-symbol.json"), ["data"],
                                     str(tmp_path / "exported" / "lenet-bn-0000.params"))
    net = d2l.lenet_bn()
    d2l.load_checkpoint(run, net, None)
    X = nd.random.uniform(shape=(3, 1, 28, 28))
    np.testing.assert_allclose(back(X).asnumpy(), net(X).asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--params", "/nonexistent.params"], "no parameter file /nonexistent.params"),
    (["--params", "/tmp"], "holds no checkpoint"),
])
def test_export_bad_params(args, message, tmp_path):
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", *args, "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_export_wrong_model_params(tmp_path):
    net = d2l.lenet_bn()
    net.initialize()
    net(nd.zeros((1, 1, 28, 28)))
    net.save_parameters(str(tmp_path / "lenet.params"))
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "resnet18", "--params",
                        str(tmp_path / "lenet.params"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "does not fit resnet18" in r.stderr, r.stderr


def test_export_needs_the_prediction_graph():
    net = d2l.lenet_bn()
    net.initialize()
    net.hybridize()
    with autograd.record():
        net(nd.zeros((2, 1, 28, 28)))
    with pytest.raises(RuntimeError, match="outside autograd.record"):
        net.export("/tmp/never")
    assert mx.cpu() is not None


def test_export_out_naming_a_file_exits_1(tmp_path):
    net = d2l.lenet_bn()
    net.initialize()
    net(nd.zeros((1, 1, 28, 28)))
    net.save_parameters(str(tmp_path / "lenet.params"))
    (tmp_path / "a-file").write_text("x")
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", "--params",
                        str(tmp_path / "lenet.params"), "--out", str(tmp_path / "a-file")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "cannot write to --out" in r.stderr and "Traceback" not in r.stderr


def test_export_onnx_without_onnx_exits_1(tmp_path):
    """An onnx that cannot be imported (a stand-in package that raises ImportError)."""
    stub = tmp_path / "stub" / "onnx"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('No module named onnx (stand-in)')\n")
    net = d2l.lenet_bn()
    net.initialize()
    net(nd.zeros((1, 1, 28, 28)))
    net.save_parameters(str(tmp_path / "lenet.params"))
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path / "stub")}
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", "--params",
                        str(tmp_path / "lenet.params"), "--out", str(tmp_path / "o"), "--onnx"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1 and "ONNX export needs onnx<=1.18" in r.stderr
    assert "Traceback" not in r.stderr


def _params_file(tmp_path):
    net = d2l.lenet_bn()
    net.initialize()
    net(nd.zeros((1, 1, 28, 28)))
    net.save_parameters(str(tmp_path / "lenet.params"))
    return tmp_path / "lenet.params"


def test_export_into_a_read_only_folder_is_said_not_a_bug(tmp_path):
    import shutil
    params, out = _params_file(tmp_path), tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    prefix = []  # root writes through permission bits unless it drops that power
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    try:
        r = subprocess.run([*prefix, sys.executable, "-m", "d2lnets", "export", "lenet-bn",
                            "--params", str(params), "--out", str(out)], capture_output=True,
                           text=True, timeout=120)
    finally:
        out.chmod(0o755)
    assert r.returncode == 1 and "cannot write to --out" in r.stderr, r.stderr
    assert "internal error" not in r.stderr and list(out.iterdir()) == []


def test_garbage_params_are_named_without_mxnets_traceback(tmp_path):
    (tmp_path / "junk.params").write_bytes(b"\x00garbage" * 100)
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", "--params",
                        str(tmp_path / "junk.params"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "does not fit lenetbn" in r.stderr
    assert "Traceback" not in r.stderr and "Stack trace" not in r.stderr
