"""Exercises 1-5 (batch normalisation): LeNet-BN's variants, trained with the
fast recipe (3 epochs at 28x28) or, for the learning-rate sweep, the book's."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from mxnet import autograd, gluon
from mxnet.gluon import nn

from ..data import SAMPLE, load_data_fashion_mnist
from ..models import get_model
from ..plotting import pyplot, save_figure
from ..summary import summary
from .registry import Options, Result, register_exercise
from .report import Spread, compare, plot_spreads
from .trials import spread

__all__ = ["freeze_gamma_beta", "bias_gradients", "LEARNING_RATES"]

#: exercise 2's sweep: 100x, around the book's 0.9 (LeNet) and 1.0 (LeNet-BN); its
#: epochs per run, and the median test accuracy that counts as training (5x chance)
LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0)
EPOCHS, TRAINS = 2, 0.5
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
                   "batch normalization be dropped? Why?", minutes=3, trains=True)
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
        f"dense layer's, which feeds no BN), and BN's beta does the shifting the bias would. "
        f"Dropping it saves {n_with - n_without:,} of {n_with:,} parameters.\n\n"
        f"Trained with {FAST}: {compare(with_s, without_s, 'with the bias', 'without')}")
    return Result(["layer", "feeds BN", "max abs dL/db", "max abs dL/dW"], rows, answer,
                  {"with_bias": with_s.to_dict(), "without_bias": without_s.to_dict(),
                   "params": {"with_bias": n_with, "without_bias": n_without}},
                  plot_spreads({"with bias": with_s, "without bias": without_s}))


@register_exercise("bn-lr", "batch-norm", 2, "Try a larger learning rate: can LeNet-BN train "
                   "with a larger one than the LeNet of the LeNet section?", minutes=7.8,
                   trains=True)
def bn_lr(opts: Options) -> Result:
    nets = {"lenet": "LeNet", "lenet-bn": "LeNet-BN"}
    spreads = {(m, lr): spread(opts, m, "book", label=f"{name} lr {lr}", lr=lr, epochs=EPOCHS)
               for m, name in nets.items() for lr in LEARNING_RATES}
    rows = [[lr] + [str(spreads[(m, lr)]) for m in nets] for lr in LEARNING_RATES]

    def trains_at(m: str) -> list[float]:
        return [lr for lr in LEARNING_RATES if (spreads[(m, lr)].median or 0) >= TRAINS]

    def best(m: str) -> float:
        return max(LEARNING_RATES, key=lambda lr: spreads[(m, lr)].median or 0)

    top = {m: max(trains_at(m), default=0.0) for m in nets}
    verdict = ("Yes" if top["lenet-bn"] > top["lenet"] else
               "Not at these rates" if top["lenet-bn"] == top["lenet"] else "No")
    answer = (
        f"{verdict}. With the book's plain SGD, a constant rate and {EPOCHS} epochs (the book "
        f"trains 5: 2 keep 30 runs within 10 minutes), LeNet-BN trains (a median test accuracy "
        f"of {TRAINS}, five times chance, or more) at rates {_rates(trains_at('lenet-bn'))} and "
        f"LeNet at {_rates(trains_at('lenet'))}; the best rate is {best('lenet-bn')} for LeNet-BN and "
        f"{best('lenet')} for LeNet. The sigmoids of the plain LeNet saturate when a large "
        f"step moves a layer's inputs far from 0, and their gradients vanish; BN puts each "
        f"layer's input back to mean 0 and variance 1 at every step, which keeps the sigmoids "
        f"in their steep part and makes the step's effect on the next layer independent of "
        f"the weights' scale. The figure shows each seed.")
    return Result(["lr"] + [f"{name} test acc" for name in nets.values()], rows, answer,
                  {f"{m} lr {lr}": s.to_dict() for (m, lr), s in spreads.items()},
                  _plot_sweep(spreads, nets))


def _rates(rates: list[float]) -> str:
    return ", ".join(map(str, rates)) if rates else "none of the rates"


def _plot_sweep(spreads: dict[tuple[str, float], Spread], nets: dict[str, str]) -> Any:
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for i, (m, name) in enumerate(nets.items()):
            meds = [spreads[(m, lr)].median or 0.0 for lr in LEARNING_RATES]
            ax.plot(LEARNING_RATES, meds, "-o", color=f"C{i}", label=f"{name} (median)")
            for lr in LEARNING_RATES:
                pts = [v if v is not None else 0.0 for v in spreads[(m, lr)].values]
                ax.scatter([lr] * len(pts), pts, color=f"C{i}", s=8, alpha=0.5)
        ax.axhline(TRAINS, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel(f"learning rate (SGD, constant, {EPOCHS} epochs)")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=8)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot


#: exercise 3's variants: name -> the registered lenet_bn's variant arguments
PLACEMENTS = {"before the sigmoid (the chapter)": {}, "after the sigmoid": {"after": True},
              "conv layers only": {"norm": ("conv",)}, "dense layers only": {"norm": ("dense",)}}


@register_exercise("bn-placement", "batch-norm", 3, "Insert batch normalization elsewhere in "
                   "LeNet: after the activation, only in the conv layers, only in the dense "
                   "layers. Observe and analyse.", minutes=5.9, trains=True)
def bn_placement(opts: Options) -> Result:
    spreads, rows = {}, []
    chapter = next(iter(PLACEMENTS))
    for name, kw in PLACEMENTS.items():
        spreads[name] = spread(opts, "lenet-bn", "fast", lambda kw=kw: _lenet(**kw), name)
        rows.append([name, trainable(_lenet(**kw)), str(spreads[name])])
    lines = [compare(spreads[name], spreads[chapter], name, "the chapter's")
             for name in list(PLACEMENTS)[1:]]
    answer = (
        f"Trained with {FAST}. " + " ".join(lines) + "\n\nBefore the sigmoid, BN decides where "
        "on the sigmoid each unit works (gamma and beta move it between the near-linear middle "
        "and the saturated ends), which is the chapter's reason for placing it there. After "
        "the sigmoid it normalises values in (0, 1) for the next layer instead: the next "
        "layer's input is still centred, which is what speeds training. BN only in the "
        "conv layers leaves the two sigmoid dense layers unnormalised; BN only in the dense "
        "layers leaves the convs' inputs unnormalised, but the first conv sees pixels in "
        "[0, 1] anyway.")
    return Result(["where BN goes", "parameters", "test acc (median, range)"], rows, answer,
                  {name: s.to_dict() for name, s in spreads.items()}, plot_spreads(spreads))


@register_exercise("bn-frozen", "batch-norm", 4, "Do not learn gamma and beta "
                   "(grad_req='null'). Observe and analyse.", minutes=2.7, trains=True)
def bn_frozen(opts: Options) -> Result:
    learned = spread(opts, "lenet-bn", "fast", _lenet, "learned gamma, beta")
    frozen = spread(opts, "lenet-bn", "fast", lambda: freeze_gamma_beta(_lenet()),
                    "gamma 1, beta 0")
    rows = [["learned (the chapter)", trainable(_lenet()), str(learned)],
            ["frozen: gamma 1, beta 0", trainable(freeze_gamma_beta(_lenet())),
             str(frozen)]]
    answer = (
        f"Trained with {FAST}: {compare(frozen, learned, 'frozen', 'learned')}\n\nFrozen, every "
        f"sigmoid's input has mean 0 and variance 1 over the batch, where the sigmoid is "
        f"nearly linear (its slope stays between 0.20 and 0.25 for inputs within one standard "
        f"deviation), so each unit works mostly where it is nearly linear and cannot choose to "
        f"saturate or to shift its threshold; the next layer's weights can still rescale its "
        f"output. The seeds above say what that costs in a run this short. gamma and beta "
        f"are how BN gives the layer back what normalising took away: with them it can even "
        f"undo the normalisation (gamma = sigma, beta = mu). They cost "
        f"{rows[0][1] - rows[1][1]:,} parameters.")
    return Result(["gamma, beta", "trainable parameters", "test acc (median, range)"], rows,
                  answer, {"learned": learned.to_dict(), "frozen": frozen.to_dict()},
                  plot_spreads({"learned": learned, "frozen": frozen}))


@register_exercise("bn-global-stats", "batch-norm", 5, "Train with the global moving "
                   "statistics (use_global_stats=True). What happens, and why?", minutes=4.4,
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
        f"The option is for a trained network (fine-tuning with small batches), whose moving "
        f"statistics are already right.")
    return Result(["BN in training uses", "test acc (median, range)"], rows, answer,
                  {"batch": batch.to_dict(), "global": moving.to_dict(),
                   "plain": plain.to_dict()},
                  plot_spreads({"batch stats": batch, "use_global_stats": moving,
                              "no BN": plain}))
