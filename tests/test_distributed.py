"""Parameter-server training over loopback: the launcher, identical workers, a dead
worker, the watchdog. Every run is bounded (--timeout and subprocess timeouts)."""
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mxnet import nd

from d2lnets import distributed as dist

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "D2LNETS_WATCHDOG": "60"}
LAUNCH = [sys.executable, "-m", "d2lnets", "launch"]


def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=timeout)


def trainable(path):
    params = nd.load(str(path))
    return {k: v.asnumpy() for k, v in params.items() if "running" not in k}


def test_plan_sets_the_dmlc_variables():
    procs = dist.plan(2, 1, ["python", "train.py"])
    roles = [(p.role, p.rank) for p in procs]
    assert roles == [("scheduler", 0), ("server", 0), ("worker", 0), ("worker", 1)]
    port = procs[0].env["DMLC_PS_ROOT_PORT"]
    for p in procs:
        assert p.env["DMLC_ROLE"] == p.role
        assert p.env["DMLC_PS_ROOT_URI"] == "127.0.0.1" and p.env["DMLC_PS_ROOT_PORT"] == port
        assert p.env["DMLC_NUM_WORKER"] == "2" and p.env["DMLC_NUM_SERVER"] == "1"
        assert p.env["DMLC_NODE_HOST"] == "127.0.0.1" and p.env["DMLC_INTERFACE"] == "lo"
    assert procs[2].argv == ["python", "train.py"]
    # ps-lite ranks a host's workers by their ports: ascending, so launcher index = rank
    assert int(procs[2].env["PORT"]) < int(procs[3].env["PORT"])


def test_plan_over_hosts():
    """Names become addresses (ps-lite binds DMLC_NODE_HOST as given), and the
    workers are numbered as ps-lite's scheduler will: address descending, port ascending."""
    procs = dist.plan(2, 2, ["cmd"], hosts=["me@localhost", "127.0.0.2", "127.0.0.3"], port=9100)
    assert [p.host for p in procs] == ["me@localhost", "127.0.0.2", "127.0.0.3", "127.0.0.2", "me@localhost"]
    assert all(p.env["DMLC_PS_ROOT_URI"] == "127.0.0.1" and p.env["DMLC_PS_ROOT_PORT"] == "9100" for p in procs)
    assert [p.env["DMLC_NODE_HOST"] for p in procs] == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.1"]
    assert [(p.rank, p.env["PORT"]) for p in dist.workers_of(procs)] == [(0, "9102"), (1, "9101")]
    assert "DMLC_INTERFACE" not in procs[0].env


@pytest.mark.parametrize("line", ["-oProxyCommand=touch /tmp/x", "host name"])
def test_a_host_that_ssh_would_take_as_an_option_is_refused(tmp_path, line):
    f = tmp_path / "hosts"
    f.write_text(f"node1\n{line}\n")
    with pytest.raises(ValueError, match="line 2: .* is not a host name"):
        dist.read_hosts(f)


def test_an_unknown_host_is_named():
    with pytest.raises(ValueError, match="cannot resolve host 'no-such-host.invalid'"):
        dist.plan(1, 1, ["cmd"], hosts=["no-such-host.invalid"])


def test_read_hosts(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("# cluster\nnode1\n\n  user@node2  # the second\n")
    assert dist.read_hosts(f) == ["node1", "user@node2"]
    f.write_text("# nothing\n")
    with pytest.raises(ValueError, match="lists no hosts"):
        dist.read_hosts(f)


@pytest.mark.slow
def test_two_workers_one_server_end_identical(tmp_path):
    r = run([*LAUNCH, "-n", "2", "-s", "1", "--timeout", "240", "--",
             sys.executable, str(HERE / "dist_worker.py"), str(tmp_path)])
    assert r.returncode == 0, r.stdout[-3000:]
    assert "[worker 0] rank 0 of 2 done" in r.stdout and "[worker 1] rank 1 of 2 done" in r.stdout
    assert "[worker 0] training on cpu(0)" in r.stdout
    w0, w1 = trainable(tmp_path / "worker0.params"), trainable(tmp_path / "worker1.params")
    assert w0.keys() == w1.keys() and len(w0) == 18  # 5 weights, 5 biases, 4 gammas, 4 betas
    for k in w0:
        assert (w0[k] == w1[k]).all(), k  # bit for bit: both pulled the servers' weights
    assert abs(w0["0.weight"]).sum() > 0


@pytest.mark.slow
def test_the_cli_trains_with_dist_sync_and_only_rank_0_writes(tmp_path):
    out = tmp_path / "run"
    r = run([*LAUNCH, "-n", "2", "-s", "1", "--timeout", "240", "--", "d2lnets", "train",
             "lenet-bn", "--data", "sample", "--kvstore", "dist_sync", "--epochs", "2",
             "--batch-size", "50", "--out", str(out), "--no-progress"])
    assert r.returncode == 0, r.stdout[-3000:]
    assert "500 training images" in r.stdout  # each worker: half of the 1,000
    lines0 = [ln for ln in r.stdout.splitlines() if ln.startswith("[worker 0] epoch")]
    lines1 = [ln for ln in r.stdout.splitlines() if ln.startswith("[worker 1] epoch")]
    assert len(lines0) == 2 and len(lines1) == 2
    assert (out / "history.jsonl").is_file() and len(list(out.glob("ckpt-*"))) == 2


@pytest.mark.slow
def test_a_killed_worker_stops_the_run_within_30_s(tmp_path):
    start = time.time()
    r = run([*LAUNCH, "-n", "2", "-s", "1", "--timeout", "240", "--",
             sys.executable, str(HERE / "dist_worker.py"), str(tmp_path), "1", "3"],
            timeout=300)
    end = time.time()
    assert r.returncode == 1, r.stdout[-3000:]
    assert "worker 1 (rank 1) was killed by SIGKILL" in r.stdout
    killed_at = float(re.search(r"KILLING rank 1 at ([\d.]+)", r.stdout)[1])
    assert end - killed_at < 30, f"{end - killed_at:.1f} s"
    assert end - start < 240


@pytest.mark.slow
def test_watchdog_ends_a_worker_blocked_on_a_dead_peer(tmp_path):
    """No launcher: the survivor is blocked inside MXNet waiting for its dead peer,
    where Python signals do not reach it; its watchdog thread ends it."""
    procs = dist.plan(2, 1, [sys.executable, str(HERE / "dist_worker.py"), str(tmp_path), "1", "3"])
    popens = []
    try:
        for p in procs:
            env = {**ENV, **p.env, "D2LNETS_WATCHDOG": "8", "DIST_TEST_EPOCHS": "20"}
            popens.append(subprocess.Popen(p.argv, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True))
        survivor = popens[2]
        out, _ = survivor.communicate(timeout=120)
        assert survivor.returncode == dist.WATCHDOG_EXIT, out[-2000:]
        assert "watchdog: no kvstore progress" in out
        assert popens[3].wait(timeout=60) == -signal.SIGKILL
    finally:
        for p in popens:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_watchdog_exits_a_stuck_process():
    code = ("from d2lnets.distributed import Watchdog\nimport time\nw = Watchdog(1.0)\n"
            "time.sleep(30)\n")
    start = time.time()
    r = run([sys.executable, "-c", code], timeout=60)
    assert r.returncode == dist.WATCHDOG_EXIT and time.time() - start < 15
    assert "watchdog: no training progress" in r.stderr


def test_launch_timeout_stops_everything():
    start = time.time()
    r = run([*LAUNCH, "-n", "1", "-s", "1", "--timeout", "3", "--", sys.executable, "-c",
             "import time; time.sleep(120)"], timeout=120)
    assert r.returncode == dist.TIMEOUT_EXIT and "--timeout 3 s reached" in r.stdout
    assert time.time() - start < 30


def test_launch_over_ssh_with_a_stand_in_ssh(tmp_path):
    """The --hosts path end to end: a stand-in `ssh HOST COMMAND` runs COMMAND here."""
    fake = tmp_path / "fakessh"
    fake.write_text('#!/bin/sh\n[ "$1" = "--" ] || exit 97\nshift 2\nexec sh -c "$1"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1\n127.0.0.1\n")
    code = "import os; print('role', os.environ['DMLC_ROLE'], os.environ['DMLC_NUM_WORKER'])"
    r = run([*LAUNCH, "-n", "2", "-s", "1", "--hosts", str(hosts), "--ssh", str(fake),
             "--port", str(dist._free_port()), "--timeout", "60", "--", sys.executable, "-c", code])
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("role worker 2") == 2


@pytest.mark.parametrize("args, message", [
    (["-n", "2"], "launch needs a command after --"),
    (["-n", "2", "--hosts", "/nonexistent/hosts", "--", "true"], "cannot read the hosts file"),
    (["-n", "0", "--", "true"], "expected a positive integer"),
])
def test_launch_bad_arguments(args, message):
    r = run([*LAUNCH, *args])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_dist_kvstore_without_launcher_is_explained(tmp_path):
    env = {k: v for k, v in ENV.items() if not k.startswith("DMLC_")}
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--kvstore", "dist_sync", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "d2lnets launch -n WORKERS" in r.stderr


def test_labels_are_kvstore_ranks_across_hosts(tmp_path):
    """Two 'hosts' (127.0.0.1 and 127.0.0.2, both loopback) through a stand-in ssh:
    ps-lite numbers the workers by address, descending; the launcher's labels agree."""
    fake = tmp_path / "fakessh"
    fake.write_text('#!/bin/sh\n[ "$1" = "--" ] || exit 97\nshift 2\nexec sh -c "$1"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost\n127.0.0.2\n")
    code = ("import os, mxnet as mx; kv = mx.kv.create('dist_sync'); "
            "print('kvrank', kv.rank, os.environ['DMLC_NODE_HOST'], flush=True)")
    r = run([*LAUNCH, "-n", "2", "-s", "1", "--hosts", str(hosts), "--ssh", str(fake),
             "--port", str(dist._free_port()), "--timeout", "90", "--", sys.executable, "-c", code])
    assert r.returncode == 0, r.stdout
    seen = re.findall(r"\[worker (\d)\] kvrank (\d) (\S+)", r.stdout)
    assert sorted(seen) == [("0", "0", "127.0.0.2"), ("1", "1", "127.0.0.1")], r.stdout


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (None: no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> dict[int, str]:
    """The PIDs whose parent is ``pid``, each with its start time (from /proc)."""
    kids = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat_file.parent.name))
        if fields and int(fields[1]) == pid:
            kids[int(stat_file.parent.name)] = fields[19]
    return kids


def _alive(pid: int, started: str) -> bool:
    """``pid`` is still the process that started at ``started`` (a reused PID is not)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_the_launcher_stops_every_process_it_started(sig):
    launcher = subprocess.Popen([sys.executable, "-m", "d2lnets", "launch", "-n", "1", "-s", "1",
                                 "--", "sleep", "1000"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(_children(launcher.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        kids = _children(launcher.pid)
        assert len(kids) == 3  # scheduler, server, worker
        launcher.send_signal(sig)
        out, err = launcher.communicate(timeout=30)
        assert launcher.returncode == 128 + sig and "Traceback" not in err
        assert f"{signal.Signals(sig).name}; stopped all processes" in out
        deadline = time.monotonic() + 10  # a killed process may take a moment to be gone
        while [k for k, t in kids.items() if _alive(k, t)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k, t in kids.items() if _alive(k, t)]
    finally:
        launcher.kill()
        launcher.wait()


def test_a_command_that_does_not_exist_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "d2lnets", "launch", "-n", "1", "-s", "1", "--",
                        "/nonexistent/cmd"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "internal error" not in r.stderr
    assert "cannot start '/nonexistent/cmd'" in r.stderr and "Traceback" not in r.stderr
