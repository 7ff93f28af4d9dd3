"""The MXNet internals d2lnets uses: present on 1.9.x, and a loud failure otherwise."""
import mxnet as mx
import pytest
from mxnet.gluon import HybridBlock, nn

from d2lnets import _mxnet_compat as compat
from d2lnets import threads
from d2lnets.errors import EnvironmentProblem


def test_this_mxnet_passes_the_check():
    assert mx.__version__.startswith("1.9.")
    compat.check()


def test_another_version_fails_loudly(monkeypatch):
    monkeypatch.setattr(mx, "__version__", "2.0.0")
    with pytest.raises(EnvironmentProblem, match=r"needs MXNet 1\.9\.x; this is MXNet 2\.0\.0"):
        compat.check()


def test_a_missing_gluon_hook_fails_loudly(monkeypatch):
    monkeypatch.delattr(HybridBlock, "_build_cache")
    with pytest.raises(EnvironmentProblem, match="_build_cache"):
        compat.check()


def test_the_engine_thread_cap_reads_back():
    """The write is verified through libmxnet's own getter."""
    in_force = threads.CHOICE.threads or 1
    assert compat.set_engine_omp_threads(1) is True
    assert compat.set_engine_omp_threads(in_force) is True


def test_children_of_a_sequential_in_order():
    seq = nn.HybridSequential()
    a, b = nn.Dense(2), nn.Dense(3)
    seq.add(a, b)
    assert compat.children_of(seq) == [a, b]
