"""The d2lnets command: a smoke run, the summary, and bad arguments (exit 2, no traceback)."""
import json
import os
import re
import subprocess
import sys

import pytest

from d2lnets import data as D
from d2lnets.cli import main


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "d2lnets", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=600)


def test_train_smoke_on_the_sample(tmp_path):
    out = tmp_path / "run"
    r = run("train", "lenet-bn", "--data", "sample", "--epochs", "2", "--batch-size", "64",
            "--subset", "512", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "training on cpu(0)" and lines[1].startswith("epoch 1, loss ")
    assert len(lines) == 3 and "Traceback" not in r.stderr
    assert "512 training images" in r.stderr
    rows = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and (out / "curves.png").is_file()
    # resume the finished run for one more epoch
    r2 = run("train", "lenet-bn", "--data", "sample", "--epochs", "3", "--batch-size", "64",
             "--subset", "512", "--out", str(out), "--resume")
    assert r2.returncode == 0, r2.stderr
    epochs = [ln for ln in r2.stdout.splitlines() if ln.startswith("epoch ")]
    assert "resuming from" in r2.stdout and len(epochs) == 1 and epochs[0].startswith("epoch 3,")
    # a new run into the same folder moves the old one aside; nothing is lost
    r3 = run("train", "lenet-bn", "--data", "sample", "--epochs", "1", "--subset", "256",
             "--out", str(out))
    assert r3.returncode == 0 and "was moved to" in r3.stderr
    assert len(list(tmp_path.glob("run-*"))) == 1


def test_summary_command(capsys):
    assert main(["summary", "resnet18", "--resize", "96"]) == 0
    out = capsys.readouterr().out
    assert "(1, 512, 3, 3)" in out and "11,178,378" in out


def test_models_command(capsys):
    assert main(["models"]) == 0
    assert "densenet121" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["train", "resnet19"], "unknown model 'resnet19' (did you mean resnet18"),
    (["train", "lenet-bn", "--epochs", "0"], "expected a positive integer, got 0"),
    (["train", "lenet-bn", "--epochs", "two"], "expected a positive integer, got 'two'"),
    (["train", "lenet-bn", "--lr", "-1"], "expected a positive finite number"),
    (["train", "lenet-bn", "--lr", "nan"], "expected a positive finite number"),
    (["train", "lenet-bn", "--batch-size", "0"], "expected a positive integer"),
    (["train", "lenet-bn", "--resize", "-96"], "expected a positive integer"),
    (["train", "lenet-bn", "--subset", "0"], "expected a positive integer"),
    (["train", "lenet-bn", "--seed", "-1"], "expected an integer >= 0"),
    (["train", "lenet-bn", "--warmup", "inf"], "expected a finite number >= 0"),
    (["train", "lenet-bn", "--ctx", "tpu:0"], "bad context 'tpu:0'"),
    (["train", "lenet-bn", "--ctx", "gpu:0"], "MXNet sees 0 GPU(s)"),
    (["train", "lenet-bn", "--ctx", "cpu:0,cpu:0"], "names cpu(0) twice"),
    (["train", "lenet-bn", "--warmup", "1e308"], "at most 1000"),
    (["train", "lenet-bn", "--resize", "10000"], "at most 512"),
    (["train", "lenet-bn", "--schedule", "step"], "invalid choice: 'step'"),
    (["train", "lenet-bn", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "lenet-bn", "--recipe", "fastest"], "invalid choice: 'fastest'"),
    (["train", "lenet-bn", "--optimizer", "adam"], "invalid choice: 'adam'"),
    (["train", "lenet-bn", "--momentum", "1"], "expected a momentum in [0, 1), got 1"),
    (["train", "lenet-bn", "--shift", "1.5"], "whole pixels in [0, 16]"),
    (["train", "lenet-bn", "--label-smoothing", "0.9"], "a number in [0, 0.5], got 0.9"),
    (["summary", "resnet18", "--resize", "x"], "expected a positive integer"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_arguments_exit_2_without_traceback(args, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(args)
    assert err.value.code == 2
    text = capsys.readouterr().err
    assert message in text and "Traceback" not in text


def test_missing_data_exits_1_with_the_places(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setattr(D, "DEBIAN_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(D, "download", lambda *a: (_ for _ in ()).throw(OSError("offline")))
    code = main(["train", "lenet-bn", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "Fashion-MNIST not found" in err and str(tmp_path / "none") in err
    assert "Traceback" not in err
    code = main(["train", "lenet-bn", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and f"the data folder {tmp_path / 'nowhere'} does not exist" in err
    (tmp_path / "a-file").write_text("x")
    code = main(["train", "lenet-bn", "--data", str(tmp_path / "a-file"), "--out", str(tmp_path / "o")])
    assert code == 1 and "is a file, not a folder" in capsys.readouterr().err


def test_python_dash_m_and_exit_code_2_for_real():
    r = run("train", "lenet-bn", "--epochs", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert run("--help").returncode == 0


# ---- hypothesis over the command line: exit 0, 1, 2 or 130, never a traceback ----------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

VALUES = st.sampled_from(["0", "1", "-1", "3", "1e308", "nan", "inf", "x", "", "cpu:0,cpu:0",
                          "gpu:0", "sample", "/nonexistent", "256", "10000", "2.5", "fast",
                          "book", "nag"])
FLAGS = ["--lr", "--batch-size", "--epochs", "--resize", "--ctx", "--data", "--seed", "--subset",
         "--schedule", "--warmup", "--resume", "--no-resize", "--no-verify", "--bogus",
         "--recipe", "--optimizer", "--momentum", "--wd", "--label-smoothing", "--shift", "--flip",
         "--tta"]


@settings(max_examples=int(os.environ.get("D2LNETS_FUZZ_EXAMPLES", 40)), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(model=st.sampled_from(["lenet-bn", "lenet-bn-scratch", "resnet19", "LeNet_BN", ""]),
       flags=st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=4))
def test_fuzz_the_train_command(tmp_path_factory, model, flags):
    out = tmp_path_factory.mktemp("fuzz")
    argv = ["train", model, "--out", str(out / "run"), "--no-progress",
            "--data", "sample", "--subset", "64", "--epochs", "1"]
    for flag, value in flags:
        argv += [flag] if flag in ("--no-resize", "--no-verify", "--flip", "--tta") else [flag, value]
    try:
        code = main(argv)
    except SystemExit as done:  # argparse: --help (0) or bad arguments (2)
        code = done.code
    assert code in (0, 1, 2, 130), argv


def test_target_acc_stops_the_command(tmp_path):
    r = run("train", "lenet-bn", "--data", "sample", "--batch-size", "32", "--epochs", "20",
            "--target-acc", "0.6", "--no-progress", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    epochs = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
    assert 1 <= len(epochs) < 20 and "reached test acc" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("reached test acc"))
    m = re.search(r": ([\d.]+) s after training began, ([\d.]+) s after the command started", line)
    # the command started before training (import, data), and less than a minute ago
    assert m and 0 < float(m[1]) < float(m[2]) < 60, line
    rows = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rows[-1]["test_acc"] >= 0.6 and all(row["test_acc"] < 0.6 for row in rows[:-1])


@pytest.mark.parametrize("args, message", [
    (["train", "lenet-bn", "--out", ""], "expected a folder name, got an empty string"),
    (["train", "lenet-bn", "--lr", "1e300"], "expected a positive finite number (at most 1e+38)"),
    (["summary", "lenet-bn", "--resize", "100000"], "at most 512"),
])
def test_values_that_reached_mxnet_or_a_default_are_refused(args, message, capsys):
    """--out '' trained into runs/lenet-bn; --lr 1e300 ended in an MXNet traceback."""
    with pytest.raises(SystemExit) as err:
        main(args)
    text = capsys.readouterr().err
    assert err.value.code == 2 and message in text and "Traceback" not in text


def test_a_size_too_small_is_said_in_our_words(tmp_path):
    r = run("train", "lenet-bn", "--data", "sample", "--resize", "1", "--epochs", "1",
            "--out", str(tmp_path))
    assert r.returncode == 2 and "its layers shrink an image this small to nothing" in r.stderr
    assert "infer_shape error" not in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_launch_bounds_the_processes_it_starts(capsys):
    with pytest.raises(SystemExit) as err:
        main(["launch", "-n", "100000", "--", "true"])
    assert err.value.code == 2 and "at most 256" in capsys.readouterr().err


def test_a_closed_output_pipe_does_not_stop_the_run(tmp_path):
    """`d2lnets train ... | head -1`: the reader of stdout goes away after a line;
    the run goes on to its end and writes its history (it stopped with a bug)."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data",
                             "sample", "--epochs", "3", "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "training on cpu(0)\n"
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert "standard output cannot be written" in err and "Traceback" not in err
    assert len((out / "history.jsonl").read_text().splitlines()) == 3


def test_a_full_output_device_does_not_stop_the_run(tmp_path):
    out = tmp_path / "run"
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data",
                            "sample", "--epochs", "2", "--out", str(out), "--no-progress"],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0 and "No space left on device" in r.stderr
    assert len((out / "history.jsonl").read_text().splitlines()) == 2
