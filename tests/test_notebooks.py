"""The chapter's notebooks: stored without outputs, and they run (quick mode) headless."""
import json
import os
from pathlib import Path

import pytest

from d2lnets.exercises import list_exercises

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["batch-norm.ipynb", "densenet.ipynb", "resnet.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code), \
        f"{path.name} has outputs: run `python scripts/make_notebooks.py` or strip them"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_quick_mode(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("D2LNETS_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=dict(os.environ))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "training on" in text and "epoch 1, loss" in text
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) >= 2  # the curves and the predictions
    answers = [o for o in outputs if o.output_type == "display_data" and "text/markdown" in o.data]
    assert len(answers) == len(list_exercises(path.stem))  # every exercise answered


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_points_the_later_editions_to_their_line(path):
    import re
    cells = json.loads(path.read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "d2l-zh v1" in text and "from d2lnets import mxnet as d2l" in text
    named = re.findall(r"`(tests/editions/\w+\.py)`", text)
    assert len(named) == 2 and all((path.parent.parent / n).is_file() for n in named)
