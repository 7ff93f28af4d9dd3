"""Exercises 1-5 (batch normalisation): LeNet-BN's variants, trained with the
fast recipe (3 epochs at 28x28) or, for the learning-rate sweep, the book's."""
from __future__ import annotations

import functools
import math
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from mxnet import autograd, gluon
from mxnet.gluon import nn

from ..data import SAMPLE, load_data_fashion_mnist
from ..models import get_model
from ..plotting import pyplot, save_figure
from ..summary import summary
from .registry import Options, Result, register_exercise
from .report import Spread, compare, plot_spreads, verdict
from .trials import budget, caveat, chosen, spread, tuned

__all__ = ["freeze_gamma_beta", "bias_gradients", "SWEEPS", "outcome", "frozen_reading"]

#: the registered LeNet-BN, or a variant of it (``models.lenet_bn``'s arguments)
_lenet = functools.partial(get_model, "lenet-bn")
FAST = "the fast recipe (Nesterov SGD, lr 0.4, 3 epochs at 28x28)"


def freeze_gamma_beta(net: Any) -> Any:
    """gamma stays 1 and beta 0: ``grad_req='null'`` on every BN's scale and shift."""
    net.collect_params(".*gamma|.*beta").setattr("grad_req", "null")
    return net


def trainable(net: Any) -> int:
    """Learned parameters (moving statistics and frozen ones not counted): ``summary``'s."""
    return summary(net, print_fn=None).total_params


def _sample_net(build: Any, ctx: Any = None) -> tuple[Any, Any, Any]:
    """``build()`` initialised on one batch of the shipped sample."""
    net = build()
    net.initialize(ctx=ctx)
    X, y = next(iter(load_data_fashion_mnist(256, root=SAMPLE)[0]))
    return net, X, y


def bias_gradients(net: Any, X: Any, y: Any) -> list[list[Any]]:
    """Per conv and dense layer: does BN follow, max |dL/db|, max |dL/dW| on (X, y)."""
    layers = list(net)
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(X), y).mean()
    loss.backward()
    rows = []
    for i, layer in enumerate(layers):
        if isinstance(layer, (nn.Conv2D, nn.Dense)):
            feeds_bn = i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm)
            rows.append([layer.name, feeds_bn, float(layer.bias.grad().abs().max().asscalar()),
                         float(layer.weight.grad().abs().max().asscalar())])
    return rows


@register_exercise("bn-bias", "batch-norm", 1, "Can the bias of the dense or conv layer before "
                   "batch normalization be dropped? Why?", minutes=3.9, trains=True)
def bn_bias(opts: Options) -> Result:
    net, X, y = _sample_net(_lenet, opts.ctx)
    grads = bias_gradients(net, X, y)
    with_s = spread(opts, "lenet-bn", "fast", _lenet, "with bias")
    without_s = spread(opts, "lenet-bn", "fast", lambda: _lenet(bias=False), "no bias")
    fed = [r for r in grads if r[1]]
    worst = max(r[2] / r[3] for r in fed)
    rows = [[name, "yes" if bn else "no", gb, gw] for name, bn, gb, gw in grads]
    n_with, n_without = trainable(_lenet()), trainable(_lenet(bias=False))
    answer = (
        f"Yes. BN subtracts each channel's batch mean, and a bias adds the same number to every "
        f"value of its channel, so the bias is subtracted again: the layer's output does not "
        f"depend on it, its gradient is zero up to float error (the table: at most "
        f"{worst:.1e} of the weights' gradient in the layers that feed BN, against the last "
        f"dense layer's, which feeds no BN), and BN's beta does the shifting the bias would "
        f"(Ioffe and Szegedy 2015, section 3.2: \"the bias b can be ignored since its effect "
        f"will be canceled by the subsequent mean subtraction\"). "
        f"Dropping it saves {n_with - n_without:,} of {n_with:,} parameters.\n\n"
        f"Trained with {FAST}: {compare(with_s, without_s, 'with the bias', 'without')}")
    return Result(["layer", "feeds BN", "max abs dL/db", "max abs dL/dW"], rows, answer,
                  {"with_bias": with_s.to_dict(), "without_bias": without_s.to_dict(),
                   "params": {"with_bias": n_with, "without_bias": n_without}},
                  plot_spreads({"with bias": with_s, "without bias": without_s},
                               budget(opts, "fast recipe, 3 epochs of 60,000 images")))


@register_exercise("bn-lr", "batch-norm", 2, "Try a larger learning rate: can LeNet-BN train "
                   "with a larger one than the LeNet of the LeNet section?", minutes=8.1,
                   trains=True)
def bn_lr(opts: Options) -> Result:
    seeds = opts.seed_list if opts.seeds or opts.quick else SWEEP_SEEDS
    spreads = {(m, lr): spread(opts, m, "book", label=f"{NETS[m]} lr {lr}", seeds=seeds, lr=lr,
                               epochs=EPOCHS)
               for m, rates in SWEEPS.items() for lr in rates}
    rows = [[lr] + [cell for m in NETS for cell in _sweep_cells(spreads.get((m, lr)))]
            for lr in sorted({lr for rates in SWEEPS.values() for lr in rates})]
    top = {m: max(trains_at(spreads, m), default=0.0) for m in NETS}
    said = ("Yes" if top["lenet-bn"] > top["lenet"] else
            "Not at these rates" if top["lenet-bn"] == top["lenet"] else "No")
    answer = (
        f"{said}. With the book's plain SGD, a constant rate and batch 256, {EPOCHS} epochs "
        f"(the book trains 5; {EPOCHS} fit the sweep's {len(spreads) * len(seeds)} runs into "
        f"15 minutes, and a slow rate may still pass the mark later) and {len(seeds)} "
        f"seed{'s' if len(seeds) > 1 else ''} per rate, LeNet-BN trains (its worse seed at a "
        f"test accuracy of {TRAINS}, five times chance, or more) "
        f"{_rates(trains_at(spreads, 'lenet-bn'))} and LeNet "
        f"{_rates(trains_at(spreads, 'lenet'))}. {_limit(spreads, 'lenet-bn')}"
        f"{_limit(spreads, 'lenet')}\n\n"
        f"A run that does not train is told apart by its mean training loss in the first and "
        f"last epochs, against chance's (a uniform guess: ln 10 = {CHANCE_LOSS:.2f}): it "
        f"*overshoots* when its first epoch's loss is more than 10% above chance's (the steps "
        f"are too large from the start); it is *slow* when its last epoch's loss is below "
        f"chance's (it learns, not yet enough); it is *stuck* when the loss stays at chance's "
        f"(no gradient gets through); it *diverged* when the loss stopped being finite. "
        f"The plain LeNet gets stuck at large rates: a large step moves a layer's inputs far "
        f"from 0, its sigmoids saturate and their gradients vanish. BN puts each layer's "
        f"input back to mean 0 and variance 1 at every step, which keeps the sigmoids in their "
        f"steep part, and makes a layer's output independent of its weights' scale, so a "
        f"large step grows the weights and the next steps shrink in effect (Ioffe and "
        f"Szegedy 2015, section 3.3, \"Batch normalization enables higher learning rates\"; "
        f"the chapter's opening paragraphs: without it, updates change the outputs near the "
        f"output layer sharply). Only the last dense layer, which feeds no BN, is left "
        f"exposed. The figure shows each seed.")
    header = ["lr"] + [f"{name} {what}" for name in NETS.values()
                       for what in ("test acc", "loss, first / last epoch")]
    return Result(header, rows, answer,
                  {f"{m} lr {lr}": s.to_dict() for (m, lr), s in spreads.items()},
                  _plot_sweep(spreads, budget(
                      replace(opts, seeds=len(seeds)),
                      f"the book's recipe (SGD), {EPOCHS} epochs of 60,000 images, per rate")))


#: exercise 2's sweeps, by factors of about 3: LeNet around its book rate 0.9, LeNet-BN
#: from its book rate 1.0 up to where it fails; the epochs (the fast recipe's); the
#: seeds of a sweep (each rate is read alone, not paired); the test accuracy the
#: worse seed must reach to count as training (5x chance); a uniform guess's loss
NETS = {"lenet": "LeNet", "lenet-bn": "LeNet-BN"}
SWEEPS = {"lenet": (0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
          "lenet-bn": (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)}
EPOCHS, SWEEP_SEEDS, TRAINS = 3, (0, 1), 0.5
CHANCE_LOSS = math.log(10)


def outcome(acc: float | None, first_loss: float | None, last_loss: float | None) -> str:
    """One run of the sweep: "trains", "diverged" (a loss that is not finite),
    "overshoots" (first-epoch loss above 1.1 x chance's), "slow" (last epoch's
    loss below chance's by 0.05 or more) or "stuck" (at chance's)."""
    if acc is None or first_loss is None or last_loss is None:
        return "diverged"
    if acc >= TRAINS:
        return "trains"
    if first_loss > 1.1 * CHANCE_LOSS:
        return "overshoots"
    return "slow" if last_loss <= CHANCE_LOSS - 0.05 else "stuck"


def _outcomes(s: Spread) -> list[str]:
    return [outcome(a, f, la) for a, f, la in zip(s.values, s.first_loss, s.last_loss)]


def trains_at(spreads: dict[tuple[str, float], Spread], m: str) -> list[float]:
    return [lr for lr in SWEEPS[m] if (spreads[(m, lr)].median or 0) >= TRAINS]


def _sweep_cells(s: Spread | None) -> list[str]:
    if s is None:
        return ["not run", ""]
    kinds = [k for k in _outcomes(s) if k != "trains"]
    word = f" ({', '.join(f'{kinds.count(k)} {k}' for k in dict.fromkeys(kinds))})" if kinds \
        else ""
    return [f"{s}{word}", f"{_median(s.first_loss)} / {_median(s.last_loss)}"]


def _median(losses: tuple[float | None, ...]) -> str:
    finite = [v for v in losses if v is not None]
    return f"{statistics.median(finite):.2f}" if finite else "not finite"


def _limit(spreads: dict[tuple[str, float], Spread], m: str) -> str:
    """Where ``m`` stops training as the rate grows, and how its runs fail there."""
    ok, rates = trains_at(spreads, m), SWEEPS[m]
    if not ok:
        return ""
    above = [lr for lr in rates if lr > max(ok)]
    below = [lr for lr in rates if lr < min(ok)]
    parts = []
    if below:
        parts.append(f"below {min(ok)} its runs are {_kinds(spreads, m, below)}")
    parts.append(f"above {max(ok)} its runs are {_kinds(spreads, m, above)}" if above else
                 f"it still trains at {max(ok)}, the largest rate tried: its limit lies above")
    return f"{NETS[m]}: " + "; ".join(parts) + ". "


def _kinds(spreads: dict[tuple[str, float], Spread], m: str, lrs: list[float]) -> str:
    kinds = [k for lr in lrs for k in _outcomes(spreads[(m, lr)]) if k != "trains"]
    words = {"overshoots": "overshooting"}
    return " or ".join(words.get(k, k) for k in dict.fromkeys(kinds)) or "mixed"


def _rates(rates: list[float]) -> str:
    return f"at rates {', '.join(map(str, rates))}" if rates else "at no rate tried"


def _plot_sweep(spreads: dict[tuple[str, float], Spread], title: str) -> Any:
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for i, (m, name) in enumerate(NETS.items()):
            rates = SWEEPS[m]
            ax.plot(rates, [spreads[(m, lr)].median or 0.0 for lr in rates], "-o",
                    color=f"C{i}", label=f"{name} (worse seed)")
            for lr in rates:
                pts = [v if v is not None else 0.0 for v in spreads[(m, lr)].values]
                ax.scatter([lr] * len(pts), pts, color=f"C{i}", s=8, alpha=0.5)
        ax.axhline(TRAINS, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (SGD, constant)")
        ax.set_ylabel("test accuracy (diverged: 0)")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=8)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot


#: exercise 3's variants: name -> the registered lenet_bn's variant arguments; the
#: tanh one keeps the chapter's placement but gives the next layer centred inputs
PLACEMENTS = {"before the sigmoid (the chapter)": {}, "after the sigmoid": {"after": True},
              "conv layers only": {"norm": ("conv",)}, "dense layers only": {"norm": ("dense",)},
              "before a tanh": {"act": "tanh"}}
#: the rates each placement chooses from: the fast recipe's 0.4, halved and doubled;
#: on half the training set, so that 5 placements x (3 rates + 5 seeds) fit 15 minutes
PLACEMENT_LRS = (0.4, 0.2, 0.8)
PLACEMENT_DATA = {"subset": 30_000}
FAST_TUNED = ("the fast recipe (Nesterov SGD, 3 epochs at 28x28) on the first 30,000 training "
              "images, each placement at the best of the rates "
              f"{', '.join(map(str, sorted(PLACEMENT_LRS)))} on a tuning seed (one step further "
              "when the best is at an end)")


@register_exercise("bn-placement", "batch-norm", 3, "Insert batch normalization elsewhere in "
                   "LeNet: after the activation, only in the conv layers, only in the dense "
                   "layers. Observe and analyse.", minutes=9.1, trains=True)
def bn_placement(opts: Options) -> Result:
    runs, rows, tuning, picks = {}, [], {}, []
    for name, kw in PLACEMENTS.items():
        lr, tries, runs[name] = tuned(opts, PLACEMENT_LRS, "lenet-bn", "fast",
                                      lambda kw=kw: _lenet(**kw), name, **PLACEMENT_DATA)
        tuning[name] = {str(r): t.values[0] for r, t in tries.items()}
        picks.append((lr, tries))
        rows.append([name, trainable(_lenet(**kw)), chosen(lr, tries), str(runs[name])])
    chapter, tanh = runs[next(iter(PLACEMENTS))], runs["before a tanh"]
    lines = [compare(s, chapter, name, "the chapter's")
             for name, s in list(runs.items())[1:]]
    centred = {1: "the tanh does better than the sigmoid in the same place, as centring predicts",
               0: "the tanh shows no difference that the seeds can detect, so centring alone "
                  "is not shown to be the reason",
               -1: "yet the tanh does worse than the sigmoid in the same place, so centring "
                   "alone does not explain it"}[verdict(tanh, chapter).better] \
        if len(opts.seed_list) > 1 else "one seed cannot tell"
    answer = (
        f"Trained with {FAST_TUNED}. " + " ".join(lines) + caveat(picks) + "\n\n"
        "The chapter gives no reason for its placement: it says BN *usually* (通常) goes "
        "between the affine transformation and the activation. Ioffe and Szegedy 2015 "
        "(section 3.2) give one: the affine output Wx + b is more likely to have a symmetric, "
        "non-sparse, \"more Gaussian\" distribution than a sigmoid's output, so normalising it "
        "gives more stable activations. d2l-en 1.0 adds that later work puts BN after the "
        "activation. After the sigmoid, BN hands the next layer inputs of mean 0, where the "
        "chapter's placement hands it the sigmoid's outputs, all in (0, 1) around 0.5: with "
        "inputs all of one sign, every weight of a unit gets a gradient of the same sign "
        "and the weights can only move together, which slows training (LeCun et al. 1998, "
        "\"Efficient BackProp\", sections 4.3 and 4.4; the reason symmetric activations such "
        "as tanh train faster). The fifth row tests that reading: the chapter's placement "
        f"with a tanh, whose outputs are centred: {centred}. BN only in the conv layers "
        "leaves the two sigmoid dense layers unnormalised; BN only in the dense layers leaves "
        "the convs' inputs unnormalised, but the first conv sees pixels in [0, 1] anyway.")
    return Result(["where BN goes", "parameters", "lr chosen", "test acc (median, range)"], rows,
                  answer, {**{name: s.to_dict() for name, s in runs.items()},
                           "tuning_seed_acc": tuning},
                  plot_spreads(runs, budget(opts, "fast recipe, 3 epochs of 30,000 images, "
                                                  "each at its tuned lr")))


def sigmoid_slope(x: float) -> float:
    """d sigmoid / dx at ``x``: s (1 - s)."""
    sig = 1 / (1 + math.exp(-x))
    return sig * (1 - sig)


def gamma_beta(net: Any) -> tuple[list[float], list[float]]:
    """Every BN channel's learned gamma and beta in ``net``."""
    def values(pattern: str) -> list[float]:
        return [float(v) for p in net.collect_params(pattern).values()
                for v in p.data().asnumpy().ravel()]
    return values(".*gamma"), values(".*beta")


@register_exercise("bn-frozen", "batch-norm", 4, "Do not learn gamma and beta "
                   "(grad_req='null'). Observe and analyse.", minutes=3.7, trains=True)
def bn_frozen(opts: Options) -> Result:
    gammas: list[float] = []
    betas: list[float] = []

    def keep(trained: Any) -> None:
        g, b = gamma_beta(trained.net)
        gammas.extend(g)
        betas.extend(b)
    learned = spread(opts, "lenet-bn", "fast", _lenet, "learned gamma, beta", inspect=keep)
    frozen = spread(opts, "lenet-bn", "fast", lambda: freeze_gamma_beta(_lenet()),
                    "gamma 1, beta 0")
    rows = [["learned (the chapter)", trainable(_lenet()), str(learned)],
            ["frozen: gamma 1, beta 0", trainable(freeze_gamma_beta(_lenet())),
             str(frozen)]]
    g, b = _quantiles(gammas), _quantiles(betas)
    answer = (
        f"Trained with {FAST}: {compare(frozen, learned, 'frozen', 'learned')}\n\n"
        f"Frozen, every sigmoid's input is normalised to mean 0 and variance 1 over the batch. "
        f"There the sigmoid is close to linear: its slope is {sigmoid_slope(0):.2f} at 0, "
        f"{sigmoid_slope(1):.2f} at one standard deviation and {sigmoid_slope(2):.2f} at two. "
        f"So each unit cannot choose to work in the saturated ends or to move its threshold; "
        f"the next layer's weights and bias can still rescale and shift its output, but not "
        f"its input. {frozen_reading(verdict(frozen, learned).better, g, b, len(gammas))} "
        f"gamma and beta are how BN gives a layer back what normalising took away (the "
        f"chapter's 拉伸 and 偏移: with gamma = sigma and beta = mu it can undo the "
        f"normalisation). "
        f"They cost {rows[0][1] - rows[1][1]:,} parameters.")
    return Result(["gamma, beta", "trainable parameters", "test acc (median, range)"], rows,
                  answer, {"learned": learned.to_dict(), "frozen": frozen.to_dict(),
                           "gamma_quantiles": g, "beta_quantiles": b},
                  plot_spreads({"learned": learned, "frozen": frozen},
                               budget(opts, "fast recipe, 3 epochs of 60,000 images")))


#: how far the middle 90% of the learned gammas may sit from 1, and betas from 0,
#: for the networks to count as hardly using them (the sigmoid's slope at 1.2
#: standard deviations is 0.18, against 0.20 at 1)
HARDLY = 0.2


def frozen_reading(better: int, g: list[float], b: list[float], channels: int) -> str:
    """Exercise 4's reading: what the paired verdict (frozen against learned)
    and the learned gammas' and betas' 5th, 50th and 95th percentiles say."""
    spread = (f"Over {channels} BN channels of the learned networks (every seed), gamma ends "
              f"between "
              f"{g[0]:.2f} and {g[2]:.2f} (5th to 95th percentile; median {g[1]:.2f}) and beta "
              f"between {b[0]:.2f} and {b[2]:.2f} (median {b[1]:.2f})")
    hardly = max(abs(g[0] - 1), abs(g[2] - 1), abs(b[0]), abs(b[2])) <= HARDLY
    if better == 0 and hardly:
        return (f"{spread}: the learned networks hardly use the freedom, so their sigmoids work "
                f"where the frozen ones do, and freezing costs nothing detectable.")
    if better == 0:
        return (f"{spread}: the learned networks do use the freedom, yet freezing costs "
                f"nothing detectable: the frozen network reaches the same accuracy by other "
                f"weights (the next layer rescales what each sigmoid gives it).")
    if better < 0:
        return (f"{spread}: the learned networks use the freedom, and the frozen one pays for "
                f"its loss.")
    return (f"{spread}. The frozen network does better here: with gamma and beta fixed, "
            f"every sigmoid stays in its steep middle.")


def _quantiles(values: list[float]) -> list[float]:
    """5th, 50th and 95th percentiles (all 0 when there are none)."""
    if not values:
        return [0.0, 0.0, 0.0]
    ranked = sorted(values)
    return [round(ranked[min(len(ranked) - 1, int(q * len(ranked)))], 4)
            for q in (0.05, 0.5, 0.95)]


@register_exercise("bn-global-stats", "batch-norm", 5, "Train with the global moving "
                   "statistics (use_global_stats=True). What happens, and why?", minutes=5.3,
                   trains=True)
def bn_global_stats(opts: Options) -> Result:
    batch = spread(opts, "lenet-bn", "fast", _lenet, "batch statistics")
    moving = spread(opts, "lenet-bn", "fast", lambda: _lenet(global_stats=True),
                    "use_global_stats")
    plain = spread(opts, "lenet-bn", "fast", lambda: get_model("lenet"), "plain LeNet")
    rows = [["batch statistics (the chapter)", str(batch)],
            ["use_global_stats=True", str(moving)], ["no BN at all (plain LeNet)", str(plain)]]
    answer = (
        f"Trained with {FAST}: {compare(moving, batch, 'use_global_stats', 'batch statistics')} "
        f"{compare(moving, plain, 'use_global_stats', 'the plain LeNet')}\n\nWith "
        f"`use_global_stats=True` the layer normalises with the moving mean and variance in "
        f"training too, and MXNet updates those only from batch statistics, so they stay at "
        f"their initial 0 and 1 (tested): every BN layer is the fixed affine map "
        f"gamma * x / sqrt(1 + eps) + beta. The network is a plain sigmoid LeNet with a learned "
        f"scale and shift per channel: the table puts it beside a plain LeNet trained the "
        f"same way. "
        f"The chapter (预测时的批量归一化) uses the moving averages only to predict, so that "
        f"an image's output does not depend on its batch; the option applies that rule in "
        f"training too, which suits a trained network (fine-tuning with small batches) whose "
        f"moving statistics are already right.")
    return Result(["BN in training uses", "test acc (median, range)"], rows, answer,
                  {"batch": batch.to_dict(), "global": moving.to_dict(),
                   "plain": plain.to_dict()},
                  plot_spreads({"batch stats": batch, "use_global_stats": moving,
                                "no BN": plain},
                               budget(opts, "fast recipe, 3 epochs of 60,000 images")))
