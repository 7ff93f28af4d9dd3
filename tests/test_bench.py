"""The bench script runs (tiny configuration) and writes its JSON: it cannot rot.
No timing is asserted."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--quick",
                        "--only", "peak,step,data,eval", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["quick"] and result["peak"]["gflops"] > 0
    assert {row["model"] for row in result["step"]} == {"lenet_bn", "resnet18"}
    for row in result["step"]:
        assert row["book"] > 0 and row["d2lnets"] > 0 and row["vs_book"] > 0
    assert result["data"]["d2lnets_batches_per_s"] > 0
    assert result["eval"][0]["optimize_for_mkldnn"] > 0
    assert "vs book" in r.stdout


def test_time_to_accuracy_bench_runs_tables_and_plots(tmp_path):
    results = tmp_path / "recipes"
    bench = [sys.executable, str(ROOT / "bench" / "recipes.py"), "--results", str(results)]
    r = subprocess.run([*bench, "run", "lenet-bn", "--seeds", "0", "1", "--work", str(tmp_path / "w"),
                        "--extra", "--data", "sample", "--epochs", "2", "--subset", "300"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = [json.loads((results / f"lenet-bn-fast-seed{s}.json").read_text()) for s in (0, 1)]
    for run in runs:
        assert [e["epoch"] for e in run["epochs"]] == [1, 2]
        assert 0 < run["epochs"][0]["wall"] < run["epochs"][1]["wall"] <= run["wall"]
    table = subprocess.run([*bench, "table"], capture_output=True, text=True, cwd=ROOT)
    row = next(line for line in table.stdout.splitlines() if line.startswith("| lenet-bn | fast |"))
    finals = sorted(r["epochs"][-1]["test_acc"] for r in runs)
    assert f"| 2 | {finals[0]:.3f} ({finals[0]:.3f}-{finals[1]:.3f}) |" in row
    assert row.endswith("| never (0/2) |")  # 0.94 after two epochs on 300 images: no
    plot = subprocess.run([*bench, "plot"], capture_output=True, text=True, cwd=ROOT)
    assert plot.returncode == 0 and (results / "time-to-accuracy.png").stat().st_size > 1000


def test_first_reach_and_the_median_cell():
    sys.path.insert(0, str(ROOT / "bench"))
    import recipes as B
    runs = [{"epochs": [{"epoch": 1, "test_acc": 0.85, "wall": 10}, {"epoch": 2, "test_acc": 0.9, "wall": 20}]},
            {"epochs": [{"epoch": 1, "test_acc": 0.91, "wall": 12}]},
            {"epochs": [{"epoch": 1, "test_acc": 0.80, "wall": 9}]}]
    assert B.first_reach(runs[0], 0.9)["wall"] == 20 and B.first_reach(runs[2], 0.9) is None
    # two of three reach 0.9, at 20 s and 12 s: the median run is the 20 s one, and the
    # cell says one never did
    assert B._median_cell(runs, 0.9) == "20 s, ep 2 (12-20), 2/3 reached"
    assert B._median_cell(runs, 0.905) == "never (1/3)"
