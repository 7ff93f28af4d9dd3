"""Exercises 1-5: the facts that hold whatever the seed, against hand counts
and a numpy reference of BatchNorm with global statistics."""
import numpy as np
import pytest
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

from d2lnets.config import RunConfig
from d2lnets.data import SAMPLE, load_data_fashion_mnist
from d2lnets.errors import UsageError
from d2lnets.exercises import batch_norm
from d2lnets.exercises.batch_norm import (
    CHANCE_LOSS,
    EPOCHS,
    SWEEPS,
    bias_gradients,
    freeze_gamma_beta,
    frozen_reading,
    gamma_beta,
    outcome,
    sigmoid_slope,
    trainable,
)
from d2lnets.exercises.report import Spread
from d2lnets.models import get_model, model_info
from d2lnets.recipes import layered


def _lenet(**variant):
    """The registered LeNet-BN, or a variant of it."""
    return get_model("lenet-bn", **variant)

#: LeNet's layers by hand: conv 1->6 5x5, conv 6->16 5x5, dense 256->120, 120->84, 84->10
LENET = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
BN = {"conv": 2 * (6 + 16), "dense": 2 * (120 + 84)}  # gamma and beta per channel


def _ready(net, n=64):
    net.initialize()
    X, y = next(iter(load_data_fashion_mnist(n, root=SAMPLE)[0]))
    net(X)
    return net, X, y


def test_plain_lenet_is_the_lenet_sections():
    assert LENET == 44_426 == trainable(_ready(get_model("lenet"))[0])
    assert model_info("lenet").lr == 0.9  # the LeNet section's rate
    assert [type(b).__name__ for b in get_model("lenet")] == \
        ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Dense", "Dense", "Dense"]


def test_the_scratch_batch_norm_has_no_global_stats_variant():
    with pytest.raises(UsageError, match="global_stats is Gluon's"):
        get_model("lenet-bn", scratch=True, global_stats=True)


def test_bias_before_bn_gets_no_gradient():
    """BN(x + b) = BN(x) per channel, so dL/db = 0 up to float error; the last
    layer, which feeds no BN, gets a real gradient."""
    rows = bias_gradients(*_ready(_lenet(), 256))
    fed, last = rows[:-1], rows[-1]
    assert all(r[1] for r in fed) and not last[1]
    assert all(r[2] < 1e-3 * r[3] for r in fed)
    assert last[2] > 1e-2 * last[3]


def test_no_bias_variant_drops_one_bias_per_bn_channel():
    assert trainable(_ready(_lenet(bias=False))[0]) == 44_878 - (6 + 16 + 120 + 84)


def test_the_sweeps_span_each_nets_book_rate_and_reach_300():
    """LeNet's from below its book rate 0.9 to 30, LeNet-BN's from its 1.0 to 300,
    at the fast recipe's epochs."""
    assert min(SWEEPS["lenet"]) < model_info("lenet").lr < max(SWEEPS["lenet"])
    assert min(SWEEPS["lenet-bn"]) == model_info("lenet-bn").lr and max(SWEEPS["lenet-bn"]) >= 300
    assert EPOCHS == layered("lenet-bn", "fast").epochs == 3
    assert RunConfig().epochs == layered("lenet-bn", "book").epochs == 5
    assert abs(CHANCE_LOSS - 2.302585) < 1e-6  # -ln(1/10): a uniform guess


@pytest.mark.parametrize("acc, first, last, kind", [
    (0.85, 0.6, 0.3, "trains"), (0.5, 2.2, 1.9, "trains"), (0.78, 2.78, 0.6, "trains"),
    (0.15, 2.31, 2.20, "slow"), (0.1, 2.30, 2.26, "stuck"), (0.1, 2.40, 2.31, "stuck"),
    (0.1, 2.54, 2.0, "overshoots"), (0.1, 40.0, 2.3, "overshoots"),
    (None, None, None, "diverged")])
def test_outcome_tells_slow_stuck_and_overshooting_apart(acc, first, last, kind):
    """Overshoots: first epoch >10% above chance's loss (ln 10); slow: the last
    epoch below it by 0.05 or more; stuck: at it."""
    assert outcome(acc, first, last) == kind


def test_limit_says_how_runs_fail_on_each_side():
    good = Spread((0.8, 0.8), (0.6,) * 2, (0.4,) * 2)
    slow = Spread((0.1,) * 2, (2.3,) * 2, (2.1,) * 2)
    over = Spread((0.1, None), (9.0, None), (2.3, None))
    spreads = {("lenet", lr): slow if lr < 1 else good if lr <= 3 else over
               for lr in SWEEPS["lenet"]}
    said = batch_norm._limit(spreads, "lenet")
    assert said == "LeNet: below 1.0 its runs are slow; above 3.0 its runs are overshooting " \
        "or diverged. "
    spreads = {("lenet-bn", lr): good for lr in SWEEPS["lenet-bn"]}
    assert "still trains at 300.0, the largest rate tried: its limit lies above" in \
        batch_norm._limit(spreads, "lenet-bn")
    assert batch_norm._rates([]) == "at no rate tried"


def test_sigmoid_slope_against_a_difference_quotient():
    for x in (0.0, 1.0, 2.0, -1.5):
        h = 1e-6
        sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
        assert abs(sigmoid_slope(x) - (sig(x + h) - sig(x - h)) / (2 * h)) < 1e-8
    assert round(sigmoid_slope(0), 2) == 0.25 and round(sigmoid_slope(1), 2) == 0.20


G_NEAR, B_NEAR, G_FAR = [0.9, 1.0, 1.1], [-0.1, 0.0, 0.15], [0.5, 1.2, 2.0]


@pytest.mark.parametrize("better, g, says", [
    (0, G_NEAR, "hardly use the freedom"), (0, G_FAR, "do use the freedom, yet freezing costs"),
    (-1, G_FAR, "the frozen one pays"), (1, G_NEAR, "The frozen network does better")])
def test_frozen_reading_follows_the_verdict_and_the_learned_values(better, g, says):
    said = frozen_reading(better, g, B_NEAR, 1130)
    assert says in said and "1130 BN channels" in said and f"between {g[0]:.2f}" in said


def test_gamma_beta_reads_every_bn_channel():
    g, b = gamma_beta(_ready(_lenet())[0])
    assert len(g) == len(b) == (BN["conv"] + BN["dense"]) // 2
    assert set(g) == {1.0} and set(b) == {0.0}  # Gluon's initial values


def test_tanh_variant_keeps_the_placement_and_the_count():
    net = _ready(_lenet(act="tanh"))[0]
    acts = [b._act_type for b in net if type(b).__name__ == "Activation"]
    assert acts == ["tanh"] * 4 and trainable(net) == LENET + BN["conv"] + BN["dense"]
    kinds = [type(b).__name__ for b in net]
    assert all(kinds[i + 1] == "Activation" for i, k in enumerate(kinds) if k == "BatchNorm")


@pytest.mark.parametrize("kw, params", [({"norm": ("conv",)}, LENET + BN["conv"]),
                                        ({"norm": ("dense",)}, LENET + BN["dense"]),
                                        ({"after": True}, LENET + BN["conv"] + BN["dense"])])
def test_placements_by_hand(kw, params):
    net = _ready(_lenet(**kw))[0]
    assert trainable(net) == params
    kinds = [type(b).__name__ for b in net]
    if kw.get("after"):  # every BN comes right after a sigmoid
        assert all(kinds[i - 1] == "Activation" for i, k in enumerate(kinds) if k == "BatchNorm")
    else:
        assert kinds.count("BatchNorm") == len(kw["norm"]) * 2


def _one_step(net, X, y):
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(X), y)
    loss.backward()
    trainer.step(len(y))


def test_frozen_gamma_beta_stay_one_and_zero():
    frozen, X, y = _ready(freeze_gamma_beta(_lenet()))
    learned, _, _ = _ready(_lenet())
    _one_step(frozen, X, y)
    _one_step(learned, X, y)
    for name, p in frozen.collect_params(".*gamma").items():
        assert np.array_equal(p.data().asnumpy(), np.ones(p.shape)), name
    for name, p in frozen.collect_params(".*beta").items():
        assert np.array_equal(p.data().asnumpy(), np.zeros(p.shape)), name
    assert any(not np.array_equal(p.data().asnumpy(), np.ones(p.shape))
               for p in learned.collect_params(".*gamma").values())
    assert trainable(frozen) == 44_878 - BN["conv"] - BN["dense"]


def test_global_stats_forward_is_the_moving_statistics_formula():
    """use_global_stats in training: (x - moving_mean) / sqrt(moving_var + eps)
    * gamma + beta, and the moving statistics do not move."""
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm(use_global_stats=True, in_channels=3, epsilon=1e-5)
    bn.initialize()
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    for p, v in ((bn.running_mean, mean), (bn.running_var, var), (bn.gamma, gamma),
                 (bn.beta, beta)):
        p.set_data(nd.array(v))
    x = rng.normal(size=(8, 3, 4, 4)).astype(np.float32)
    with autograd.record():
        y = bn(nd.array(x))
    y.backward()
    c = (1, 3, 1, 1)
    want = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + 1e-5) * gamma.reshape(c) + \
        beta.reshape(c)
    np.testing.assert_allclose(y.asnumpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.data().asnumpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data().asnumpy(), var, rtol=1e-6)


def test_global_stats_variant_trains_without_moving_its_statistics():
    net, X, y = _ready(_lenet(global_stats=True))
    _one_step(net, X, y)
    for name, p in net.collect_params(".*running_mean|.*running_var").items():
        want = 0.0 if "mean" in name else 1.0
        assert np.all(p.data().asnumpy() == want), name
