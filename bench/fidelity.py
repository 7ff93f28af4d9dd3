"""The chapter's four examples with the book's settings, 5 epochs, full data.

Runs ``d2lnets train MODEL`` (the book's defaults) for each model named, then
keeps the history and curves under bench/results/fidelity/MODEL/ with the wall
time from the command's start. Evidence, not a test: ResNet-18 takes about an
hour on 2 CPU cores, DenseNet about 30 minutes.

    python bench/fidelity.py densenet lenet-bn lenet-bn-scratch
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from recipes import RESULTS as STAMPS
from recipes import stamp_run

RESULTS = Path(__file__).parent / "results" / "fidelity"
BOOK_TEST_ACC = {"lenet-bn-scratch": 0.870, "lenet-bn": 0.881, "resnet18": 0.913, "densenet": 0.879}


def run(model: str, work: Path, extra: list[str]) -> dict:
    out = work / model
    shutil.rmtree(out, ignore_errors=True)
    stamped = stamp_run([model, *extra], out)
    if "--recipe" not in extra and "--seed" not in extra:  # the book's recipe, seed 0
        STAMPS.mkdir(parents=True, exist_ok=True)
        (STAMPS / f"{model}-book-seed0.json").write_text(json.dumps(
            {"model": model, "recipe": "book", "seed": 0, **stamped}, indent=1) + "\n")
    keep = RESULTS / model
    keep.mkdir(parents=True, exist_ok=True)
    for name in ("history.jsonl", "curves.png"):
        shutil.copy(out / name, keep / name)
    last = json.loads((out / "history.jsonl").read_text().splitlines()[-1])
    summary = {"model": model, "wall_seconds": stamped["wall"], "args": extra,
               "book_test_acc": BOOK_TEST_ACC.get(model), "epoch_lines": stamped["epochs"],
               "load_before": stamped["load_before"], "load_after": stamped["load_after"],
               **{k: last[k] for k in ("epoch", "loss", "train_acc", "test_acc")}}
    (keep / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def table() -> str:
    """Markdown: the book's settings here against the book's printed accuracy."""
    lines = ["| model | epoch-5 loss | train acc | test acc | the book's test acc | wall time |",
             "|---|---|---|---|---|---|"]
    for model in BOOK_TEST_ACC:
        path = RESULTS / model / "summary.json"
        if path.is_file():
            s = json.loads(path.read_text())
            lines.append(f"| {model} | {s['loss']:.4f} | {s['train_acc']:.3f} | {s['test_acc']:.3f} "
                         f"| {s['book_test_acc']:.3f} | {s['wall_seconds'] / 60:.1f} min |")
    text = "\n".join(lines)
    print(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="models to run, or 'table' to print the table")
    parser.add_argument("--work", type=Path, default=Path("runs/fidelity"))
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="flags passed to every run (e.g. --seed 1)")
    args = parser.parse_args()
    if args.models == ["table"]:
        table()
        return
    for model in args.models:
        s = run(model, args.work, args.extra)
        print(f"{model}: epoch {s['epoch']} loss {s['loss']:.4f} train {s['train_acc']:.3f} "
              f"test {s['test_acc']:.3f} (book {s['book_test_acc']}) in {s['wall_seconds']:.0f} s",
              flush=True)


if __name__ == "__main__":
    main()
