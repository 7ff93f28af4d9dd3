"""The later editions' calls against the real d2l packages: the same figures
from the same start, the same signatures, and the data of Gluon's pipeline.

The references, ``d2l==0.17.6`` and ``d2l==1.0.3``, are installed with
``--no-deps`` into ``.cache/d2l-reference/VERSION`` (they pin old numpys);
each runs in a subprocess with that folder on its path. Without the package
index they are skipped, unless ``D2LNETS_REQUIRE_REFERENCE=1`` (CI) makes that
a failure.
"""
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as onp
import pytest

import d2lnets.mxnet as ours
from d2lnets.data import SAMPLE_FILE

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "editions" / "reference_run.py"
VERSIONS = {"0.17": "0.17.6", "1.0": "1.0.3"}


def reference(version: str) -> Path:
    """The folder holding d2l==version, installed on first use."""
    folder = ROOT / ".cache" / "d2l-reference" / version
    if not (folder / "d2l" / "mxnet.py").is_file():
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--target", str(folder), f"d2l=={version}"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            if os.environ.get("D2LNETS_REQUIRE_REFERENCE") == "1":
                pytest.fail(f"cannot install d2l=={version}: {r.stderr[-500:]}")
            pytest.skip(f"d2l=={version} cannot be installed here (no package index?)")
    return folder


def run(impl: str, api: str, case: str, version: str = "") -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "D2LNETS_QUICK": "0", "OMP_NUM_THREADS": "1"}
    if impl == "d2l":
        env["PYTHONPATH"] = str(reference(version))
    r = subprocess.run([sys.executable, str(RUNNER), impl, api, case, str(SAMPLE_FILE)],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["lenet", "residual"])
def test_train_ch6_draws_d2ls_figures_from_the_same_start(case):
    mine, theirs = run("d2lnets", "ch6", case), run("d2l", "ch6", case, "0.17.6")
    assert mine["X"] == theirs["X"]  # the same x of every point
    assert [len(line) for line in mine["Y"]] == [14, 14, 2]  # 7 batches // 5: every batch
    for line, want in zip(mine["Y"], theirs["Y"]):
        onp.testing.assert_allclose(line, want, rtol=1e-5)


@pytest.mark.parametrize("case", ["lenet", "residual"])
def test_trainer_fit_puts_d2ls_points_on_the_board(case):
    mine, theirs = run("d2lnets", "fit", case), run("d2l", "fit", case, "1.0.3")
    assert list(mine) == list(theirs) == ["train_loss", "val_loss", "val_acc"]
    for key in mine:
        onp.testing.assert_allclose(mine[key], theirs[key], rtol=1e-5)


def _their_signatures(version: str, names: list) -> dict:
    """``name -> [[parameter, kind, default], ...]`` read from the real d2l."""
    code = ("import inspect, json, sys; from d2l import mxnet as d2l; print(json.dumps({n: "
            "[[p.name, str(p.kind), repr(p.default)] for p in inspect.signature(eval('d2l.' + n))"
            ".parameters.values()] for n in json.loads(sys.argv[1])}))")
    env = {**os.environ, "PYTHONPATH": str(reference(version)), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", code, json.dumps(names)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


NAMES = {
    "0.17.6": ["load_data_fashion_mnist", "train_ch6", "try_gpu", "try_all_gpus", "Animator",
               "Timer", "Accumulator", "accuracy", "evaluate_accuracy_gpu", "use_svg_display",
               "set_figsize", "set_axes", "size", "argmax", "astype", "reduce_sum", "reshape",
               "numpy", "to"],
    "1.0.3": ["HyperParameters", "add_to_class", "ProgressBoard", "Module", "DataModule",
              "Classifier", "Trainer", "FashionMNIST", "randn", "gpu", "cpu", "num_gpus", "to",
              "numpy", "Residual", "ResNeXtBlock", "try_gpu", "reduce_mean", "load_data_fashion_mnist"],
}


def _params(obj) -> list:
    return [[p.name, str(p.kind), repr(p.default)] for p in inspect.signature(obj).parameters.values()]


@pytest.mark.parametrize("version", list(NAMES))
def test_every_name_has_d2ls_signature(version):
    """d2l's parameters, in d2l's order, kinds and defaults (its ``**kwargs``
    too); d2lnets may add only parameters with defaults after them, so that
    every call written for d2l means the same."""
    for name, want in _their_signatures(version, NAMES[version]).items():
        mine = _params(getattr(ours, name))
        named = [p for p in want if "VAR" not in p[1]]
        assert mine[:len(named)] == named, name
        assert all(p in mine for p in want if "VAR" in p[1]), name
        extra = [p for p in mine[len(named):] if "VAR" not in p[1]]
        assert all(p[2] != repr(inspect.Parameter.empty) for p in extra), name


def test_methods_of_the_classes_have_d2ls_signatures():
    names = [f"{cls}.{m}" for cls, methods in METHODS.items() for m in methods]
    for key, want in _their_signatures("1.0.3", names).items():
        cls, method = key.split(".")
        assert _params(getattr(getattr(ours, cls), method)) == want, key


METHODS = {
    "Module": ["loss", "forward", "plot", "training_step", "validation_step",
               "configure_optimizers"],
    "Classifier": ["validation_step", "accuracy", "loss", "layer_summary"],
    "Trainer": ["prepare_data", "prepare_model", "fit", "fit_epoch", "prepare_batch",
                "clip_gradients"],
    "ProgressBoard": ["draw"],
    "DataModule": ["get_dataloader", "train_dataloader", "val_dataloader"],
    "FashionMNIST": ["text_labels", "get_dataloader"],
    "HyperParameters": ["save_hyperparameters"],
    "Animator": ["add"],
    "Timer": ["start", "stop", "avg", "sum", "cumsum"],
    "Accumulator": ["add", "reset", "__getitem__"],
}


# ------------------------------------------------------------------ live plots
LIVE = """
from d2lnets import mxnet as d2l
from mxnet import np, npx
from mxnet.gluon import nn
npx.set_np()
net = nn.Sequential()
net.add(nn.Conv2D(6, kernel_size=5), nn.BatchNorm(), nn.Activation('sigmoid'), nn.Dense(10))
train_iter, test_iter = d2l.load_data_fashion_mnist(256)
d2l.train_ch6(net, train_iter, test_iter, 2, 0.9, d2l.try_gpu())

class Model(d2l.Classifier):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential()
        self.net.add(nn.Dense(10))
        self.initialize()

d2l.Trainer(max_epochs=2).fit(Model(), d2l.FashionMNIST(batch_size=128))
"""


@pytest.mark.slow
def test_the_curves_are_drawn_live_in_jupyter(monkeypatch):
    """In a kernel, both training calls display their figure as they go (d2l
    replaces it in place with clear_output), and print the book's lines."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("D2LNETS_DATA", "sample")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in LIVE.split("\n\n")])
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute(env=dict(os.environ))
    outs = [[o for o in cell.outputs] for cell in nb.cells]
    assert not [o for cell in outs for o in cell if o.output_type == "error"]
    ch6, fit = outs[0], outs[2]
    text = "".join(o.get("text", "") for o in ch6 if o.output_type == "stream")
    assert "train acc" in text and "examples/sec on cpu(0)" in text
    for cell in (ch6, fit):
        assert any(o.output_type == "display_data" and "image/svg+xml" in o.data for o in cell)


def test_a_script_makes_no_display_call_and_saves_where_asked(tmp_path):
    """Outside Jupyter: no window, no IPython display, the figure only in $D2LNETS_FIGURES."""
    code = ("import sys, IPython.display as d\n"
            "d.display = d.clear_output = lambda *a, **k: sys.exit('display called')\n"
            + LIVE)
    env = {**os.environ, "D2LNETS_DATA": "sample", "D2LNETS_FIGURES": str(tmp_path / "figs"),
           "DISPLAY": ""}
    env.pop("MPLBACKEND", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["fit-2.png", "train_ch6-1.png"]
