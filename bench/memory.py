"""Memory and first-batch latency: this checkout against another (e.g. the landed main).

    git worktree add /tmp/before ca23f95
    python bench/memory.py --before /tmp/before [--rounds 2] [--train]

Each measurement is a fresh process (``bench/data_memory.py`` for the data path; with
``--train``, ``d2lnets train resnet18 --subset 1024 --epochs 1`` under ``getrusage``),
before and after in turns; the figures go to ``bench/results/memory.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(checkout: Path, argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir(), timeout=3600)


#: runs the d2lnets command in this process and prints its own peak RSS (KiB) last
PEAK = ("import resource, runpy, sys\n"
        "sys.argv = ['d2lnets'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('d2lnets', run_name='__main__')\n"
        "finally:\n    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "file=sys.stderr)\n")


def train_peak(checkout: Path) -> dict:
    """Peak RSS of one short ResNet-18 run (the book's batch 256 at 96px)."""
    with tempfile.TemporaryDirectory() as out:
        r = run(checkout, ["-c", PEAK, "train", "resnet18", "--subset", "1024", "--epochs", "1",
                           "--no-progress", "--out", out])
    peak = int(r.stderr.rsplit("PEAK", 1)[1].split()[0])
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("epoch 1,"))
    return {"peak_rss_mb": round(peak / 1024, 1), "epoch_line": line}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--before", required=True, type=Path, help="a checkout to compare against")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--train", action="store_true", help="also a short ResNet-18 run")
    args = p.parse_args()
    results: dict[str, list] = {"before_data": [], "after_data": [], "before_train": [],
                                "after_train": []}
    for _ in range(args.rounds):
        for side, checkout in (("before", args.before), ("after", ROOT)):
            r = run(checkout, [str(HERE / "data_memory.py")])
            results[f"{side}_data"].append(json.loads(r.stdout.strip().splitlines()[-1]))
            if args.train:
                results[f"{side}_train"].append(train_peak(checkout))
    print(json.dumps(results, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "memory.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
