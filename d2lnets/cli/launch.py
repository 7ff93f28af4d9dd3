"""``d2lnets launch -n WORKERS -s SERVERS -- COMMAND``: a parameter-server job."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..distributed import launch, read_hosts
from ..errors import UsageError
from ._args import number, positive_float

__all__ = ["add_parser", "MAX_PROCESSES"]

#: the most workers (or servers) one launch starts
MAX_PROCESSES = 256


def add_parser(sub: Any) -> None:
    p = sub.add_parser("launch", help="run a command as a parameter-server job",
                       description="Start a scheduler, SERVERS servers and WORKERS workers "
                       "running COMMAND (with DMLC_* set); stop all if one fails.")
    # each is a process of its own: a bound, not a fork bomb
    count = number(int, 1, True, f"a positive integer (at most {MAX_PROCESSES})", MAX_PROCESSES)
    p.add_argument("-n", "--num-workers", type=count, required=True)
    p.add_argument("-s", "--num-servers", type=count, default=1)
    p.add_argument("--hosts", help="file with one host per line (ssh); default: this machine")
    p.add_argument("--timeout", type=positive_float, help="hard limit on the whole run, seconds")
    p.add_argument("--port", type=number(int, 1, True, "a port number (1 to 65535)", 65535),
                   help="the scheduler's port (default: a free one locally, 9091 with --hosts)")
    p.add_argument("--ssh", default="ssh -o BatchMode=yes", help=argparse.SUPPRESS)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="COMMAND", help="-- COMMAND ...")
    p.set_defaults(handler=run_launch)


def run_launch(args: argparse.Namespace) -> int:
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("launch needs a command after --, e.g. "
                         "`d2lnets launch -n 2 -s 1 -- d2lnets train lenet-bn --kvstore dist_sync`")
    if command[0] == "d2lnets":  # the same interpreter as the launcher
        command = [sys.executable, "-m", "d2lnets", *command[1:]]
    try:
        hosts = read_hosts(args.hosts) if args.hosts else None
    except OSError as err:
        raise UsageError(f"cannot read the hosts file: {err}") from None
    return launch(args.num_workers, args.num_servers, command, hosts, args.timeout, args.ssh,
                  port=args.port)
