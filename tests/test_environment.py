"""environment.py: values MXNet or OpenMP would abort, hang or fail on are
refused before they load, naming the variable (exit 2, no traceback)."""
import os
import subprocess
import sys

import pytest

from d2lnets.environment import MAX_OMP_THREADS, check_environment
from d2lnets.errors import BadEnvironment

CASES = [  # each caused a traceback, an abort (134), a hang or libgomp's failure on main
    ("OMP_NUM_THREADS", "²", "not a count of threads"),
    ("OMP_NUM_THREADS", "abc", "not a count of threads"),
    ("OMP_NUM_THREADS", "0", "not a count of threads"),
    ("OMP_NUM_THREADS", "5000", "more threads than OpenMP can start"),
    ("MXNET_ENGINE_TYPE", "Bogus", "not an engine"),
    ("MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN", "abc", "not a number"),
    ("MXNET_CPU_WORKER_NTHREADS", "-1", "not a count of threads"),
]


@pytest.mark.parametrize("name, value, says", CASES)
def test_the_command_refuses_a_bad_value_in_one_line(name, value, says, tmp_path):
    env = {**os.environ, name: value}
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--data", "sample",
                        "--epochs", "1", "--out", str(tmp_path / "run")], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{name}={value!r}" in r.stderr and says in r.stderr and f"unset {name}" in r.stderr
    assert not (tmp_path / "run").exists()


def test_doctor_names_it_as_a_problem():
    env = {**os.environ, "MXNET_ENGINE_TYPE": "Bogus"}
    r = subprocess.run([sys.executable, "-m", "d2lnets", "doctor"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert "PROBLEM" in r.stdout + r.stderr and "MXNET_ENGINE_TYPE='Bogus'" in r.stdout + r.stderr


@pytest.mark.parametrize("env", [
    {"OMP_NUM_THREADS": "2", "D2LNETS_THREADS": "off"}, {"MXNET_ENGINE_TYPE": "NaiveEngine"},
    {"MXNET_SUBGRAPH_BACKEND": "MKLDNN", "MXNET_EXEC_BULK_EXEC_TRAIN": "0"},
    {"MXNET_CUDNN_AUTOTUNE_DEFAULT": "0", "OMP_NUM_THREADS": ""}, {"MXNET_ENFORCE_X": "true"},
    {"OMP_NUM_THREADS": str(MAX_OMP_THREADS)},
])
def test_good_values_pass(env):
    check_environment(env)


def test_the_library_raises_a_value_error_a_user_can_catch():
    with pytest.raises(ValueError, match="MXNET_GPU_WORKER_NTHREADS"):
        check_environment({"MXNET_GPU_WORKER_NTHREADS": "0"})
    assert issubclass(BadEnvironment, ValueError) and BadEnvironment.exit_code == 2


def test_a_d2lnets_threads_value_that_is_no_count_is_passed_over_and_named():
    """D2LNETS_THREADS=² gave a traceback (isdigit() then int())."""
    env = {**os.environ, "D2LNETS_THREADS": "²"}
    env.pop("OMP_NUM_THREADS", None)  # this process's (d2lnets set it) would win
    r = subprocess.run([sys.executable, "-m", "d2lnets", "doctor", "--offline"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in r.stderr
    assert "PROBLEM    D2LNETS_THREADS='²' is neither a count of threads" in r.stdout
