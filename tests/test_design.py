"""docs/design.md, checked against the code: the --lr walk, the exit codes, the
one way to stop, the one atomic write and data search order, tests mirroring
the package."""
import argparse
import ast
import dataclasses
import os
import re
import sys
from pathlib import Path

import pytest

import d2lnets
from d2lnets import data as D
from d2lnets import errors as E
from d2lnets.cli import main

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "d2lnets"
DESIGN = (ROOT / "docs" / "design.md").read_text()
TREES = {p: ast.parse(p.read_text()) for p in PKG.rglob("*.py")}


def _holds(value, target, depth=0):
    """``target`` is ``value``, or inside it (dicts, sequences, namespaces, dataclasses)."""
    if isinstance(value, float) and value == target:
        return True
    if depth > 2:
        return False
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return any(_holds(v, target, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds(v, target, depth + 1) for v in value[:50])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds(getattr(value, f.name), target, depth + 1)
                   for f in dataclasses.fields(value))
    return False


def test_the_lr_walk_passes_the_files_design_md_lists_and_no_other(tmp_path):
    """Every d2lnets function holding the typed rate, from the flag's parse to
    the optimizer (MXNet's Optimizer.__init__ getting it), is in the walk's files."""
    lr, files, reached = 0.0123457, [], []
    optimizer_init = str(Path(sys.modules["mxnet"].__file__).parent / "optimizer")

    def trace(frame, event, arg):
        if reached or event != "call":
            return
        path = frame.f_code.co_filename
        mine = path.startswith(str(PKG))
        if not mine and not path.startswith(optimizer_init):
            return
        if any(_holds(v, lr) for v in frame.f_locals.values()):
            if mine:
                files.append(Path(path).relative_to(PKG).as_posix())
            elif frame.f_code.co_name == "__init__":
                reached.append(path)

    sys.setprofile(trace)
    try:
        code = main(["train", "lenet-bn", "--lr", str(lr), "--optimizer", "nag", "--momentum",
                     "0.9", "--data", "sample", "--epochs", "1", "--subset", "128",
                     "--out", str(tmp_path), "--no-progress"])
    finally:
        sys.setprofile(None)
    assert code == 0 and reached
    table = re.findall(r"^\| \d \| `([\w/.]+)` \|", DESIGN.split("## One setting, followed")[1],
                       flags=re.M)
    assert len(table) <= 6 and set(files) <= set(table)
    assert files[0] == "config.py" and files[-1] == "training/run.py"  # the parse .. _trainer


def test_the_exit_codes_are_the_ones_design_md_says():
    section = DESIGN.split("## Exit codes")[1].split("##")[0]
    said = dict(re.findall(r"`(\w+)`(?: and `\w+`)? (\d+)", section))
    assert E.UsageError.exit_code == E.BadEnvironment.exit_code == int(said["BadEnvironment"]) == 2
    assert E.TrainingInterrupted.exit_code == int(said["TrainingInterrupted"]) == 130
    others = [c for c in vars(E).values() if isinstance(c, type) and issubclass(c, E.D2lnetsError)
              and not issubclass(c, (E.UsageError, E.BadEnvironment, E.TrainingInterrupted))]
    assert others and all(c.exit_code == 1 for c in others)
    from d2lnets.distributed import TIMEOUT_EXIT
    assert TIMEOUT_EXIT == 124 and "124 at `--timeout`" in section


def _calls(tree, names):
    """(line, name) of each call of a function or method called one of ``names``."""
    return [(n.lineno, f.attr if isinstance(f, ast.Attribute) else f.id)
            for n in ast.walk(tree) if isinstance(n, ast.Call)
            for f in [n.func] if isinstance(f, (ast.Attribute, ast.Name))
            and (f.attr if isinstance(f, ast.Attribute) else f.id) in names]


def test_cancel_exceptions_are_caught_in_fit_alone_and_divergence_checked_once():
    catching, checking = [], []
    cancels = {"CancelRun", "StopRequested", "TargetReached", "Diverged"}
    for path, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                if names & cancels:
                    catching.append(path.relative_to(PKG).as_posix())
        if _calls(tree, {"isfinite"}) and "editions" not in path.parts:
            checking.append(path.relative_to(PKG).as_posix())
    assert catching == ["training/loop.py"]
    assert sorted(checking) == ["cli/_args.py", "training/callbacks/divergence.py"]  # a flag, a loss


def test_temporary_files_and_renames_live_in_files_py_and_the_two_folders():
    found = {}
    for path, tree in TREES.items():
        hits = _calls(tree, {"mkstemp", "mkdtemp", "replace", "rename"})
        hits = [h for h in hits if h[1] != "replace" or "os.replace" in ast.unparse(tree)]
        if hits:
            found[path.relative_to(PKG).as_posix()] = sorted({name for _, name in hits})
    assert found.pop("files.py") == ["mkstemp", "replace"]
    assert found.pop("checkpoint.py") == ["mkdtemp", "rename"]
    assert found.pop("runfolder.py") == ["rename"]
    assert all(names == ["replace"] for names in found.values()), found  # dataclasses.replace


def test_the_data_is_looked_for_in_search_locations_order_only(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(D, "DEBIAN_DIR", str(tmp_path / "debian"))
    assert [p for p, _ in D.search_locations()] == [tmp_path / "home/datasets/fashion-mnist",
                                                    tmp_path / "debian"]
    looked = []
    monkeypatch.setattr(D, "_holds_the_data", lambda folder, named: looked.append(folder))
    assert D.find_local() is None
    assert looked == [p for p, _ in D.search_locations()]


def test_every_module_has_its_test_file_or_its_packages():
    missing = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        if rel.name == "__init__" or rel.name == "__main__":
            continue
        parents = ["_".join(rel.parts[:i]) for i in range(1, len(rel.parts))]
        names = [rel.name.lstrip("_"), *parents]
        if not any(list((ROOT / "tests").glob(f"test_{n}*.py")) for n in names):
            missing.append(str(rel))
    assert not missing


@pytest.mark.parametrize("entry", ["train", "train_recipe", "fit"])
def test_the_three_ways_in_are_the_ones_design_md_names(entry):
    ways = DESIGN.split("## Three ways in")[1].split("##")[0]
    assert f"| `{entry}(" in ways and callable(getattr(d2lnets, entry))
    assert not hasattr(d2lnets, "train_run") and not hasattr(d2lnets, "fit_run")
    assert os.path.exists(PKG / "training" / "plan.py")
