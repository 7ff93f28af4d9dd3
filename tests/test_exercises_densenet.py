"""Exercises 9-11: per-stage counts by hand, the ImageNet builds against
torchvision's published counts, and the memory measurement's behaviour."""
import numpy as np
import pytest

import d2lnets as d2l
from d2lnets.errors import D2lnetsError
from d2lnets.exercises.densenet import (
    TORCHVISION,
    densenet_bc_counts,
    memory_verdict,
    quadratic_share,
    relative,
    stage_params,
    step_memory,
)
from d2lnets.models import DENSENET_SPECS, densenet


def _dense_block(cin, convs, growth=32):
    """The chapter's conv_block i: BN (2 per input channel), 3x3 conv with bias."""
    return sum(2 * (cin + i * growth) + 9 * (cin + i * growth) * growth + growth
               for i in range(convs))


def test_densenet_stages_by_hand():
    stages = dict((name, p) for name, p, _ in stage_params(d2l.get_model("densenet")))
    assert list(stages) == ["stem", "dense block 1", "transition 1", "dense block 2",
                            "transition 2", "dense block 3", "transition 3", "dense block 4",
                            "head"]
    cin = 64
    for k in range(1, 5):
        assert stages[f"dense block {k}"] == _dense_block(cin, 4)
        cin += 4 * 32
        if k < 4:  # BN, then a 1x1 conv with bias to half the channels
            assert stages[f"transition {k}"] == 2 * cin + cin * (cin // 2) + cin // 2
            cin //= 2
    assert stages["stem"] == 49 * 64 + 64 + 2 * 64
    assert stages["head"] == 2 * cin + cin * 10 + 10
    assert sum(stages.values()) == 758_226


def test_resnet_stages_sum_to_the_registry_count():
    stages = stage_params(d2l.get_model("resnet18"))
    assert [s for s, _, _ in stages] == ["stem"] + [f"residual stage {k}" for k in range(1, 5)] \
        + ["head"]
    assert sum(p for _, p, _ in stages) == 11_178_378


@pytest.mark.parametrize("depth", sorted(TORCHVISION))
def test_imagenet_builds_equal_torchvisions_counts(depth):
    init, growth, blocks = DENSENET_SPECS[depth]
    s = d2l.summary(densenet(1000, init, growth, blocks, conv_bias=False, bottleneck=4),
                    (1, 3, 224, 224), print_fn=None)
    assert s.total_params == TORCHVISION[depth][0]
    assert abs(s.total_macs / 1e9 - TORCHVISION[depth][1]) < 0.01


def test_the_formula_gives_torchvisions_published_counts():
    for depth, (params, gflops) in TORCHVISION.items():
        p, macs = densenet_bc_counts(*DENSENET_SPECS[depth])
        assert p == params and round(macs / 1e9, 2) == gflops


@pytest.mark.parametrize("depth", sorted(DENSENET_SPECS))
def test_every_tables_build_equals_the_formula(depth):
    """DenseNet-264 (6-12-64-48) included, which torchvision does not publish."""
    init, growth, blocks = DENSENET_SPECS[depth]
    s = d2l.summary(densenet(1000, init, growth, blocks, conv_bias=False, bottleneck=4),
                    (1, 3, 224, 224), print_fn=None)
    assert (s.total_params, s.total_macs) == densenet_bc_counts(init, growth, blocks)
    assert DENSENET_SPECS[264][2] == (6, 12, 64, 48)


def test_step_memory_grows_with_the_batch():
    small, large = step_memory("densenet", 2, 64, False), step_memory("densenet", 16, 64, False)
    assert 0 < small < large


def test_step_memory_is_the_childs_own_peak():
    """A child inherits its parent's ru_maxrss: measured from a 1 GiB parent, a small
    step must still read as small (VmHWM, reset before the step)."""
    ballast = np.ones(1 << 27)  # 1 GiB, touched
    assert ballast.sum() == 1 << 27
    assert 0 < step_memory("densenet", 2, 64, False) < 200


def test_step_memory_failure_is_a_clear_error():
    with pytest.raises(D2lnetsError, match="memory measurement of no-such-net"):
        step_memory("no-such-net", 2, 64, False)


@pytest.mark.parametrize("dense, res, noise, said", [
    (38.2, 36.0, 0.08, "no: per image, DenseNet's training step takes as much memory"),
    (50.0, 36.0, 0.08, "yes: per image, DenseNet's training step takes 39% more"),
    (30.0, 36.0, 0.08, "no: per image, DenseNet's training step takes 17% less"),
    (0.5, 0.0, 0.0, "cannot tell: the extra images added no memory"),
    (-0.3, 0.4, 0.0, "cannot tell: the extra images added no memory"),
    (50.0, 36.0, None, "cannot tell: one run per figure (--quick) does not size")])
def test_the_memory_verdict_follows_the_numbers_and_their_noise(dense, res, noise, said):
    assert memory_verdict(dense, res, noise).startswith(said)


def test_relative_change_of_a_figure_that_measured_nothing_is_said_not_divided():
    assert relative(40.0, 50.0) == "-20%"
    assert relative(40.0, 0.0) == "an amount too small to measure"


def test_the_quadratic_share_tells_linear_from_quadratic_growth():
    layers = [2, 4, 8, 16]
    assert quadratic_share(layers, [100 + 10 * n for n in layers]) < 0.01
    share = quadratic_share(layers, [100 + 10 * n + 2 * n * n for n in layers])
    assert share == pytest.approx(2 * 256 / (100 + 160 + 512))
