"""OpenMP threads: every usable core, the user's choice, cgroup CPU quotas."""
import os
import subprocess
import sys

import pytest

from d2lnets import threads
from d2lnets.threads import cgroup_cpu_limit, usable_cores

PROBE = """
import os, sys
if sys.argv[1] == "mxnet-first":
    import mxnet
import d2lnets, mxnet as mx
from mxnet import nd
before = len(os.listdir("/proc/self/task"))
x = nd.random.uniform(shape=(16, 16, 32, 32))
nd.Convolution(x, nd.ones((16, 16, 3, 3)), kernel=(3, 3), num_filter=16, no_bias=True).wait_to_read()
print(os.environ["OMP_NUM_THREADS"], len(os.listdir("/proc/self/task")) - before)
"""


def probe(order, env):
    full = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full.update(env)
    r = subprocess.run([sys.executable, "-c", PROBE, order], capture_output=True, text=True,
                       env=full, timeout=120)
    assert r.returncode == 0, r.stderr
    return [int(v) for v in r.stdout.split()]


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core")
@pytest.mark.parametrize("order", ["d2lnets-first", "mxnet-first"])
def test_every_usable_core_whatever_the_import_order(order):
    threads, new_all = probe(order, {})
    # the policy leaves cores busy with other processes to them (quiet machine: all)
    # (how many it leaves is tested with a stand-in /proc/stat: here the load may change)
    assert 1 <= threads <= usable_cores()
    # what MXNet really does: its worker's OpenMP team has one thread per chosen core (the
    # busy-core policy may choose fewer on a loaded machine: compare with its own choice)
    _, new_one = probe(order, {"OMP_NUM_THREADS": "1"})
    assert new_all - new_one == threads - 1


def test_the_users_choice_wins():
    threads, _ = probe("d2lnets-first", {"OMP_NUM_THREADS": "1"})
    assert threads == 1


def _tree(tmp_path, lines, files):
    proc = tmp_path / "proc-cgroup"
    proc.write_text("\n".join(lines) + "\n")
    for rel, text in files.items():
        path = tmp_path / "cg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "cg", proc


def test_cgroup_v1_quota_of_the_group_or_an_ancestor(tmp_path):
    root, proc = _tree(tmp_path, ["4:cpu,cpuacct:/outer/inner", "2:memory:/x"], {
        "cpu/outer/inner/cpu.cfs_quota_us": "-1", "cpu/outer/inner/cpu.cfs_period_us": "100000",
        "cpu/outer/cpu.cfs_quota_us": "150000", "cpu/outer/cpu.cfs_period_us": "100000"})
    assert cgroup_cpu_limit(root, proc) == 1.5


def test_cgroup_v2_cpu_max(tmp_path):
    root, proc = _tree(tmp_path, ["0::/box"], {"box/cpu.max": "50000 100000\n",
                                               "cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(root, proc) == 0.5


def test_no_quota_means_no_limit(tmp_path):
    root, proc = _tree(tmp_path, ["0::/"], {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(root, proc) is None
    assert cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "missing") is None


def test_usable_cores_rounds_a_quota_down_to_at_least_one(monkeypatch):
    monkeypatch.setattr(threads, "_affinity", lambda: 8)
    for quota, want in [(None, 8), (2.5, 2), (0.5, 1), (16.0, 8)]:
        monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda q=quota: q)
        assert usable_cores() == want


def test_d2lnets_threads_overrides_and_off_leaves_mxnet_alone():
    threads_n, _ = probe("d2lnets-first", {"D2LNETS_THREADS": "1"})
    assert threads_n == 1
    r = subprocess.run([sys.executable, "-c", "import os, d2lnets; print(os.environ.get('OMP_NUM_THREADS'))"],
                       capture_output=True, text=True, timeout=120,
                       env={**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},
                            "D2LNETS_THREADS": "off"})
    assert r.returncode == 0 and r.stdout.strip() == "None", r.stderr


def test_busy_cores_reads_the_runnable_tasks(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nprocs_running 3\nprocs_blocked 0\n")
    assert threads.busy_cores(samples=1, stat=stat) == 2  # the reader itself is one of the 3
    stat.write_text("cpu  1 2 3\n")
    assert threads.busy_cores(samples=1, stat=stat) == 0


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core")
def test_a_busy_process_takes_a_core_from_the_team():
    """A real competitor, started first: the team leaves it its core."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time
        time.sleep(0.5)
        threads_n, _ = probe("d2lnets-first", {})
    finally:
        busy.kill()
        busy.wait()
    assert threads_n == usable_cores() - 1


@pytest.mark.parametrize("value, problem", [
    ("1000", "D2LNETS_THREADS=1000 is more than the"),
    ("abc", "D2LNETS_THREADS='abc' is neither a count of threads"),
    ("0", "D2LNETS_THREADS='0' is neither a count of threads"),
    ("-1", "D2LNETS_THREADS='-1' is neither a count of threads"),
])
def test_a_bad_thread_setting_is_capped_or_ignored_and_named(value, problem):
    """1000 threads aborted MXNet under a memory limit; 'abc', '0' and '-1' were ignored
    in silence, and doctor called 1000 fine."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-m", "d2lnets", "doctor", "--offline"], capture_output=True,
                       text=True, env={**env, "D2LNETS_THREADS": value}, timeout=120)
    assert r.returncode == 1 and f"PROBLEM    {problem}" in r.stdout, r.stdout + r.stderr
    assert "fix:     set D2LNETS_THREADS to a count from 1 to" in r.stdout
    threads, _ = probe("d2lnets-first", {"D2LNETS_THREADS": value})
    assert 1 <= threads <= usable_cores()
