"""d2lnets doctor: a healthy set-up passes; every problem it knows is caused for
real (or with a metadata-only stand-in for a second MXNet build) and named with its fix."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from test_builds import fake_nvidia_smi, stand_in

from d2lnets import data as D
from d2lnets import doctor
from d2lnets.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_doctor(env_extra=None, path_dirs=(), python=sys.executable):
    env = {**os.environ, **(env_extra or {})}
    env["PATH"] = os.pathsep.join([*map(str, path_dirs), env["PATH"]])
    return subprocess.run([python, "-m", "d2lnets", "doctor", "--offline"], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)


def test_a_healthy_set_up(capsys):
    assert main(["doctor", "--offline"]) == 0
    out = capsys.readouterr().out
    assert f"mxnet       {mx.__version__} (mxnet; CUDA=no" in out
    assert "MKLDNN=yes" in out and "try_gpu() -> cpu(0)" in out
    assert "OpenMP threads" in out and "GiB free" in out and out.rstrip().endswith("nothing to fix")


def test_two_mxnet_distributions(tmp_path):
    r = run_doctor({"PYTHONPATH": str(stand_in(tmp_path / "site", "mxnet-cu112"))})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 MXNet distributions are installed (mxnet, mxnet-cu112)" in r.stdout
    assert "fix:     pip uninstall -y mxnet mxnet-cu112 && make setup" in r.stdout


def test_a_gpu_with_a_cpu_build(tmp_path):
    r = run_doctor(path_dirs=[fake_nvidia_smi(tmp_path / "bin", "11.4")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "nvidia-smi sees 1 GPU(s) but this MXNet is a CPU build" in r.stdout
    assert "pip install --no-deps mxnet-cu114==1.9.1" in r.stdout


def test_no_data_and_no_way_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setattr(D, "DEBIAN_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)  # no apt-get, no sudo
    monkeypatch.setattr(doctor, "mirror_reachable", lambda: False)
    from d2lnets.cli import doctor as doctor_command
    monkeypatch.setattr(doctor_command, "mirror_reachable", lambda: False)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "Fashion-MNIST is not here and cannot be had" in out and "--data sample" in out


def python_without_mxnet():
    for exe in ("python3", "python3.11"):
        path = shutil.which(exe, path=os.environ["PATH"].replace(str(Path(sys.executable).parent), ""))
        if path and subprocess.run([path, "-c", "import mxnet"], capture_output=True).returncode:
            return path
    pytest.skip("no Python without MXNet on this machine")


def test_no_mxnet_at_all():
    python = python_without_mxnet()
    env = {"PYTHONPATH": str(ROOT)}
    r = run_doctor(env, python=python)
    assert r.returncode == 1 and "PROBLEM    MXNet is not installed" in r.stdout, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([python, "-m", "d2lnets", "train", "lenet-bn"], capture_output=True,
                       text=True, env={**os.environ, **env}, timeout=120)
    assert r.returncode == 1 and "MXNet is not installed" in r.stderr
    assert "Traceback" not in r.stderr and "d2lnets doctor" in r.stderr
    r = subprocess.run([python, "-c", "import d2lnets"], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=120)
    assert r.returncode == 1 and "MXNetUnavailable: MXNet is not installed" in r.stderr


def test_numpy_line_names_the_supplied_names():
    """doctor says which removed numpy names MXNet needed here (none under numpy<1.24)."""
    import _d2lnets_numpy_compat as compat
    from d2lnets.builds import numpy_needs_compat
    r = run_doctor()
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("numpy "))
    if numpy_needs_compat(np.__version__):
        assert f"supplied {len(compat.APPLIED)} names" in line and "import mxnet works first too" in line
        assert all(f" {name}" in line for name in compat.APPLIED)
    else:
        assert "(MXNet imports as it is)" in line


def test_graphviz_is_not_required_and_doctor_says_what_needs_it(monkeypatch, capsys):
    """d2lnets required graphviz<0.9 for MXNet's sake, so installing it downgraded a
    reader's graphviz; only mx.viz imports it."""
    import re
    setup = (ROOT / "setup.py").read_text()
    requires = setup.split("install_requires=[", 1)[1].split("]", 1)[0]
    assert not re.search(r'^\s*"graphviz', requires, flags=re.M)
    real = doctor.installed_version
    monkeypatch.setattr(doctor, "installed_version",
                        lambda name: None if name == "graphviz" else real(name))
    main(["doctor", "--offline"])
    out = capsys.readouterr().out
    assert "graphviz    not installed (only MXNet's mx.viz.plot_network needs it" in out
