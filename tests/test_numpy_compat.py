"""MXNet 1.9.1 under every numpy from 1.21 to 2.x (``_d2lnets_numpy_compat``).

The supplied names are checked against numpy itself and hand computations; the
import-order, distutils and off-switch tests run a fresh interpreter, as a
reader's kernel starts. ``D2LNETS_NUMPY_VENVS`` names the pythons of other
venvs (`make test-numpy` makes them, `.ci/run` sets it): the same seed must
print the same figures under each numpy.
"""
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import _d2lnets_numpy_compat as compat
from d2lnets.builds import numpy_needs_compat

NEEDS = numpy_needs_compat(np.__version__)
ROOT = Path(__file__).resolve().parents[1]


def run_python(code, python=sys.executable, **env):
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env}, cwd=ROOT)


def numpy_without_removed_names():
    """A module with numpy's current functions and none of the removed names."""
    fake = types.ModuleType("numpy_2")
    for name in ("all", "any", "prod", "round", "isin", "sort", "bool_", "ravel"):
        setattr(fake, name, getattr(np, name))
    fake.trapezoid = getattr(np, "trapezoid", None) or np.trapz
    return fake


def test_supplied_names_mean_what_they_meant():
    fake = numpy_without_removed_names()
    added = compat.supply(fake)
    assert set(added) == set(compat.ALIASES) | set(compat.STAND_INS)
    assert fake.PZERO == 0.0 and np.copysign(1, fake.NZERO) == -1.0
    assert fake.PINF == fake.Inf == float("inf") and fake.NINF == -float("inf")
    assert np.isnan(fake.NAN) and np.isnan(fake.NaN)
    assert fake.bool is np.bool_ and fake.alltrue is np.all and fake.sometrue is np.any
    assert fake.product is np.prod and fake.round_ is np.round
    a = np.array([[3, 1], [2, 5]])
    np.testing.assert_array_equal(fake.msort(a), [[2, 1], [3, 5]])  # each column sorted
    np.testing.assert_array_equal(fake.in1d(a, [1, 5]), [False, True, False, True])  # flattened
    assert fake.trapz([1.0, 2.0, 3.0]) == 4.0  # (1+2)/2 + (2+3)/2
    with pytest.raises(NotImplementedError, match="numpy.npv was removed in numpy 2.0"):
        fake.npv(0.1, [1, 2])


def test_withdraw_keeps_only_bool_and_never_touches_what_numpy_has():
    fake = numpy_without_removed_names()
    fake.PZERO = "numpy's own"
    added = compat.supply(fake)
    assert "PZERO" not in added and fake.PZERO == "numpy's own"
    compat.withdraw(fake, added)
    left = {n for n in (*compat.ALIASES, *compat.STAND_INS) if hasattr(fake, n)}
    assert left == {"bool", "PZERO"}


@pytest.mark.parametrize("order", ["import mxnet; import d2lnets", "import d2lnets; import mxnet"])
def test_both_import_orders_train(order):
    """A reader's notebook imports mxnet or d2lnets first; both work here, and numpy
    ends with the names it had, plus ``bool`` where it lacked it."""
    r = run_python(f"""
import numpy
import _d2lnets_numpy_compat as c
NAMES = (*c.ALIASES, *c.STAND_INS)
before = set(numpy.__dict__) & set(NAMES)
{order}
from mxnet import autograd, gluon, nd
net = d2lnets.lenet_bn(); net.initialize()
trainer = gluon.Trainer(net.collect_params(), "sgd", {{"learning_rate": 0.1}})
with autograd.record():
    loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(nd.ones((2, 1, 28, 28))), nd.array([0, 1]))
loss.backward(); trainer.step(2)
print(sorted(set(numpy.__dict__) & set(NAMES) - before), len(c.APPLIED), float(loss.mean().asscalar()) > 0)
""")
    assert r.returncode == 0, r.stderr
    added, n_applied, trained = r.stdout.split("] ")[0] + "]", *r.stdout.split("] ")[1].split()
    expected_added = ["bool"] if "bool" in compat.APPLIED else []
    assert eval(added) == expected_added and trained == "True"
    assert (int(n_applied) > 0) == NEEDS


@pytest.mark.skipif(not NEEDS, reason=f"numpy {np.__version__}: MXNet imports as it is")
def test_switched_off_mxnet_cannot_import_and_says_how_to_fix():
    """The control: without the names, MXNet really fails under this numpy."""
    r = run_python("import mxnet", D2LNETS_NUMPY_COMPAT="0")
    assert r.returncode == 1 and "AttributeError" in r.stderr
    r = run_python("import d2lnets", D2LNETS_NUMPY_COMPAT="0")
    assert r.returncode == 1 and "Fix: unset D2LNETS_NUMPY_COMPAT" in r.stderr
    r = subprocess.run([sys.executable, "-m", "d2lnets", "doctor"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "D2LNETS_NUMPY_COMPAT": "0"}, cwd=ROOT)
    assert r.returncode == 1 and "fix:     unset D2LNETS_NUMPY_COMPAT" in r.stdout
    assert "Traceback" not in r.stderr


HIDE_DISTUTILS = """
import sys, sysconfig
from importlib.machinery import PathFinder
STDLIB = sysconfig.get_paths()["stdlib"]
class Python312:  # the standard library has no distutils, as from Python 3.12 on
    @staticmethod
    def find_spec(name, path=None, target=None):
        spec = PathFinder.find_spec(name, path) if name == "distutils" else None
        if spec is not None and spec.origin.startswith(STDLIB):
            raise ModuleNotFoundError("No module named 'distutils'", name=name)
sys.meta_path.insert(sys.meta_path.index(PathFinder), Python312)
"""


@pytest.mark.parametrize("first", ["mxnet", "d2lnets"])
def test_without_the_standard_librarys_distutils(first):
    """Python 3.12 removed distutils, which MXNet imports; setuptools (required by
    d2lnets from 3.12 on) supplies it. The control shows the hiding is real."""
    code = HIDE_DISTUTILS + f"import {first}; import mxnet, d2lnets, distutils.version; print(distutils.__file__)"
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert "setuptools" in r.stdout
    r = run_python(code, SETUPTOOLS_USE_DISTUTILS="stdlib")  # setuptools' shim off
    assert r.returncode != 0 and "No module named 'distutils'" in r.stderr


def test_the_pth_file_is_installed_with_d2lnets():
    """What lets ``import mxnet`` come first: installed by setup.py, plain and editable."""
    from importlib.metadata import distributions
    found = [f for d in distributions(name="d2lnets") for f in d.files or []
             if f.name == "d2lnets-numpy-compat.pth"]
    assert found, "no installed d2lnets lists d2lnets-numpy-compat.pth"
    assert Path(found[0].locate()).read_text().startswith("import _d2lnets_numpy_compat;")


OTHERS = os.environ.get("D2LNETS_NUMPY_VENVS", "").split()


def epoch_figures(python, out):
    r = subprocess.run([python, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--epochs", "2", "--batch-size", "64", "--out", str(out), "--no-progress"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env={**os.environ, "D2LNETS_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    numpy = subprocess.run([python, "-c", "import numpy; print(numpy.__version__)"],
                           capture_output=True, text=True).stdout.strip()
    rows = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    return numpy, [(r["loss"], r["train_acc"], r["test_acc"]) for r in rows], r.stdout


@pytest.mark.slow
@pytest.mark.skipif(not OTHERS, reason="D2LNETS_NUMPY_VENVS names no other venv")
def test_same_seed_same_figures_under_every_numpy(tmp_path):
    mine, figures, printed = epoch_figures(sys.executable, tmp_path / "here")
    assert len(figures) == 2
    for k, python in enumerate(OTHERS):
        numpy, theirs, their_print = epoch_figures(python, tmp_path / f"other{k}")
        assert numpy != mine, f"{python} has this venv's numpy {mine}"
        assert theirs == figures, f"numpy {numpy} against {mine}"  # bit for bit
        assert untimed(their_print) == untimed(printed)


def untimed(printed):
    return [line.split(", time")[0] for line in printed.splitlines()]
