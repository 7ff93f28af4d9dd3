"""Every exercise at its default settings, timed as a reader runs it, and
docs/exercises.md written from the results.

    python bench/exercises.py run [NAME ...]    # all by default; bench/results/exercises/NAME/
    python bench/exercises.py doc               # docs/exercises.md from those folders

``run`` starts ``d2lnets exercise run NAME`` in a fresh process (import and data
count) and records its wall time and the machine's load beside the result.
Evidence, not tests: the answers' figures are what this machine measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "exercises"
DOC = ROOT / "docs" / "exercises.md"
sys.path.insert(0, str(ROOT))

HEAD = """# The chapter's exercises, answered by experiment

Each exercise at the end of the chapter's three sections (d2l-zh 1.0) is an experiment:

```sh
d2lnets exercise list
d2lnets exercise run bn-bias            # default: 5 seeds per variant; --seeds N, --quick
```

A run writes `runs/exercises/NAME/` (`result.json`, `answer.md`, `figure.png` where a
picture helps) and prints the table and the answer. The notebooks end with their section's
exercises, calling the same code (`D2LNETS_QUICK=1`: seconds, on the shipped sample; CI runs
them so).

How a comparison is read (`d2lnets/exercises/report.py`, tested with crafted results): the
two variants train on the same seeds (the same data order), so each seed gives one paired
comparison. A two-sided sign test over the seeds that differ calls a difference when p is at
most 0.1: over 5 seeds, only a variant better on all 5 (p = 0.06). Otherwise the answer says
"no detectable difference", with how the seeds split. A diverged run counts as the worst
result, in the ranges and in the test. Where variants might suit different learning rates
(exercises 3, 6 and 8), each picks its own from a short list on a seed that is not
compared, so the choice cannot favour the compared runs; a best rate at an end of the list
is tried one step further, and an answer says when its rate is still at an end. Each
figure's title gives the runs' budget. The code: `d2lnets/exercises/` (one module per
section); the facts each answer rests on are tested whatever the seed:
`tests/test_exercises*.py`.

Below, every answer as measured here (2-core CPU, MXNet 1.9.1, `python bench/exercises.py
run`), with its wall time from the command to the end. Those marked "1 thread" ran with
`D2LNETS_THREADS=1`, two exercises at once (LeNet keeps about one core busy); on a quiet
machine d2lnets gives a run both cores.
"""


def run(names: list[str]) -> None:
    from d2lnets.exercises import list_exercises
    for name in names or [e.name for e in list_exercises()]:
        out = RESULTS / name
        load = os.getloadavg()[0]
        start = time.time()
        r = subprocess.run([sys.executable, "-m", "d2lnets", "exercise", "run", name, "--out",
                            str(out)], capture_output=True, text=True)
        wall = time.time() - start
        if r.returncode:
            sys.exit(f"{name} failed ({r.returncode}): {r.stderr[-2000:]}")
        (out / "wall.json").write_text(json.dumps(
            {"seconds": round(wall, 1), "load_before": round(load, 2),
             "load_after": round(os.getloadavg()[0], 2),
             "threads": os.environ.get("D2LNETS_THREADS", "d2lnets' choice")}) + "\n")
        print(f"{name}: {wall:.0f} s", flush=True)


def _took(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def doc() -> None:
    from d2lnets.exercises import list_exercises
    parts = [HEAD, "| # | exercise | command | wall time here |", "|---|---|---|---|"]
    bodies = []
    for ex in list_exercises():
        folder = RESULTS / ex.name
        wall = json.loads((folder / "wall.json").read_text())["seconds"]
        threads = json.loads((folder / "wall.json").read_text()).get("threads")
        alone = "" if threads in (None, "d2lnets' choice") else f" ({threads} thread)"
        parts.append(f"| {ex.number} | {ex.question} | `d2lnets exercise run {ex.name}` | "
                     f"{_took(wall)}{alone} |")
        answer = (folder / "answer.md").read_text().replace(
            "](figure.png)", f"](../bench/results/exercises/{ex.name}/figure.png)")
        answer = answer.replace(f"# Exercise {ex.number}", f"## Exercise {ex.number}", 1)
        bodies.append(answer.strip() + f"\n\nCommand: `d2lnets exercise run {ex.name}` "
                      f"({_took(wall)} here).")
    DOC.write_text("\n".join(parts) + "\n\n" + "\n\n".join(bodies) + "\n")
    print(f"wrote {DOC}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run").add_argument("names", nargs="*")
    sub.add_parser("doc")
    args = p.parse_args()
    run(args.names) if args.cmd == "run" else doc()


if __name__ == "__main__":
    main()
