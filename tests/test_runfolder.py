"""The run folder: one writer (a real flock, released by the kernel when the
holder dies), earlier runs moved aside under a free name, unusable folders named."""
import os
import signal
import subprocess
import sys
import time

import pytest

from d2lnets.errors import CheckpointError, RunFolderBusy
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
