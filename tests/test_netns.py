"""Parameter-server training across hosts for real: the scheduler, a server and
two workers each in a network namespace of its own (``ip netns``), joined by a
bridge, with addresses of their own. Needs root and iproute2 (skipped without);
every namespace and link made here is removed, whatever happens.

Shown: the run equals the loopback run bit for bit; a worker whose link is cut
mid-epoch stops every process within WATCHDOG + 10 s, with the host named; the
last checkpoint is intact and resumes; a stray connection to the scheduler's
port aborts the scheduler (ps-lite has no authentication), which stops the run
at once with the host named, and the fence docs/distributed.md gives keeps it out.
"""
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d2lnets import checkpoint as C

pytestmark = pytest.mark.slow

PREFIX = f"d2l{os.getpid() % 100000}"
SUBNET = "10.213.77"
HOSTS = {"sch": 1, "srv": 2, "w0": 3, "w1": 4, "out": 5}  # `out`: a stranger
WATCHDOG = 20
TRAIN = ["d2lnets", "train", "lenet-bn", "--kvstore", "dist_sync", "--data", "sample",
         "--batch-size", "50", "--seed", "0", "--no-progress"]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


@pytest.fixture(scope="module")
def hosts():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (ip netns)")
    made = []
    try:
        ip("netns", "add", ns("sw"))
        made.append(ns("sw"))
        ip("-n", ns("sw"), "link", "add", "br0", "type", "bridge")
        ip("-n", ns("sw"), "link", "set", "br0", "up")
        for host, n in HOSTS.items():
            ip("netns", "add", ns(host))
            made.append(ns(host))
            ip("link", "add", f"{PREFIX}{n}", "netns", ns("sw"), "type", "veth", "peer", "name",
               "eth0", "netns", ns(host))
            ip("-n", ns("sw"), "link", "set", f"{PREFIX}{n}", "master", "br0", "up")
            ip("-n", ns(host), "addr", "add", f"{SUBNET}.{n}/24", "dev", "eth0")
            ip("-n", ns(host), "link", "set", "eth0", "up")
            ip("-n", ns(host), "link", "set", "lo", "up")
        yield {host: f"{SUBNET}.{n}" for host, n in HOSTS.items()}
    finally:
        for name in reversed(made):  # deleting a namespace deletes its links
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert PREFIX not in left


def _stand_in_ssh(tmp: Path, addresses: dict) -> Path:
    """`ssh -- HOST COMMAND` that runs COMMAND in HOST's namespace."""
    cases = "\n".join(f"  {addr}) n={ns(host)} ;;" for host, addr in addresses.items())
    script = tmp / "netns-ssh"
    script.write_text(f'#!/bin/sh\n[ "$1" = "--" ] || exit 97\ncase "$2" in\n{cases}\n'
                      f'  *) exit 98 ;;\nesac\nexec ip netns exec "$n" sh -c "$3"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _launch(tmp: Path, addresses: dict | None, args: list, **kw) -> subprocess.Popen:
    env = {**os.environ, "D2LNETS_THREADS": "1", "D2LNETS_WATCHDOG": str(WATCHDOG),
           "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "d2lnets", "launch", "-n", "2", "-s", "1"]
    if addresses:
        hosts = tmp / "hosts"
        hosts.write_text("".join(f"{addresses[h]}\n" for h in ("sch", "srv", "w0", "w1")))
        cmd += ["--hosts", str(hosts), "--ssh", str(_stand_in_ssh(tmp, addresses))]
    return subprocess.Popen(cmd + ["--timeout", "600", "--", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp, **kw)


def _params(run: Path) -> bytes:
    return (C.latest_checkpoint(run) / C.PARAMS).read_bytes()


STRAY = ("import socket, sys, time\n"
         "for _ in range(150):\n"
         "    try:\n        s = socket.create_connection((sys.argv[1], 9091), timeout=1)\n"
         "        break\n    except OSError:\n        time.sleep(0.1)\n"
         "else:\n    sys.exit('never connected')\n"
         "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n' + bytes(range(256)) * 64)\n"
         "time.sleep(2)\nprint('stray sent', flush=True)")


def _stranger(address: str) -> subprocess.Popen:
    """From the `out` host, once the port listens: a connection and garbage."""
    return subprocess.Popen(["ip", "netns", "exec", ns("out"), sys.executable, "-c", STRAY,
                             address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_across_hosts_the_run_equals_the_loopback_run(hosts, tmp_path):
    loop = _launch(tmp_path, None, TRAIN + ["--epochs", "1", "--out", str(tmp_path / "lo")])
    out, _ = loop.communicate(timeout=600)
    assert loop.returncode == 0, out[-3000:]
    net = _launch(tmp_path, hosts, TRAIN + ["--epochs", "1", "--out", str(tmp_path / "ns")])
    out, _ = net.communicate(timeout=600)
    assert net.returncode == 0, out[-3000:]
    assert _params(tmp_path / "ns") == _params(tmp_path / "lo")  # bit for bit


def test_a_stray_connection_to_the_scheduler_ends_the_run_and_is_named(hosts, tmp_path):
    """ps-lite has no authentication: garbage on the scheduler's port aborts it
    (a protobuf parse check). The launcher then stops everything at once and names
    the host; docs/distributed.md says so and how to fence the port."""
    stray = _stranger(hosts["sch"])
    net = _launch(tmp_path, hosts, TRAIN + ["--epochs", "20", "--out", str(tmp_path / "run")])
    out, _ = net.communicate(timeout=600)
    stray.communicate(timeout=60)
    assert net.returncode == 1, out[-3000:]
    assert f"scheduler on host {hosts['sch']} exited with 134" in out and "protobuf" in out
    assert not _processes_of(tmp_path)


def test_a_fenced_scheduler_port_keeps_a_stranger_out(hosts, tmp_path):
    """The fence docs/distributed.md gives: the scheduler's host accepts its port
    from the job's hosts only. The stranger cannot connect; the run completes."""
    if shutil.which("iptables") is None:
        pytest.skip("no iptables (.ci/run installs it)")
    rules = [["-A", "INPUT", "-p", "tcp", "--dport", "9091", "-s", hosts[h], "-j", "ACCEPT"]
             for h in ("sch", "srv", "w0", "w1")]
    rules.append(["-A", "INPUT", "-p", "tcp", "--dport", "9091", "-j", "REJECT", "--reject-with",
                  "tcp-reset"])
    for rule in rules:
        subprocess.run(["ip", "netns", "exec", ns("sch"), "iptables", *rule], check=True,
                       timeout=30)
    try:
        stray = _stranger(hosts["sch"])
        net = _launch(tmp_path, hosts, TRAIN + ["--epochs", "1", "--out", str(tmp_path / "run")])
        out, _ = net.communicate(timeout=600)
        stray_out, stray_err = stray.communicate(timeout=60)
        assert net.returncode == 0, out[-3000:]
        assert "never connected" in stray_err
    finally:
        subprocess.run(["ip", "netns", "exec", ns("sch"), "iptables", "-F", "INPUT"], timeout=30)


def test_a_cut_link_stops_every_process_and_the_last_checkpoint_resumes(hosts, tmp_path):
    run = tmp_path / "run"
    proc = _launch(tmp_path, hosts, TRAIN + ["--epochs", "40", "--out", str(run)])
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "epoch 2," in line:  # two epochs saved; the third under way
            break
    assert proc.poll() is None, "".join(lines)[-3000:]
    ip("-n", ns("w1"), "link", "set", "eth0", "down")
    cut = time.monotonic()
    rest, _ = proc.communicate(timeout=WATCHDOG + 60)
    took = time.monotonic() - cut
    assert proc.returncode == 1 and took < WATCHDOG + 10, rest[-3000:]
    assert f"on host {SUBNET}." in rest and "stopped the other 3 processes" in rest
    assert not _processes_of(tmp_path)
    last = C.latest_checkpoint(run)
    assert last is not None and C.read_meta(last)["epoch"] >= 1
    ip("-n", ns("w1"), "link", "set", "eth0", "up")
    again = _launch(tmp_path, None, TRAIN + ["--epochs", "3", "--out", str(run), "--resume"])
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    assert "resuming from" in out and "epoch 3," in out


def _processes_of(folder: Path) -> list[int]:
    """Live processes whose working folder is ``folder`` (the launched ones)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)) == folder and int(cwd.parent.name) != os.getpid():
                state = (cwd.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found
