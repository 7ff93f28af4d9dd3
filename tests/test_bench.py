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
