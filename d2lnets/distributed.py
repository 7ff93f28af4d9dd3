"""Parameter-server training on MXNet's own kvstore, and a small launcher for it.

``d2lnets launch -n 2 -s 1 -- d2lnets train lenet-bn --kvstore dist_sync`` starts a
scheduler, the servers and the workers with the ``DMLC_*`` variables MXNet reads,
locally on 127.0.0.1 or over ssh on the hosts of a file, streams every worker's
output with its rank, and stops everything (non-zero exit, the failed rank named)
as soon as one process fails or the ``--timeout`` passes. It exists because
MXNet's ``tools/launch.py`` crashes on Python 3.11 and ``dmlc-tracker`` is not on
PyPI.

A worker blocked in MXNet's C code (waiting for a dead peer) ignores Python
signals: :class:`Watchdog` is a thread that ends the process with ``os._exit``
when training stops making progress.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import mxnet as mx

from .errors import UsageError

__all__ = ["Watchdog", "Workers", "join_workers", "launch", "read_hosts", "Proc",
           "WATCHDOG_EXIT", "TIMEOUT_EXIT", "plan", "workers_of", "address_of"]

#: exit code of a worker ended by its watchdog
WATCHDOG_EXIT = 86
#: exit code of the launcher when --timeout ends the run
TIMEOUT_EXIT = 124
#: seconds the workers get to finish after a server or the scheduler ended cleanly
SERVER_GRACE = 20.0


class Watchdog:
    """Ends the process (``os._exit``) if :meth:`beat` is not called for
    ``timeout`` seconds. The training loop beats once per batch."""

    def __init__(self, timeout: float, what: str = "training"):
        self.timeout, self.what = float(timeout), what
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="d2lnets-watchdog", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self.timeout / 4)):
            idle = time.monotonic() - self._last
            if idle > self.timeout:
                sys.stderr.write(f"d2lnets: watchdog: no {self.what} progress for {idle:.0f} s "
                                 f"(a peer may have died); exiting with {WATCHDOG_EXIT}\n")
                sys.stderr.flush()
                os._exit(WATCHDOG_EXIT)


@dataclass
class Workers:
    """This process's place in a run: the kvstore (None: the trainer's own), its
    rank, the worker count, and the watchdog the loop beats (None: none)."""

    kv: Any = None
    rank: int = 0
    count: int = 1
    watchdog: Watchdog | None = None

    @property
    def on_servers(self) -> bool:
        """The optimizer runs on the parameter servers: its states cannot be saved here."""
        return isinstance(self.kv, mx.kvstore.KVStore) and "dist" in self.kv.type

    def trainer_kwargs(self) -> dict:
        kw: dict[str, Any] = {"kvstore": self.kv} if self.kv else {}
        if self.count > 1 or isinstance(self.kv, mx.kvstore.KVStore):
            kw["update_on_kvstore"] = True
        return kw


#: the kvstores a run may name (``device`` is Gluon's default)
KVSTORES = ("device", "local", "dist_sync", "dist_device_sync", "dist_async")


def join_workers(kvstore: str | None = None, watchdog: float | None = None) -> Workers:
    """``kvstore`` None or local: this process alone. ``dist_*``: in a worker
    started by ``d2lnets launch``, create the kvstore and start the watchdog
    (``$D2LNETS_WATCHDOG`` seconds, default 300)."""
    if kvstore is not None and kvstore not in KVSTORES:
        raise UsageError(f"--kvstore {kvstore!r} is not a kvstore d2lnets trains with: choose "
                         f"{', '.join(KVSTORES)}")
    if not kvstore or not kvstore.startswith("dist"):
        return Workers(kvstore)
    if os.environ.get("DMLC_ROLE", "worker") != "worker" or "DMLC_PS_ROOT_URI" not in os.environ:
        raise UsageError(f"--kvstore {kvstore} needs the DMLC_* variables of a worker: start "
                         f"the run with `d2lnets launch -n WORKERS -s SERVERS -- d2lnets train ...`")
    seconds = watchdog if watchdog is not None else float(os.environ.get("D2LNETS_WATCHDOG", 300))
    dog = Watchdog(seconds, "kvstore") if seconds > 0 else None
    kv = mx.kv.create(kvstore)
    if dog is not None:
        dog.beat()
    return Workers(kv, kv.rank, kv.num_workers, dog)


def read_hosts(path: str | os.PathLike) -> list[str]:
    """One host per line (``user@host`` allowed); blank lines and ``#`` comments
    skipped. A line starting with ``-`` is refused: ssh would read it as an option."""
    lines = [ln.split("#", 1)[0].strip() for ln in Path(path).read_text().splitlines()]
    hosts = []
    for number, host in enumerate(lines, 1):
        if host.startswith("-") or any(c.isspace() for c in host):
            raise UsageError(f"{path}, line {number}: {host!r} is not a host name (a host must "
                             f"not start with '-' nor hold spaces)")
        if host:
            hosts.append(host)
    if not hosts:
        raise UsageError(f"{path} lists no hosts")
    return hosts


def address_of(host: str) -> str:
    """The IPv4 address of ``host`` (``user@`` stripped): ps-lite binds and
    advertises ``DMLC_NODE_HOST`` as given, so it must be an address."""
    name = host.split("@")[-1]
    try:
        return socket.gethostbyname(name)
    except OSError as err:
        raise UsageError(f"cannot resolve host {name!r} ({err}): fix the hosts file or use "
                         f"addresses") from None


def _ps_lite_order(workers: list[Proc]) -> list[Proc]:
    """The order in which ps-lite's scheduler numbers the workers: by address,
    descending, then port, ascending (its comparator in ``van.cc``)."""
    by_port = sorted(workers, key=lambda p: int(p.env["PORT"]))
    ordered: list[Proc] = []
    for address in sorted({p.env["DMLC_NODE_HOST"] for p in workers}, reverse=True):
        ordered += [p for p in by_port if p.env["DMLC_NODE_HOST"] == address]
    return ordered


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """One process of the run: its role, rank and command line."""

    role: str
    rank: int
    argv: list[str]
    env: dict[str, str]
    host: str = "127.0.0.1"
    popen: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "scheduler" if self.role == "scheduler" else f"{self.role} {self.rank}"


def plan(num_workers: int, num_servers: int, command: Sequence[str],
         hosts: Sequence[str] | None = None, port: int | None = None,
         interface: str | None = None) -> list[Proc]:
    """The processes of a run and their environments (no process started).

    Locally everything runs on 127.0.0.1 over ``lo``. With ``hosts``, the
    scheduler runs on the first host and servers and workers are spread over
    the hosts round-robin; each command is run there over ssh.
    """
    if num_workers < 1 or num_servers < 1:
        raise UsageError("need at least one worker and one server")
    local = not hosts
    hosts = list(hosts) if hosts else ["127.0.0.1"]
    addresses = {h: address_of(h) for h in hosts}
    root = addresses[hosts[0]]
    port = port or (_free_port() if local else 9091)
    common = {"DMLC_PS_ROOT_URI": root, "DMLC_PS_ROOT_PORT": str(port),
              "DMLC_NUM_WORKER": str(num_workers), "DMLC_NUM_SERVER": str(num_servers)}
    if local:
        common["DMLC_INTERFACE"] = interface or "lo"
    elif interface:
        common["DMLC_INTERFACE"] = interface
    server_cmd = [sys.executable, "-c", "import mxnet"]  # mxnet serves on import
    procs = [Proc("scheduler", 0, server_cmd, dict(common, DMLC_ROLE="scheduler"), hosts[0])]
    for i in range(num_servers):
        procs.append(Proc("server", i, server_cmd, dict(common, DMLC_ROLE="server"),
                          hosts[(i + 1) % len(hosts)]))
    for i in range(num_workers):
        procs.append(Proc("worker", i, list(command), dict(common, DMLC_ROLE="worker"),
                          hosts[(num_servers + 1 + i) % len(hosts)]))
    for p in procs:
        p.env["DMLC_NODE_HOST"] = addresses[p.host]
    # every worker listens on a port of ours (PORT), so that the launcher can
    # name each worker by the rank the kvstore will give it
    ports = sorted(_free_port() for _ in workers_of(procs)) if local else \
        [port + 1 + i for i in range(num_workers)]
    for p, worker_port in zip(workers_of(procs), ports):
        p.env["PORT"] = str(worker_port)
    for rank, p in enumerate(_ps_lite_order(workers_of(procs))):
        p.rank = rank
    return [p for p in procs if p.role != "worker"] + sorted(workers_of(procs), key=lambda p: p.rank)


def workers_of(procs: Sequence[Proc]) -> list[Proc]:
    return [p for p in procs if p.role == "worker"]


def _argv(proc: Proc, local: bool, ssh: str) -> tuple[list[str], dict[str, str]]:
    if local:
        return proc.argv, {**os.environ, **proc.env, "PYTHONUNBUFFERED": "1"}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**proc.env, "PYTHONUNBUFFERED": "1"}.items())
    remote = f"cd {shlex.quote(os.getcwd())} && env {exports} {shlex.join(proc.argv)}"
    return [*shlex.split(ssh), "--", proc.host, remote], dict(os.environ)


def _pump(proc: Proc, stream: IO[str], out: IO[str], lock: threading.Lock) -> None:
    for line in iter(stream.readline, ""):
        proc.lines.append(line)
        with lock:
            out.write(f"[{proc.name}] {line}")
            out.flush()
    stream.close()


def _stop_all(procs: list[Proc], grace: float = 3.0) -> None:
    alive = [p.popen for p in procs if p.popen is not None and p.popen.poll() is None]
    for pop in alive:
        with _ignore():
            os.killpg(pop.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pop in alive:
        with _ignore():
            pop.wait(timeout=max(0.0, deadline - time.monotonic()))
    for pop in alive:
        if pop.poll() is None:
            with _ignore():
                os.killpg(pop.pid, signal.SIGKILL)
            pop.wait()


def _ignore() -> contextlib.AbstractContextManager:
    """A process that is gone already, or does not end in time, is not an error here."""
    return contextlib.suppress(OSError, subprocess.TimeoutExpired)


def _start(procs: list[Proc], local: bool, ssh: str, out: IO[str],
           lock: threading.Lock) -> list[threading.Thread]:
    """Start every process in its own session, with a thread copying its output."""
    pumps = []
    for p in procs:
        argv, env = _argv(p, local, ssh)
        try:
            p.popen = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, bufsize=1,
                                       start_new_session=True)
        except OSError as err:  # the others started are stopped by launch's finally
            raise UsageError(f"cannot start {argv[0]!r}: {err.strerror or err}. Give a command "
                             f"that exists, e.g. `-- d2lnets train lenet-bn --kvstore "
                             f"dist_sync`") from None
        t = threading.Thread(target=_pump, args=(p, p.popen.stdout, out, lock), daemon=True)
        t.start()
        pumps.append(t)
    return pumps


def _failure(procs: list[Proc], ended_early: float | None) -> tuple[str | None, float | None]:
    """Why the run must stop now (None: it may go on), and when a scheduler or
    server first ended while workers still ran."""
    running = any(w.popen.poll() is None for w in workers_of(procs))
    for p in procs:
        code = p.popen.poll()
        failed = code is not None and code != 0
        if code == 0 and p.role != "worker" and running and ended_early is None:
            ended_early = time.monotonic()
        # the servers end as the last worker shuts down; long before, it is a fault
        early = (ended_early is not None and running and p.role != "worker" and code == 0
                 and time.monotonic() - ended_early > SERVER_GRACE)
        if failed or early:
            why = (f"exited with {code}" if code >= 0 else
                   f"was killed by {signal.Signals(-code).name}") if failed else \
                "exited while workers were still running"
            rank = f" (rank {p.rank})" if p.role == "worker" else ""
            where = f" on host {p.host}" if p.host != "127.0.0.1" else ""
            return f"{p.name}{rank}{where} {why}", ended_early
    return None, ended_early


def _finish(procs: list[Proc]) -> None:
    """Every worker succeeded: the scheduler and servers end by themselves."""
    deadline = time.monotonic() + 10
    for p in procs:
        with _ignore():
            p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))


class _Signalled(Exception):
    """A stop signal reached the launcher (its children are stopped, then it exits)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: while processes start, a stop signal is kept here and raised once they all have
_HELD: list[bool] = []
_PENDING: list[int] = []


def _raise_on(signum: int, frame: Any) -> None:
    if _HELD:
        _PENDING.append(signum)
        return
    raise _Signalled(signum)


#: what ends the launcher, and so every process it started
LAUNCH_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGQUIT")
                       if hasattr(signal, n))


def launch(num_workers: int, num_servers: int, command: Sequence[str],
           hosts: Sequence[str] | None = None, timeout: float | None = None,
           ssh: str = "ssh -o BatchMode=yes", out: IO[str] | None = None,
           poll: float = 0.2, port: int | None = None) -> int:
    """Run a distributed job; return 0 when every worker succeeded.

    Any process that exits non-zero (or a server or the scheduler that exits
    while workers still run) stops the run at once: every other process is
    terminated and the failure is reported with the process's role and rank.
    Ctrl-C (130), SIGTERM, SIGHUP or SIGQUIT (128 + the signal) to the
    launcher stop every process it started before it exits.
    """
    out = out or sys.stdout
    procs = plan(num_workers, num_servers, command, hosts, port)
    lock, pumps = threading.Lock(), []
    old = {sig: signal.signal(sig, _raise_on) for sig in LAUNCH_SIGNALS} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        _HELD.append(True)  # a signal in the middle of a Popen would orphan its child
        try:
            pumps = _start(procs, not hosts, ssh, out, lock)
        finally:
            _HELD.pop()
        if _PENDING:
            raise _Signalled(_PENDING.pop())
        return _watch(procs, out, lock, timeout, poll)
    except KeyboardInterrupt:
        _stop_all(procs)
        _say(out, lock, "d2lnets launch: interrupted; stopped all processes")
        return 130
    except _Signalled as sig:
        _stop_all(procs)
        _say(out, lock, f"d2lnets launch: {signal.Signals(sig.signum).name}; stopped all "
                        f"processes")
        return 128 + sig.signum
    finally:
        _stop_all(procs)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for t in pumps:
            t.join(timeout=2)


def _watch(procs: list[Proc], out: IO[str], lock: threading.Lock, timeout: float | None,
           poll: float) -> int:
    """Wait for the job: 0 when every worker succeeded, 1 at the first failure,
    :data:`TIMEOUT_EXIT` (124, as ``timeout(1)``) when ``timeout`` passes."""
    start, ended_early = time.monotonic(), None
    while True:
        why, ended_early = _failure(procs, ended_early)
        if why:
            _stop_all(procs)
            _say(out, lock, f"d2lnets launch: {why}; stopped the other {len(procs) - 1} "
                            f"processes")
            return 1
        if all(w.popen.poll() == 0 for w in workers_of(procs)):
            _finish(procs)
            return 0
        if timeout is not None and time.monotonic() - start > timeout:
            _stop_all(procs)
            _say(out, lock, f"d2lnets launch: --timeout {timeout:g} s reached; stopped all "
                            f"{len(procs)} processes")
            return TIMEOUT_EXIT
        time.sleep(poll)


def _say(out: IO[str], lock: threading.Lock, msg: str) -> None:
    with lock:
        out.write(msg + "\n")
        out.flush()
