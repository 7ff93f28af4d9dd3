"""The run folder: one writer (a real flock, released by the kernel when the
holder dies), earlier runs moved aside under a free name, unusable folders named."""
import os
import signal
import subprocess
import sys
import time

import pytest

from d2lnets.errors import CheckpointError, RunFolderBusy, UsageError
from d2lnets.runfolder import RunFolder, move_aside

HOLD = """
import sys, time
from d2lnets.runfolder import RunFolder
with RunFolder(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    with RunFolder(tmp_path / "run"):
        with pytest.raises(RunFolderBusy, match=rf"{tmp_path / 'run'} is being written by another d2lnets \(PID {os.getpid()}\)"):
            with RunFolder(tmp_path / "run"):
                pass
    with RunFolder(tmp_path / "run"):  # released on exit
        pass


def test_the_kernel_releases_the_lock_of_a_killed_writer(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        with pytest.raises(RunFolderBusy, match=f"PID {proc.pid}"):
            RunFolder(tmp_path / "run").__enter__()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    with RunFolder(tmp_path / "run"):
        pass


def _earlier_run(folder):
    folder.mkdir(parents=True)
    (folder / "history.jsonl").write_text('{"epoch": 1}\n')
    return folder


def test_moving_aside_never_overwrites(tmp_path):
    run = _earlier_run(tmp_path / "run")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(run.stat().st_mtime))
    (tmp_path / f"run-{stamp}").mkdir()  # an earlier move took the name
    (tmp_path / f"run-{stamp}" / "keep").write_text("x")
    moved = move_aside(run)
    assert moved.name == f"run-{stamp}-2" and (moved / "history.jsonl").is_file()
    assert (tmp_path / f"run-{stamp}" / "keep").read_text() == "x"


def test_an_over_long_name_is_named_not_a_traceback(tmp_path):
    run = _earlier_run(tmp_path / ("r" * 245))
    with RunFolder(run) as folder, pytest.raises(CheckpointError, match="the name is too long"):
        folder.prepare(fresh=True)
    assert (run / "history.jsonl").is_file()  # nothing lost


def test_a_fresh_run_moves_the_earlier_one_aside(tmp_path):
    run = _earlier_run(tmp_path / "run")
    with RunFolder(run) as folder:
        moved = folder.prepare(fresh=True)
    assert (moved / "history.jsonl").is_file() and run.is_dir() and not list(run.iterdir())


def test_a_link_to_a_folder_being_written_is_refused(tmp_path):
    """--out LINK names the folder LINK points to: one lock for both names (it was a
    second lock, and the two runs overwrote each other's checkpoints)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with RunFolder(tmp_path / "real"):
        r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                            "--out", str(tmp_path / "link"), "--no-progress"],
                           capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "is being written by another d2lnets" in r.stderr, r.stderr
    assert not list((tmp_path / "real").iterdir())


def test_planted_links_are_never_written_through(tmp_path):
    """Links under the names of the lock and of the old temporary files, in a parent
    folder others can write: the victim file is left as it was."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    for name in ("history.jsonl.tmp", "curves.png.tmp.png", ".d2lnets-write-test"):
        (run / name).symlink_to(victim)
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--subset", "128", "--batch-size", "64", "--epochs", "1", "--out", str(run),
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious" and (run / "history.jsonl").is_file()
    (tmp_path / ".run2.lock").symlink_to(victim)
    with pytest.raises(CheckpointError, match=r"\.run2\.lock is a symbolic link"):
        with RunFolder(tmp_path / "run2"):
            pass
    assert victim.read_text() == "precious"


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    from d2lnets.files import write_atomically
    stale = tmp_path / ".history.jsonl.abc123.tmp"  # what SIGKILL mid-write leaves
    stale.write_text("half")
    write_atomically(tmp_path / "history.jsonl", lambda f: f.write(b"whole\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.jsonl"]
    assert (tmp_path / "history.jsonl").read_text() == "whole\n"


def test_a_second_run_into_the_working_folder_is_refused_and_nothing_moves(tmp_path):
    """`--out .` twice: the folder you are in is never renamed under you (the
    second run would have written over the first in the moved folder)."""
    here = tmp_path / "x"
    here.mkdir()
    (here / "notes").write_text("n\n")
    args = [sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
            "--epochs", "1", "--subset", "128", "--batch-size", "64", "--out", ".",
            "--no-progress"]
    first = subprocess.run(args, cwd=here, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    history = (here / "history.jsonl").read_text()
    second = subprocess.run(args + ["--lr", "0.5"], cwd=here, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "the folder you are working in" in second.stderr and "--resume" in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.lock", "x"]  # nothing moved aside
    assert (here / "notes").read_text() == "n\n" and (here / "history.jsonl").read_text() == history


def test_an_earlier_run_in_a_parent_of_the_working_folder_is_not_moved(tmp_path, monkeypatch):
    run = _earlier_run(tmp_path / "run")
    (run / "inner").mkdir()
    monkeypatch.chdir(run / "inner")
    with RunFolder(run) as lock, pytest.raises(UsageError, match="working in"):
        lock.prepare(fresh=True)
    assert (run / "history.jsonl").is_file() and not list(tmp_path.glob("run-*"))


def test_an_empty_out_is_refused_by_the_library(tmp_path, monkeypatch):
    from d2lnets import train_recipe
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="out is empty"):
        train_recipe("lenet-bn", out="", data="sample", epochs=1, subset=64, log=None)
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_run_inside_out_never_moves_out_away(tmp_path):
    """`--resume RUN/inner --out RUN` moved RUN aside, inner with it, then failed."""
    base = [sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample", "--subset",
            "128", "--batch-size", "64", "--no-progress"]
    run = tmp_path / "run"
    r = subprocess.run(base + ["--epochs", "1", "--out", str(run / "inner")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (run / "history.jsonl").write_text('{"epoch": 1}\n')  # RUN holds a run of its own too
    r = subprocess.run(base + ["--epochs", "2", "--resume", str(run / "inner"), "--out", str(run)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming from" in r.stdout and "epoch 2," in r.stdout
    assert not list(tmp_path.glob("run-*")) and (run / "inner" / "history.jsonl").is_file()


def test_a_second_run_into_the_root_folder_is_refused(monkeypatch):
    """`--out /` twice: the first run writes into /, the second would rename /
    (a bug report before); / holds every working folder, so it is refused."""
    import d2lnets.runfolder as R
    monkeypatch.setattr(R, "holds_a_run", lambda folder: True)
    lock = RunFolder("/")
    with pytest.raises(UsageError, match="the folder you are working in"):
        lock.prepare(fresh=True)
