"""Fault injection: each failure a user can meet, caused for real, ends cleanly.

Signals are real signals sent to a real `d2lnets train` process; the full disk is
a real 512 KiB tmpfs where the machine lets us mount one (root), and a patched
write otherwise; the unreadable folder is read by an unprivileged user.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_bytes, write_fake_set
from mxnet import gluon, nd

import d2lnets as d2l
from d2lnets import checkpoint as C
from d2lnets import data as D

# one OpenMP thread in every run: oneDNN's sums depend on the thread count, and the
# busy-core policy may pick 2 for one process and 1 for the next on a loaded machine
# (CI saw a resumed fast-recipe run differ in the 4th digit); exact resume holds per count
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "D2LNETS_THREADS": "1"}
TRAIN = [sys.executable, "-m", "d2lnets", "train"]


def cli(*args, timeout=600, **kw):
    return subprocess.run([*TRAIN, *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout, **kw)


def history(folder):
    rows = [json.loads(x) for x in (Path(folder) / "history.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def final_params(folder):
    ckpt = C.latest_checkpoint(folder)
    return {k: v.asnumpy() for k, v in nd.load(str(ckpt / C.PARAMS)).items()}


def no_temporaries(folder):
    return not [p for p in Path(folder).iterdir() if p.name.startswith(".")]


# ---- interrupted runs ---------------------------------------------------------------
SMALL = ["lenet-bn", "--data", "sample", "--batch-size", "8", "--seed", "3", "--no-progress"]


@pytest.mark.slow
def test_sigint_mid_epoch_saves_and_resume_repeats_exactly(tmp_path):
    ref = cli(*SMALL, "--epochs", "3", "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "run"
    ckpt, err = _interrupt_mid_epoch(out, SMALL)
    assert "SIGINT" in err and "--resume" in err and "Traceback" not in err
    resumed = cli(*SMALL, "--epochs", "3", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {ckpt}" in resumed.stdout
    assert history(out) == history(tmp_path / "ref")
    ours, theirs = final_params(out), final_params(tmp_path / "ref")
    assert ours.keys() == theirs.keys()
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


FAST = ["lenet-bn", "--recipe", "fast", "--data", "sample", "--batch-size", "8", "--seed", "3",
        "--lr", "0.05", "--shift", "2", "--flip", "--tta", "--label-smoothing", "0.1", "--no-progress"]


#: the fast recipe's other optimizer and schedule: SGD momentum, cosine after a warm-up
MOMENTUM = [*FAST, "--optimizer", "sgd", "--momentum", "0.9", "--schedule", "cosine", "--warmup", "0.5"]


@pytest.mark.slow
@pytest.mark.parametrize("args", [FAST, MOMENTUM], ids=["nag-linear", "momentum-cosine"])
def test_fast_recipe_resumes_exactly_mid_epoch(tmp_path, args):
    """Nesterov momentum states, the decaying learning rate and the augmented
    batches all continue where they stopped."""
    ref = cli(*args, "--epochs", "3", "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    ckpt, _ = _interrupt_mid_epoch(tmp_path / "run", args)
    resumed = cli(*args, "--epochs", "3", "--out", str(tmp_path / "run"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert history(tmp_path / "run") == history(tmp_path / "ref")
    ours, theirs = final_params(tmp_path / "run"), final_params(tmp_path / "ref")
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


@pytest.mark.slow
def test_sigterm_is_handled_like_sigint(tmp_path):
    proc = subprocess.Popen([*TRAIN, *SMALL, "--epochs", "50", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    while not proc.stdout.readline().startswith("epoch 1,"):
        pass
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "SIGTERM" in err
    assert C.latest_checkpoint(tmp_path) is not None


def _load_into_fresh_net(ckpt):
    net = d2l.lenet_bn()
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    meta = C.load_checkpoint(ckpt, net, trainer)
    assert net(nd.zeros((2, 1, 28, 28))).shape == (2, 10)
    return meta


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 1.5, 2.5, 4.0])
def test_sigkill_during_training_leaves_a_loadable_checkpoint(tmp_path, delay):
    proc = subprocess.Popen([*TRAIN, *SMALL, "--epochs", "50", "--out", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(delay)
    proc.kill()
    proc.wait(timeout=60)
    ckpt = C.latest_checkpoint(tmp_path)
    if ckpt is None:  # killed before the first epoch ended: nothing to load, nothing partial
        assert not C.list_checkpoints(tmp_path)
        return
    assert not ckpt.name.startswith(".")
    _load_into_fresh_net(ckpt)
    resumed = cli(*SMALL, "--epochs", str(int(ckpt.name.split("-")[1]) + 1), "--out",
                  str(tmp_path), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert no_temporaries(tmp_path)


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write(tmp_path):
    """ResNet-18's 45 MB of parameters make the write window wide enough to hit:
    the process is killed as soon as a temporary checkpoint folder appears."""
    args = ["resnet18", "--data", "sample", "--no-resize", "--subset", "64", "--batch-size", "32",
            "--epochs", "50", "--no-progress", "--out", str(tmp_path)]
    for _attempt in range(3):
        proc = subprocess.Popen([*TRAIN, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=ENV)
        deadline, hit = time.time() + 300, False
        while time.time() < deadline and proc.poll() is None:
            if tmp_path.is_dir() and any(p.name.startswith(f".{C.PREFIX}") for p in tmp_path.iterdir()):
                proc.kill()
                hit = True
                break
            time.sleep(0.001)
        proc.kill()
        proc.wait(timeout=60)
        if hit:
            break
    assert hit, "never saw a checkpoint being written"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the partial one is there
    ckpt = C.latest_checkpoint(tmp_path)  # ... and never picked up
    assert ckpt is None or not ckpt.name.startswith(".")
    if ckpt is not None:
        net = d2l.resnet18()
        C.load_checkpoint(ckpt, net, None)
    # the next run cleans the partial folder up
    done = cli(*args[:-5], "--epochs", "1", "--out", str(tmp_path), *([] if ckpt is None else ["--resume"]))
    assert done.returncode == 0, done.stderr
    assert no_temporaries(tmp_path)


# ---- bad data and bad disks --------------------------------------------------------------
def _broken_set(tmp_path, fault):
    """A small IDX set (not Fashion-MNIST: read with --no-verify) with one fault."""
    import gzip
    folder = write_fake_set(tmp_path / "data")
    target = folder / "t10k-images-idx3-ubyte.gz"
    if fault == "missing":
        target.unlink()
    elif fault == "truncated":
        raw = gzip.open(target).read()
        with gzip.open(target, "wb") as f:
            f.write(raw[:-40])
    elif fault == "truncated-gzip":
        target.write_bytes(target.read_bytes()[:-40])
    elif fault == "wrong-magic":
        with gzip.open(target, "wb") as f:
            f.write(b"\x08\x08\x08\x08" + bytes(64))
    elif fault == "wrong-count":
        with gzip.open(target, "wb") as f:
            f.write(idx_bytes(np.zeros((9, 28, 28), np.uint8)))
    return folder


@pytest.mark.parametrize("fault, message", [
    ("missing", "missing t10k-images-idx3-ubyte.gz"),
    ("truncated", r"t10k-images-idx3-ubyte.gz: header says .* it is truncated"),
    ("truncated-gzip", r"t10k-images-idx3-ubyte.gz is not a readable gzip/IDX file"),
    ("wrong-magic", "t10k-images-idx3-ubyte.gz: bad IDX magic"),
    ("wrong-count", "t10k-images-idx3-ubyte.gz has 9 images but .* has 10 labels"),
])
def test_bad_data_files_exit_1_naming_the_file(tmp_path, fault, message):
    folder = _broken_set(tmp_path, fault)
    r = cli("lenet-bn", "--data", str(folder), "--no-verify", "--out", str(tmp_path / "out"))
    assert r.returncode == 1, r.stderr
    assert re.search(message, r.stderr), r.stderr
    assert "Traceback" not in r.stderr and "apt-get install dataset-fashion-mnist" in r.stderr


def test_a_small_valid_set_trains_without_verify(tmp_path):
    folder = write_fake_set(tmp_path / "data", n_train=40, n_test=20)
    r = cli("lenet-bn", "--data", str(folder), "--no-verify", "--epochs", "1", "--batch-size", "8",
            "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr


REAL = Path(D.DEBIAN_DIR)


@pytest.mark.skipif(not (REAL / "t10k-images-idx3-ubyte.gz").is_file(), reason="no real set")
@pytest.mark.parametrize("fault", ["one-flipped-pixel", "short-count"])
def test_corrupt_real_file_exit_1(tmp_path, fault):
    import gzip
    folder = tmp_path / "real"
    shutil.copytree(REAL, folder)
    raw = bytearray(gzip.open(folder / "t10k-images-idx3-ubyte.gz").read())
    if fault == "one-flipped-pixel":
        raw[-1] ^= 0xFF
        message = "content checksum"
    else:
        raw = idx_bytes(np.frombuffer(bytes(raw[16:]), np.uint8).reshape(10000, 28, 28)[:9999])
        message = "9999 items, expected 10000"
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes(raw))
    r = cli("lenet-bn", "--data", str(folder), "--out", str(tmp_path / "out"))
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def _without_root_overrides():
    """The command prefix that runs a process subject to permission bits: root
    keeps its uid but loses CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission bits do not apply")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def test_unreadable_data_folder(tmp_path):
    folder = write_fake_set(tmp_path / "data")
    folder.chmod(0o000)
    try:
        r = subprocess.run([*_without_root_overrides(), *TRAIN, "lenet-bn", "--data", str(folder),
                            "--out", str(tmp_path / "out")],
                           capture_output=True, text=True, env=ENV, timeout=300)
    finally:
        folder.chmod(0o755)
    assert r.returncode == 1, r.stderr
    assert f"cannot read the data folder {folder}: permission denied" in r.stderr
    assert "Traceback" not in r.stderr


def test_unreadable_data_file(tmp_path):
    folder = write_fake_set(tmp_path / "data")
    (folder / "train-labels-idx1-ubyte.gz").chmod(0o000)
    r = subprocess.run([*_without_root_overrides(), *TRAIN, "lenet-bn", "--data", str(folder),
                        "--no-verify", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "train-labels-idx1-ubyte.gz: permission denied" in r.stderr
    assert "Traceback" not in r.stderr


@contextlib.contextmanager
def small_tmpfs(path, size):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.slow
def test_full_disk_on_a_real_tmpfs(tmp_path):
    """LeNet-BN checkpoints are ~180 KB: the third one does not fit in 512 KiB."""
    with small_tmpfs(tmp_path / "small", "512k") as disk:
        r = cli("lenet-bn", "--data", "sample", "--batch-size", "100", "--epochs", "20",
                "--no-progress", "--out", str(disk / "run"))
        assert r.returncode == 1, r.stdout + r.stderr
        assert "the disk is full" in r.stderr and "is kept" in r.stderr
        assert "Traceback" not in r.stderr
        kept = C.latest_checkpoint(disk / "run")
        assert kept is not None and no_temporaries(disk / "run")
        _load_into_fresh_net(kept)


# ---- bad inputs ---------------------------------------------------------------------------
def test_nan_loss_stops_the_run(tmp_path):
    r = cli("lenet-bn", "--data", "sample", "--lr", "1e38", "--epochs", "1", "--no-progress",
            "--out", str(tmp_path))
    assert r.returncode == 1
    assert re.search(r"the loss became nan .* Lower the learning rate", r.stderr), r.stderr
    assert "Traceback" not in r.stderr


def test_exploding_but_finite_loss_stops_the_run(tmp_path):
    """With batch norm a huge learning rate gives losses of 1e30 that stay finite."""
    r = cli("lenet-bn", "--data", "sample", "--lr", "1e10", "--epochs", "2", "--no-progress",
            "--out", str(tmp_path))
    assert r.returncode == 1 and "exploded to" in r.stderr, r.stderr


# ---- a run folder you can trust (subprocesses, real signals) -----------------------------
PAUSED = [sys.executable, str(Path(__file__).with_name("paused_train.py"))]


def _interrupt_mid_epoch(out, args, epochs="3", batch=5):
    """A run stopped by a real SIGINT at ``batch`` of its second epoch, sent while
    the run holds still there (paused_train.py): (its checkpoint, stderr)."""
    proc = subprocess.Popen([*PAUSED, "1", str(batch), *args, "--epochs", epochs, "--out", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    seen = []
    while not (line := proc.stderr.readline()).startswith("paused at"):
        seen.append(line)
        assert line, "".join(seen) + proc.stdout.read()
    proc.send_signal(signal.SIGINT)
    out_text, err = proc.communicate(input="", timeout=120)  # closing stdin un-pauses it
    assert proc.returncode == 130, err
    assert "epoch 1," in out_text and "epoch 2," not in out_text, out_text
    ckpt = C.latest_checkpoint(out)  # the batch under way when the signal came is finished
    assert ckpt is not None and ckpt.name == f"ckpt-0001-{batch + 1:05d}", ckpt
    return ckpt, "".join(seen) + err


@pytest.mark.slow
def test_resume_honours_lr_and_refuses_a_batch_size_change_mid_epoch(tmp_path):
    ckpt, _ = _interrupt_mid_epoch(tmp_path / "run", SMALL)
    refused = cli(*SMALL, "--epochs", "3", "--out", str(tmp_path / "run"), "--resume",
                  "--batch-size", "16")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "batch_size 16 (the run has 8)" in refused.stderr and "in the middle of an epoch" in refused.stderr
    assert C.latest_checkpoint(tmp_path / "run") == ckpt  # nothing changed
    resumed = cli(*SMALL, "--epochs", "3", "--out", str(tmp_path / "run"), "--resume", "--lr", "0.25")
    assert resumed.returncode == 0, resumed.stderr
    assert "lr 0.25" in resumed.stderr
    rows = history(tmp_path / "run")
    assert rows[1]["lr"] == 0.25 and rows[1]["changed"] == {"lr": [1.0, 0.25]}
    assert rows[0]["lr"] == 1.0 and "changed" not in rows[2]


@pytest.mark.slow
def test_resume_keeps_the_runs_seed_and_takes_a_new_one_at_an_epoch_end(tmp_path):
    args = ["lenet-bn", "--data", "sample", "--batch-size", "100", "--no-progress", "--seed", "7"]
    ref = cli(*args, "--epochs", "2", "--out", str(tmp_path / "ref"))
    first = cli(*args, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert ref.returncode == 0 and first.returncode == 0
    same = cli("lenet-bn", "--data", "sample", "--no-progress", "--epochs", "2", "--out",
               str(tmp_path / "run"), "--resume")  # no --seed, no --batch-size: the run's
    assert same.returncode == 0, same.stderr
    assert "seed 7" in same.stderr and "batch 100" in same.stderr
    rows = history(tmp_path / "run")
    assert rows[1].pop("changed") == {"epochs": [1, 2]}  # the only value the command changed
    assert rows == history(tmp_path / "ref")
    other = cli(*args[:-2], "--seed", "8", "--epochs", "3", "--out", str(tmp_path / "run"), "--resume")
    assert other.returncode == 0 and "seed 8" in other.stderr
    assert history(tmp_path / "run")[2]["changed"] == {"epochs": [2, 3], "seed": [7, 8]}


@pytest.mark.slow
def test_resume_path_into_another_out_keeps_both_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(*SMALL, "--epochs", "2", "--out", str(a)).returncode == 0
    assert cli(*SMALL, "--epochs", "1", "--out", str(b)).returncode == 0
    before = sorted(p.name for p in a.iterdir())
    r = cli(*SMALL, "--epochs", "3", "--resume", str(a), "--out", str(b))
    assert r.returncode == 0, r.stderr
    assert f"the earlier run in {b} was moved to" in r.stderr
    assert [row["epoch"] for row in history(b)] == [1, 2, 3]
    assert [p.name for p in C.list_checkpoints(b)] == ["ckpt-0003-00000"]
    assert sorted(p.name for p in a.iterdir()) == before  # the source run is untouched
    moved = next(tmp_path.glob("b-*"))
    assert [row["epoch"] for row in history(moved)] == [1]


@pytest.mark.slow
def test_a_second_writer_exits_at_once_and_the_first_goes_on(tmp_path):
    first = subprocess.Popen([*TRAIN, *SMALL, "--epochs", "50", "--out", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        while not first.stdout.readline().startswith("epoch 1,"):
            pass
        start = time.time()
        second = cli(*SMALL, "--epochs", "1", "--out", str(tmp_path), timeout=120)
        assert second.returncode == 1 and time.time() - start < 30
        assert f"{tmp_path} is being written by another d2lnets (PID {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130 and not list(tmp_path.parent.glob(f"{tmp_path.name}-*"))
    _load_into_fresh_net(C.latest_checkpoint(tmp_path))


@pytest.mark.slow
def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    run = tmp_path / "run"
    assert cli(*SMALL, "--epochs", "1", "--out", str(run)).returncode == 0
    ckpt = C.latest_checkpoint(run)
    marker = tmp_path / "pwned"
    evil = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."  # pickle: os.system(...)
    (ckpt / "trainer.states").write_bytes(evil)
    meta = json.loads((ckpt / C.META).read_text())
    import hashlib
    meta["files"]["trainer.states"] = {"size": len(evil), "sha1": hashlib.sha1(evil).hexdigest()}
    (ckpt / C.META).write_text(json.dumps(meta))
    r = cli(*SMALL, "--epochs", "2", "--out", str(run), "--resume")
    assert r.returncode == 1 and "never unpickled" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()


def test_resuming_as_another_model_is_refused(tmp_path):
    assert cli(*SMALL, "--epochs", "1", "--out", str(tmp_path)).returncode == 0
    r = cli("resnet18", "--data", "sample", "--no-resize", "--out", str(tmp_path), "--resume")
    assert r.returncode == 2 and "is a run of lenet-bn, not resnet18" in r.stderr
    assert "Traceback" not in r.stderr


# ---- Ctrl-C always means 130 -------------------------------------------------------------
@pytest.mark.parametrize("when", ["while-importing", "before-the-first-batch"])
def test_ctrl_c_before_training_exits_130(tmp_path, when):
    """Before the first batch: the run holds still when fit is called (paused_train.py),
    so the signal cannot land after a fast first batch on a quiet machine."""
    command = TRAIN if when == "while-importing" else [*PAUSED, "-1", "-1"]
    proc = subprocess.Popen([*command, *SMALL, "--epochs", "2", "--out", str(tmp_path / "run")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    if when == "while-importing":
        time.sleep(0.3)
    else:
        line = "?"
        while line and not line.startswith("paused at fit"):
            line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "disk" not in err
    assert not C.list_checkpoints(tmp_path / "run")


# ---- batches and bad input ----------------------------------------------------------------
@pytest.mark.parametrize("args", [["--subset", "257"], ["--subset", "259", "--ctx", "cpu:0,cpu:1"]],
                         ids=["one-image-last-batch", "three-images-over-two-devices"])
def test_a_tiny_last_batch_is_dropped_not_fatal(tmp_path, args):
    r = cli("lenet-bn", "--data", "sample", "--epochs", "1", "--no-progress", *args,
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert history(tmp_path)[0]["epoch"] == 1


def test_a_batch_too_small_for_the_devices_is_a_usage_error(tmp_path):
    r = cli("lenet-bn", "--data", "sample", "--batch-size", "3", "--ctx", "cpu:0,cpu:1",
            "--out", str(tmp_path))
    assert r.returncode == 2 and "batch size 3 over 2 device(s)" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("fault, message", [
    ("empty", "the image set is empty"),
    ("not-square", "needs square one-channel images"),
    ("bomb", "it is too long"),
    ("huge-header", "more than the 1,073,741,824 d2lnets reads"),
])
def test_hostile_data_files_exit_1(tmp_path, fault, message):
    import gzip
    folder = write_fake_set(tmp_path / "data", n_train=0 if fault == "empty" else 20)
    target = folder / "t10k-images-idx3-ubyte.gz"
    if fault == "not-square":
        target.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 28, 20), np.uint8))))
    elif fault == "bomb":  # 300 MB of zeros behind a header that declares 7,840 bytes
        with gzip.open(target, "wb", compresslevel=1) as f:
            f.write(idx_bytes(np.zeros((10, 28, 28), np.uint8)))
            zeros = bytes(1 << 20)
            for _ in range(300):
                f.write(zeros)
    elif fault == "huge-header":
        target.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 10**6, 10**3, 10**3)))
    r = cli("lenet-bn", "--data", str(folder), "--no-verify", "--epochs", "1", "--batch-size", "4",
            "--out", str(tmp_path / "out"))
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_unwritable_out_is_refused_before_training(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        r = subprocess.run([*_without_root_overrides(), *TRAIN, *SMALL, "--out", str(parent / "run")],
                           capture_output=True, text=True, env=ENV, timeout=300)
    finally:
        parent.chmod(0o755)
    assert r.returncode == 1 and "permission denied" in r.stderr, r.stderr
    assert "epoch 1," not in r.stdout and "Free some space" not in r.stderr
    assert "Traceback" not in r.stderr


def _paused_run(out, args, batch=2):
    """A run holding still at ``batch`` of its second epoch (paused_train.py)."""
    proc = subprocess.Popen([*PAUSED, "1", str(batch), *args, "--epochs", "3", "--out", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    line = "?"
    while line and not line.startswith("paused at"):
        line = proc.stderr.readline()
    assert line, proc.stdout.read()
    return proc


@pytest.mark.slow
def test_the_terminal_closing_saves_the_run(tmp_path):
    """SIGHUP (the terminal or the ssh connection gone) killed the run unsaved. Its
    output pipes are closed first, as a gone terminal's are: writing must not fail."""
    proc = _paused_run(tmp_path / "run", SMALL)
    proc.stdout.close()
    proc.stderr.close()
    proc.send_signal(signal.SIGHUP)
    proc.stdin.close()  # un-pauses it
    assert proc.wait(timeout=120) == 130
    assert C.latest_checkpoint(tmp_path / "run").name == "ckpt-0001-00003"
    resumed = cli(*SMALL, "--epochs", "3", "--out", str(tmp_path / "run"), "--resume")
    assert resumed.returncode == 0 and "resuming from" in resumed.stdout, resumed.stderr


@pytest.mark.slow
def test_sigquit_saves_the_run_too(tmp_path):
    proc = _paused_run(tmp_path / "run", SMALL)
    proc.send_signal(signal.SIGQUIT)
    _, err = proc.communicate(input="", timeout=120)
    assert proc.returncode == 130 and "SIGQUIT: stopped in epoch 2 after batch 3" in err, err
    assert C.latest_checkpoint(tmp_path / "run").name == "ckpt-0001-00003"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_run_finished_leaves_it_a_success(tmp_path, sig):
    """It turned a complete run's exit code into 143 or 130."""
    proc = subprocess.Popen([*PAUSED, "-2", "-2", "lenet-bn", "--data", "sample", "--epochs", "1",
                             "--out", str(tmp_path / "run"), "--no-progress"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    while "paused at end" not in proc.stderr.readline():
        assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(sig)
    proc.stdin.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert f"{signal.Signals(sig).name} came after the run had finished" in err
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 1


def _loading_mxnet(pid: int) -> bool:
    try:
        return "libmxnet" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_while_mxnet_loads_is_said_with_its_exit_code(sig):
    proc = subprocess.Popen([sys.executable, "-m", "d2lnets", "summary", "lenet-bn"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not _loading_mxnet(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err  # not a core dump (SIGQUIT), not silent
    assert f"stopped by {signal.Signals(sig).name}" in err and "Traceback" not in err
