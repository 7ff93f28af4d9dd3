"""Which MXNet build set-up installs, and that installing d2lnets never pulls a
second MXNet distribution into an environment that has one."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from d2lnets import builds

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "d2lnets" / "builds.py")


def fake_nvidia_smi(folder, cuda):
    """An nvidia-smi that reports a driver for ``cuda`` and one GPU."""
    folder.mkdir(exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\n"
                   'if [ "$1" = "-L" ]; then echo "GPU 0: Tesla T4 (UUID: GPU-0)"; exit 0; fi\n'
                   f'echo "| NVIDIA-SMI 470.00   Driver Version: 470.00   CUDA Version: {cuda}  |"\n')
    smi.chmod(0o755)
    return folder


def stand_in(folder, name, version="1.9.1"):
    """A metadata-only stand-in for an installed distribution."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


def dry_run(path_dirs=(), pythonpath=None, extra_env=None):
    """builds.py as `make setup` runs it in a fresh venv (-S: no site-packages)."""
    env = {**os.environ, "PATH": os.pathsep.join([*map(str, path_dirs), os.environ["PATH"]])}
    env.pop("MXNET", None)
    env.update(extra_env or {})
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    r = subprocess.run([sys.executable, "-S", SCRIPT, "--dry-run"], capture_output=True,
                       text=True, env=env, timeout=60)
    return r


@pytest.mark.parametrize("cuda, dist", [("11.2", "mxnet-cu112"), ("11.4", "mxnet-cu114"),
                                        ("12.2", "mxnet-cu117"), ("10.2", "mxnet-cu102"),
                                        ("9.2", "mxnet")])
def test_a_driver_selects_the_newest_build_it_runs(tmp_path, cuda, dist):
    r = dry_run([fake_nvidia_smi(tmp_path / "bin", cuda)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{dist} (") and (cuda in r.stdout or dist == "mxnet")


def test_no_driver_selects_the_cpu_build():
    r = dry_run()
    assert r.returncode == 0 and r.stdout.startswith("mxnet (no NVIDIA driver")


def test_mxnet_overrides_the_choice(tmp_path):
    r = dry_run([fake_nvidia_smi(tmp_path / "bin", "11.2")], extra_env={"MXNET": "mxnet-cu110"})
    assert r.stdout.startswith("mxnet-cu110 (MXNET is set")


def test_an_installed_gpu_build_is_kept(tmp_path):
    r = dry_run(pythonpath=stand_in(tmp_path / "site", "mxnet-cu112"))
    assert r.returncode == 0 and "mxnet-cu112 is installed already: kept" in r.stdout


def test_two_builds_at_once_are_refused(tmp_path):
    site = stand_in(stand_in(tmp_path / "site", "mxnet-cu112"), "mxnet")
    r = dry_run(pythonpath=site)
    assert r.returncode == 1 and "pip uninstall -y mxnet mxnet-cu112" in r.stderr


def test_pip_install_leaves_a_gpu_build_alone(tmp_path):
    """pip, resolving d2lnets in an environment that holds mxnet-cu112, installs no
    other MXNet distribution (the CPU `mxnet` would overwrite the GPU build's files)."""
    site = stand_in(tmp_path / "site", "mxnet-cu112")
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(site), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                        "--report", str(report), str(ROOT)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    names = [item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]]
    assert "d2lnets" in names
    assert not [n for n in names if n.startswith("mxnet")], names


def test_the_cuda_extras_name_real_builds():
    assert builds.build_for((11, 7)) == "mxnet-cu117" and builds.build_for(None) == "mxnet"
    assert builds.build_for((11, 1)) == "mxnet-cu110"
