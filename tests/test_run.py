"""The run factory (training/run.py) and the settings object (config.py): one definition
of every setting, one place that builds a run, and the three bugs the split caused."""
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest
from mxnet import gluon, init

import d2lnets as d2l
from d2lnets.cli import build_parser
from d2lnets.config import SETTINGS, RunConfig
from d2lnets.errors import UsageError
from d2lnets.training.schedule import lr_schedule

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "D2LNETS_THREADS": "1"}
BOUNDED = [f for f in dataclasses.fields(RunConfig) if f.metadata["high"] not in (None, math.inf)]


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "d2lnets", "train", *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout, cwd=ROOT)


# ---- one definition: the flags and the library share the bounds --------------------------
@pytest.mark.parametrize("f", BOUNDED, ids=lambda f: f.name)
def test_a_bound_is_the_same_for_the_command_line_and_the_library(f, capsys):
    too_big = f.metadata["high"] * 10 + 1
    value = int(too_big) if str(f.type).startswith("int") else too_big
    with pytest.raises(UsageError, match=f"{f.name} must be"):
        RunConfig(**{f.name: value})
    if f.metadata["flag"] is not None:
        flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
        with pytest.raises(SystemExit) as err:
            build_parser().parse_args(["train", "lenet-bn", flag, str(value)])
        assert err.value.code == 2 and "expected" in capsys.readouterr().err


def test_every_flagged_setting_has_its_flag():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for f in dataclasses.fields(RunConfig):
        if f.metadata["flag"] is not None:
            assert (f.metadata["flag"] or "--" + f.name.replace("_", "-")) in text, f.name


@pytest.mark.parametrize("given, message", [
    ({"lrr": 0.1}, "unknown setting 'lrr'; did you mean 'lr'"),
    ({"lr": -1}, "lr must be a positive finite number; got -1"),
    ({"lr": float("nan")}, "lr must be a positive finite number; got nan"),
    ({"momentum": 5}, "momentum must be a momentum in"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer; got 2.5"),
    ({"epochs": 1.5}, "epochs must be a positive integer; got 1.5"),
    ({"data": 5}, "data must be a string; got 5"),
    ({"resize": 100000}, "resize must be a positive integer (an image side) (at most 512)"),
])
def test_train_recipe_checks_what_a_notebook_gives(given, message):
    with pytest.raises(UsageError) as err:
        d2l.train_recipe("lenet-bn", "fast", log=None, **given)
    assert message in str(err.value)


def test_the_books_calls_are_checked_too():
    with pytest.raises(UsageError, match="root must be a folder"):
        d2l.load_data_fashion_mnist(64, root=5)
    with pytest.raises(UsageError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(0, root="sample")
    net = d2l.lenet_bn()
    net.initialize(ctx=mx.cpu(1))
    train_iter, test_iter = d2l.load_data_fashion_mnist(64, root="sample", subset=128)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with pytest.raises(UsageError, match=r"parameters are on \[cpu\(1\)\], but training was asked "
                                         r"to run on \[cpu\(0\)\]"):
        d2l.train_ch5(net, train_iter, test_iter, 64, trainer, mx.cpu(0), 1)


def test_every_setting_is_stored_with_the_names_the_user_set(tmp_path):
    r = cli("lenet-bn", "--data", "sample", "--subset", "128", "--batch-size", "64", "--epochs", "1",
            "--wd", "0.001", "--no-progress", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    meta = json.loads(next(tmp_path.glob("ckpt-*")).joinpath("meta.json").read_text())
    assert sorted(meta["config"]) == sorted(SETTINGS) and meta["config"]["wd"] == 0.001
    assert sorted(meta["given"]) == ["batch_size", "data", "epochs", "subset", "wd"]
    assert meta["config"]["threads"] >= 1  # results depend on it: kept with the run


# ---- the three bugs -----------------------------------------------------------------------
def test_a_second_train_on_the_same_trainer_starts_the_schedule_over():
    """Measured before: lr 0.5, linear, 2 epochs; the second call began at 0.0625."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(50, root="sample", subset=200)
    d2l.set_seed(0)
    net = d2l.lenet_bn()
    net.initialize(init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    rows = []
    for _ in range(2):
        h = d2l.train(net, train_iter, test_iter, trainer, mx.cpu(), 2, schedule="linear", log=None)
        rows.append([r["lr"] for r in h.epochs])
    at = lr_schedule("linear", 0.5, 8)  # 4 batches an epoch, 2 epochs
    assert rows[0] == rows[1] == pytest.approx([at(3), at(7)])
    assert trainer.learning_rate == 0.5


PAUSED = [sys.executable, str(Path(__file__).with_name("paused_train.py"))]
SCHEDULED = ["lenet-bn", "--data", "sample", "--subset", "256", "--batch-size", "64", "--seed", "1",
             "--schedule", "linear", "--lr", "0.4", "--no-progress"]


def test_resume_with_lr_sets_the_peak_for_the_rest_of_the_schedule(tmp_path):
    """--lr on --resume is the new peak: the rest of the schedule keeps its shape at
    that height (help text, history row and code agree)."""
    ref = cli(*SCHEDULED, "--epochs", "3", "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "run"
    proc = subprocess.Popen([*PAUSED, "1", "2", *SCHEDULED, "--epochs", "3", "--out", str(run)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT)
    line = "?"
    while line and not line.startswith("paused at"):
        line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    proc.communicate(input="", timeout=120)
    assert proc.returncode == 130
    resumed = cli(*SCHEDULED, "--epochs", "3", "--lr", "0.8", "--out", str(run), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    ours = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    theirs = [json.loads(x) for x in (tmp_path / "ref" / "history.jsonl").read_text().splitlines()]
    assert ours[0]["lr"] == theirs[0]["lr"]
    assert [r["lr"] for r in ours[1:]] == pytest.approx([2 * r["lr"] for r in theirs[1:]])
    assert ours[1]["changed"] == {"lr": [0.4, 0.8]} and "changed" not in ours[2]
    assert "peak of a schedule (with --resume: the peak for the rest" in \
        " ".join(cli("lenet-bn", "--help").stdout.split())


def test_a_run_whose_recipe_trained_another_network_is_refused(tmp_path):
    """Runs of an older d2lnets, whose fast ResNet-18 was resnet18-small, say why."""
    first = cli("lenet-bn", "--data", "sample", "--subset", "128", "--batch-size", "64",
                "--epochs", "1", "--no-progress", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    meta_file = next(tmp_path.glob("ckpt-*")).joinpath("meta.json")
    meta = json.loads(meta_file.read_text())
    meta["config"]["arch"] = "resnet18-small"
    meta_file.write_text(json.dumps(meta))
    r = cli("lenet-bn", "--resume", "--epochs", "2", "--out", str(tmp_path))
    assert r.returncode == 2 and "trained resnet18-small for lenet-bn's book recipe" in r.stderr
    assert "start a new run" in r.stderr and "Traceback" not in r.stderr


def test_dist_sync_refuses_a_resumed_scheduled_run_before_any_worker_starts(tmp_path):
    first = cli(*SCHEDULED, "--epochs", "1", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    r = cli("lenet-bn", "--resume", "--out", str(tmp_path), "--kvstore", "dist_sync", timeout=120)
    assert r.returncode == 2 and "runs the optimizer on the servers" in r.stderr
    assert "schedule linear" in r.stderr and "DMLC" not in r.stderr and "Traceback" not in r.stderr


def test_a_resume_keeps_the_thread_count_it_trained_with(tmp_path):
    env = {k: v for k, v in ENV.items() if k not in ("OMP_NUM_THREADS", "D2LNETS_THREADS")}
    args = [sys.executable, "-m", "d2lnets", "train", *SCHEDULED, "--out", str(tmp_path)]
    first = subprocess.run([*args, "--epochs", "1"], capture_output=True, text=True,
                           env={**env, "D2LNETS_THREADS": "1"}, cwd=ROOT, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([*args, "--epochs", "2", "--resume"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert ", 1 OpenMP threads" in again.stderr
    told = subprocess.run([*args, "--epochs", "3", "--resume"], capture_output=True, text=True,
                          env={**env, "D2LNETS_THREADS": "2"}, cwd=ROOT, timeout=300)
    assert told.returncode == 0, told.stderr
    if "2 OpenMP threads" in told.stderr:  # two usable cores here
        assert "will not repeat the uninterrupted run to the last digit" in told.stderr


def test_resuming_lenet_at_another_resize_is_refused_with_the_reason(tmp_path):
    """Its dense layer is sized for the run's side: the error said "an image this
    small ... use a larger --resize", though a fresh --resize 32 trains."""
    import subprocess
    import sys
    base = [sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample", "--subset",
            "128", "--batch-size", "64", "--out", str(tmp_path), "--no-progress"]
    assert subprocess.run(base + ["--epochs", "1"], capture_output=True, timeout=300).returncode == 0
    r = subprocess.run(base + ["--epochs", "2", "--resume", "--resize", "32"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2 and "sized for 28x28 images. Resume with --resize 28" in r.stderr
    assert "larger --resize" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "d2lnets", "export", "lenet-bn", "--params",
                        str(tmp_path), "--resize", "512", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "made for images of another size" in r.stderr, r.stderr
