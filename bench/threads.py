"""Threads on a shared machine: d2lnets against the book's code when the CPU is not all ours.

    python bench/threads.py                  # quiet, busy, quota, quota+busy (about 12 min)
    python bench/threads.py --quick          # checks that it runs
    python bench/threads.py --conditions busy --repeats 3

Conditions:
- ``quiet``: nothing else runs;
- ``busy``: one other process spins on a core for the whole measurement (started first,
  as a reader's browser or compile job would be);
- ``quota``: the measured process runs in a cgroup v1 ``cpu`` group with a quota of one
  core (``cpu.cfs_quota_us`` = period, as ``docker run --cpus=1`` sets); skipped, with
  the reason, where cgroups are not writable;
- ``quota+busy``: the busy process in the same group.

Ways: the book's code (``bench/book_chapter.py``, MXNet's default threads), d2lnets as
imported (its thread policy), d2lnets with ``OMP_NUM_THREADS=1``. Each measurement is a
fresh process; ways alternate; medians of the repeats. Writes bench/results/threads.json.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CGROUP = Path("/sys/fs/cgroup/cpu")
MODELS = [("resnet18", 64, 96, 4), ("densenet", 64, 96, 4), ("lenet_bn", 256, 28, 40)]
QUICK = [("lenet_bn", 32, 28, 4)]
WAYS = {"book": None, "d2lnets": {}, "d2lnets-1-thread": {"OMP_NUM_THREADS": "1"}}
BUSY = [sys.executable, "-c", "while True: pass"]


def _in_group(argv: list[str], group: Path | None) -> list[str]:
    if group is None:
        return argv
    return ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh", *argv]


def _measure(way: str, model: tuple, group: Path | None) -> float:
    name, batch, side, steps = model
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "D2LNETS_THREADS")}
    env["PYTHONPATH"] = str(ROOT)
    if WAYS[way] is None:
        argv = [sys.executable, str(HERE / "book_chapter.py"), "step", name, str(batch), str(side),
                str(steps)]
    else:
        env.update(WAYS[way])
        argv = [sys.executable, str(HERE / "bench.py"), "--worker", "step", name, str(batch),
                str(side), str(steps)]
    r = subprocess.run(_in_group(argv, group), capture_output=True, text=True, env=env,
                       timeout=1800, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{way} {name} failed:\n{r.stderr[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])["images_per_s"]


def cgroup_problem() -> str | None:
    """Why a CPU quota cannot be set here, or None."""
    if not (CGROUP / "cpu.cfs_quota_us").is_file():
        return f"no cgroup v1 cpu controller at {CGROUP}"
    if not os.access(CGROUP, os.W_OK):
        return f"{CGROUP} is not writable (needs root)"
    return None


@contextlib.contextmanager
def quota_group(cores: float) -> Iterator[Path]:
    group = CGROUP / f"d2lnets-bench-{os.getpid()}"
    group.mkdir()
    try:
        period = int((group / "cpu.cfs_period_us").read_text())
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
        yield group
    finally:
        for _ in range(50):  # the group can be removed once its processes are gone
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


@contextlib.contextmanager
def busy(group: Path | None) -> Iterator[None]:
    proc = subprocess.Popen(_in_group(BUSY, group))
    time.sleep(1.0)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def condition(name: str) -> Iterator[Path | None]:
    with contextlib.ExitStack() as stack:
        group = stack.enter_context(quota_group(1.0)) if name.startswith("quota") else None
        if name.endswith("busy"):
            stack.enter_context(busy(group))
        yield group


def run(conditions: list[str], models: list[tuple], repeats: int) -> list[dict]:
    rows = []
    for cond in conditions:
        if cond.startswith("quota") and cgroup_problem():
            rows.append({"condition": cond, "skipped": cgroup_problem()})
            print(f"{cond}: skipped ({cgroup_problem()})")
            continue
        for model in models:
            seen: dict[str, list[float]] = {w: [] for w in WAYS}
            with condition(cond) as group:
                for _ in range(repeats):
                    for way in WAYS:
                        seen[way].append(_measure(way, model, group))
            row = {"condition": cond, "model": model[0], "batch": model[1], "side": model[2],
                   **{w: statistics.median(v) for w, v in seen.items()}, "runs": seen}
            row["vs_book"] = row["d2lnets"] / row["book"]
            row["vs_1_thread"] = row["d2lnets"] / row["d2lnets-1-thread"]
            rows.append(row)
            print(f"{cond:<11} {model[0]:<9} book {row['book']:8.1f}  d2lnets {row['d2lnets']:8.1f}  "
                  f"1 thread {row['d2lnets-1-thread']:8.1f}  img/s   vs book {row['vs_book']:.2f}x  "
                  f"vs 1 thread {row['vs_1_thread']:.2f}x", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conditions", default="quiet,busy,quota,quota+busy")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(HERE / "results" / "threads.json"))
    args = p.parse_args()
    rows = run(args.conditions.split(","), QUICK if args.quick else MODELS,
               1 if args.quick else args.repeats)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
