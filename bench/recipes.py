"""Time to accuracy: each recipe, each seed, wall-clock from the command to each epoch line.

    python bench/recipes.py run resnet18 --recipe fast --seeds 0 1 2
    python bench/recipes.py table          # the README's table, from what was run
    python bench/recipes.py plot           # bench/results/recipes/time-to-accuracy.png

``run`` starts ``d2lnets train MODEL --recipe R --seed S`` as a reader would
(a fresh process: import, data, training, evaluation all count) and stamps
every epoch line as it is printed. One JSON file per run goes to
bench/results/recipes/. The book's ResNet-18 and DenseNet runs take 30-60
minutes each; bench/fidelity.py runs those and writes the same stamps.
Evidence, not tests: the machine is shared, so each run says how busy it was.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "recipes"
EPOCH = re.compile(r"^epoch (\d+), loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)")
#: the accuracies the table asks about: the book's LeNet-BN, ResNet-18, and beyond
THRESHOLDS = (0.87, 0.881, 0.90, 0.913, 0.92, 0.93, 0.94)
MODELS = ("lenet-bn", "lenet-bn-scratch", "resnet18", "resnet18-small", "densenet")


def stamp_run(argv: list[str], out: Path) -> dict:
    """Run ``d2lnets train`` with ``argv``; every epoch line with its wall-clock second."""
    start = time.time()
    load = os.getloadavg()[0]
    proc = subprocess.Popen([sys.executable, "-m", "d2lnets", "train", *argv, "--no-progress",
                             "--out", str(out)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    epochs = []
    for line in proc.stdout:
        m = EPOCH.match(line)
        if m:
            epochs.append({"epoch": int(m[1]), "loss": float(m[2]), "train_acc": float(m[3]),
                           "test_acc": float(m[4]), "wall": round(time.time() - start, 2)})
    if proc.wait():
        sys.exit(f"d2lnets train {' '.join(argv)} failed with exit code {proc.returncode}")
    return {"argv": argv, "epochs": epochs, "wall": round(time.time() - start, 2),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def run(args: argparse.Namespace) -> None:
    args.results.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        argv = [args.model, "--recipe", args.recipe, "--seed", str(seed), *args.extra]
        result = {"model": args.model, "recipe": args.recipe, "seed": seed,
                  **stamp_run(argv, Path(args.work) / f"{args.model}-{args.recipe}-{seed}")}
        path = args.results / f"{args.model}-{args.recipe}-seed{seed}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        last = result["epochs"][-1]
        print(f"{args.model} {args.recipe} seed {seed}: test acc {last['test_acc']:.3f} "
              f"after {last['epoch']} epochs, {result['wall']:.0f} s", flush=True)


def load_runs(results: Path = RESULTS) -> dict[tuple[str, str], list[dict]]:
    runs: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(results.glob("*-seed*.json")):
        r = json.loads(path.read_text())
        runs.setdefault((r["model"], r["recipe"]), []).append(r)
    return runs


def first_reach(run: dict, threshold: float) -> dict | None:
    """The first epoch line at or above ``threshold`` (None if never)."""
    return next((e for e in run["epochs"] if e["test_acc"] >= threshold), None)


def _median_cell(runs: list[dict], threshold: float) -> str:
    hits = [first_reach(r, threshold) for r in runs]
    reached = [h for h in hits if h is not None]
    if len(reached) * 2 <= len(runs):  # the median run never got there
        return f"never ({len(reached)}/{len(runs)})"
    seconds = sorted(h["wall"] if h else float("inf") for h in hits)
    spread = f" ({min(seconds):.0f}-{max(s for s in seconds if s != float('inf')):.0f})" \
        if len(runs) > 1 else ""
    epochs = statistics.median_low([h["epoch"] if h else 99 for h in hits])
    missed = f", {len(reached)}/{len(runs)} reached" if len(reached) < len(runs) else ""
    return f"{statistics.median_low(seconds):.0f} s, ep {epochs}{spread}{missed}"


def table(args: argparse.Namespace) -> str:
    """Markdown: per recipe, the median seconds (and range) to each threshold."""
    runs = load_runs(args.results)
    head = "| model | recipe | seeds | final test acc (median, range) | " + \
        " | ".join(f">= {t}" for t in THRESHOLDS) + " |"
    lines = [head, "|" + "---|" * (4 + len(THRESHOLDS))]
    for (model, recipe), rs in sorted(runs.items()):
        finals = sorted(r["epochs"][-1]["test_acc"] for r in rs)
        final = f"{statistics.median_low(finals):.3f} ({finals[0]:.3f}-{finals[-1]:.3f})"
        cells = [_median_cell(rs, t) for t in THRESHOLDS]
        lines.append(f"| {model} | {recipe} | {len(rs)} | {final} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    return text


def plot(args: argparse.Namespace) -> Path:
    """Test accuracy against wall-clock seconds: each network's recipes on one
    figure (every seed; seed 0 darkest), networks with a recipe beyond the book's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = load_runs(args.results)
    models = [m for m in MODELS if any(k[0] == m and k[1] != "book" for k in runs)]
    style = {"book": ("s--", "C0"), "fast": ("o-", "C1"), "long": ("^-", "C2")}
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for (m, recipe), rs in sorted(runs.items()):
            if m != model:
                continue
            for i, r in enumerate(sorted(rs, key=lambda r: r["seed"])):
                marks, color = style.get(recipe, ("x-", "C3"))
                ax.plot([e["wall"] for e in r["epochs"]], [e["test_acc"] for e in r["epochs"]],
                        marks, alpha=1.0 if i == 0 else 0.35, color=color, markersize=4,
                        label=f"{recipe} recipe" if i == 0 else None)
        for t in {"lenet-bn": (0.881,), "resnet18": (0.913,), "densenet": (0.879, 0.913),
                  "resnet18-small": (0.913, 0.94)}.get(model, ()):
            ax.axhline(t, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_title(model)
        ax.set_xlabel("seconds from the command (log)")
        ax.set_ylabel("test accuracy")
        ax.legend(loc="lower right")
    fig.tight_layout()
    path = args.results / "time-to-accuracy.png"
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON files go")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and stamp the epoch lines")
    r.add_argument("model", choices=MODELS)
    r.add_argument("--recipe", default="fast")
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--work", default="runs/bench-recipes")
    r.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more train flags")
    r.set_defaults(func=run)
    sub.add_parser("table").set_defaults(func=table)
    sub.add_parser("plot").set_defaults(func=plot)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
