"""Exercises 6-8 (ResNet): the paper's depths, the bottleneck block, the
pre-activation block. Counts come from ``summary`` (traced, not estimated) or
the registry's, which the tests hold to the traced ones. Accuracies come from
networks that are not degenerate at 28x28 (the small-input stem), each
variant at its own learning rate, over 5 seeds by default."""
from __future__ import annotations

import statistics
from typing import Any, Callable

from mxnet.gluon import nn

from ..blocks import Bottleneck, PreActResidual, Residual
from ..hybrid import HybridSequential
from ..models import RESNET_SPECS, resnet
from ..summary import summary
from .registry import Options, Result, register_exercise
from .report import Spread, compare, millions, plot_spreads, verdict
from .trials import budget, caveat, chosen, tuned

__all__ = ["PAPER_GMACS", "SHORT", "LRS", "small_resnet", "imagenet_counts", "block_counts"]

#: the ResNet paper's Table 1, "FLOPs" (multiply-adds) at 224x224, x10^9
PAPER_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
#: ResNet trainings in the exercises: resnet18-small's fast recipe (3 epochs) on
#: a 6,000-image subset (three networks' 5 seeds and 3-4 tuning runs in 15 minutes),
#: and the rates each variant chooses from
SHORT = {"subset": 6_000}
LRS = (0.025, 0.05, 0.1)
SHORT_TEXT = ("resnet18-small's fast recipe (Nesterov SGD, a linear decay, 3 epochs) on the "
              f"first {SHORT['subset']:,} training images, each network at the best of the "
              f"rates {', '.join(map(str, LRS))} on a tuning seed (one step further when the "
              "best is at an end)")
STEM_TEXT = ("the small-input stem (one 3x3 conv of stride 2, no max pool; half the channels), "
             "so that the four stages see 14, 7, 4 and 2 pixels a side at 28x28; the chapter's "
             "7x7 stem and max pool would leave stage 3 at 2x2 and stage 4 at 1x1, where a 3x3 "
             "conv sees mostly padding (at 96x96 the chapter's stages see 24, 12, 6 and 3)")


def small_resnet(depth: int, **kwargs: Any) -> Callable[[], Any]:
    """A builder of ResNet-``depth`` as ``resnet18-small``: the chapter's
    blocks, the 3x3 stride-2 stem, half the channels, 28x28."""
    return lambda: resnet(depth, 10, thumbnail=True, width=0.5, stem_strides=2, **kwargs)


def _trained(opts: Options, build: Callable[[], Any], label: str,
             seconds: list[float] | None = None,
             tuning: dict[str, Any] | None = None) -> tuple[float, dict[float, Spread], Spread]:
    """The tuned runs of ``build`` as :func:`tuned` returns them; each run's median
    epoch time joins ``seconds`` and the tuning seed's accuracy by rate goes to
    ``tuning[label]``."""
    def time_it(trained: Any) -> None:
        if seconds is not None:
            seconds.append(statistics.median(e["time"] for e in trained.history.epochs))
    best, tries, s = tuned(opts, LRS, "resnet18-small", "fast", build, label,
                           inspect=time_it, **SHORT)
    if tuning is not None:
        tuning[label] = {str(lr): t.values[0] for lr, t in tries.items()}
    return best, tries, s


def imagenet_counts(net: Any) -> tuple[int, int]:
    """(parameters, mult-adds) of ``net`` on one 3-channel 224x224 image."""
    s = summary(net, (1, 3, 224, 224), print_fn=None)
    return s.total_params, s.total_macs


@register_exercise("resnet-depths", "resnet", 6, "The ResNet paper's Table 1 versions (18 to "
                   "152): parameters and mult-adds, and ResNet-34 against ResNet-18 on "
                   "Fashion-MNIST.", minutes=13.0, trains=True)
def resnet_depths(opts: Options) -> Result:
    rows, gap = [], {}
    for depth in RESNET_SPECS:
        # the paper's design (no conv bias, BN on the projection), 1000 classes
        params, macs = imagenet_counts(resnet(depth, 1000, conv_bias=False, shortcut_bn=True))
        here = summary(small_resnet(depth)(), (1, 1, 28, 28), print_fn=None).total_params
        gap[depth] = abs(macs / 1e9 / PAPER_GMACS[depth] - 1)
        rows.append([f"ResNet-{depth}", RESNET_SPECS[depth][0].__name__, here,
                     millions(params), f"{macs / 1e9:.2f} G", f"{PAPER_GMACS[depth]} G"])
    times: dict[int, list[float]] = {18: [], 34: []}
    tuning: dict[str, Any] = {}
    runs = {d: _trained(opts, small_resnet(d), f"ResNet-{d}", times[d], tuning) for d in times}
    accs = {d: s for d, (_, _, s) in runs.items()}
    won = verdict(accs[34], accs[18]).better
    depth_pays = {1: "Here the extra 16 layers pay even in a run this short.",
                  0: "In a run this short, on 28x28 images of ten classes, the extra 16 layers "
                     "show no gain: the paper's gain is on ImageNet (Table 2: top-1 error 27.9% "
                     "against 25.0% for ResNet-18 and 34) after about 120 epochs.",
                  -1: "In a run this short the deeper network is worse: its extra layers have "
                      "not yet paid for themselves."}[won] if len(opts.seed_list) > 1 else ""
    ratio = statistics.median(times[34]) / statistics.median(times[18])
    macs = {d: summary(small_resnet(d)(), (1, 1, 28, 28), print_fn=None).total_macs
            for d in times}
    answer = (
        f"The first column counts the networks trained here (1 channel, 10 classes, the "
        f"chapter's blocks with conv biases, the small-input stem, half width); the "
        f"others the paper's design for ImageNet (3 channels, 1000 classes, no conv bias), "
        f"with mult-adds at 224x224 beside the paper's Table 1. ResNet-18 and 34 agree with "
        f"the paper to {gap[18]:.0%} and {gap[34]:.0%}; the bottleneck ResNets count "
        f"{min(gap[d] for d in (50, 101, 152)):.0%} to {max(gap[d] for d in (50, 101, 152)):.0%}"
        f" more, because their stride sits in the 3x3 conv (as in torchvision, whose counts "
        f"these equal: tested, and GluonCV's v1b) where the paper puts it in the first 1x1. "
        f"ResNet-50 has 16 more layers than ResNet-34 and about its mult-adds: its bottleneck "
        f"blocks (exercise 7).\n\n"
        f"On Fashion-MNIST, with {STEM_TEXT}; trained with {SHORT_TEXT} (ResNet-18 chose lr "
        f"{chosen(*runs[18][:2])}, ResNet-34 lr {chosen(*runs[34][:2])}): "
        f"{compare(accs[34], accs[18], 'ResNet-34', 'ResNet-18')} "
        f"{depth_pays + ' ' if depth_pays else ''}ResNet-34 took "
        f"{ratio:.1f}x ResNet-18's training time per epoch here (medians over their runs); "
        f"its mult-adds at 28x28 are {macs[34] / macs[18]:.1f}x ResNet-18's."
        f"{caveat([r[:2] for r in runs.values()])}")
    return Result(["network", "block", "parameters, trained build", "parameters, ImageNet build",
                   "mult-adds at 224", "the paper's"], rows, answer,
                  {**{f"resnet{d}": s.to_dict() for d, s in accs.items()},
                   "lr": {f"resnet{d}": lr for d, (lr, _, _) in runs.items()},
                   "epoch_seconds": times, "tuning_seed_acc": tuning},
                  plot_spreads({f"ResNet-{d}, lr {runs[d][0]}": s for d, s in accs.items()},
                               _title(opts)))


def _title(opts: Options) -> str:
    return budget(opts, f"small-input stem, half width, 28x28; 3 epochs of "
                        f"{SHORT['subset']:,} images, each at its tuned lr")


def block_counts(block: nn.HybridBlock, channels: int, side: int = 56) -> tuple[int, int]:
    """(parameters, mult-adds) of one block on a ``channels`` x ``side`` x ``side`` input."""
    net = HybridSequential()
    net.add(block)
    s = summary(net, (1, channels, side, side), print_fn=None)
    return s.total_params, s.total_macs


#: exercise 7's blocks, as in the paper's Figure 5: (name, block, input channels, 3x3 width)
BLOCKS = (("basic, 64 channels (ResNet-34, stage 1)", lambda: Residual(64, conv_bias=False), 64, 64),
          ("bottleneck, 256 channels (ResNet-50, stage 1)", lambda: Bottleneck(256, conv_bias=False),
           256, 64),
          ("basic, 256 channels", lambda: Residual(256, conv_bias=False), 256, 256))


@register_exercise("bottleneck", "resnet", 7, "The bottleneck block: parameters and mult-adds "
                   "of a basic block against a bottleneck block, and why.", minutes=0.02)
def bottleneck(opts: Options) -> Result:
    rows = []
    for name, build, channels, width in BLOCKS:
        params, macs = block_counts(build(), channels)
        rows.append([name, f"{channels} -> {channels}", width, params, f"{macs / 1e6:.0f} M"])
    basic64, neck, basic256 = (r[3] for r in rows)
    answer = (
        f"Counted on a 56x56 input (the first stage at 224x224), without conv biases as in "
        f"the paper. A 3x3 conv costs 9 x c_in x c_out; the bottleneck's first 1x1 conv cuts "
        f"256 channels to 64, the 3x3 works at 64, and the last 1x1 goes back to 256. So a "
        f"bottleneck block of 256 channels has {neck:,} parameters, about a basic block of 64 "
        f"channels ({basic64:,}), and {basic256 / neck:.0f}x fewer than a basic block of 256 "
        f"({basic256:,}). He et al. 2016 (\"Deep residual learning\", section 4.1, "
        f"\"Deeper bottleneck architectures\") replace each basic block of ResNet-34 by a "
        f"bottleneck block for this reason: ResNet-50 is 50 layers deep and 4x as wide between "
        f"blocks for about the mult-adds of ResNet-34 (Table 1: {PAPER_GMACS[50]} G against "
        f"{PAPER_GMACS[34]} G). ResNet-101 and ResNet-152 spend the saving on depth and cost "
        f"more: {PAPER_GMACS[101]} G and {PAPER_GMACS[152]} G, still less than VGG-16/19 "
        f"(15.3/19.6 G, the paper says).")
    return Result(["block", "channels in -> out", "3x3 conv width", "parameters",
                   "mult-adds at 56x56"], rows, answer, {"params": [r[3] for r in rows]})


#: exercise 8's variants: name -> the builder's extra arguments (after small_resnet's)
PREACT = {"the chapter's (v1)": {},
          "pre-activation (v2)": {"block": PreActResidual},
          "v2 without the closing BN, ReLU": {"block": PreActResidual, "head_norm": False}}


@register_exercise("resnet18-v2", "resnet", 8, "The later ResNet's \"BN, activation, conv\" "
                   "(pre-activation) residual block: compare it with the chapter's ResNet-18.",
                   minutes=14.0, trains=True)
def resnet18_v2(opts: Options) -> Result:
    tuning: dict[str, Any] = {}
    runs = {name: _trained(opts, small_resnet(18, **kw), name, tuning=tuning)
            for name, kw in PREACT.items()}
    v1, v2, bare = (s for _, _, s in runs.values())
    params = {name: summary(small_resnet(18, **kw)(), (1, 1, 28, 28), print_fn=None).total_params
              for name, kw in PREACT.items()}
    rows = [[name, params[name], chosen(lr, tries), str(s)]
            for name, (lr, tries, s) in runs.items()]
    n = len(opts.seed_list)
    effect = {1: "it helps", -1: "it hurts", 0: f"no effect that {n} seed(s) can detect"}
    why = (f"So, of the two changes: the blocks (v2 without the closing BN-ReLU against v1): "
           f"{effect[verdict(bare, v1).better]}; the closing BN-ReLU (v2 against v2 without "
           f"it): {effect[verdict(v2, bare).better]}.") if n > 1 else ""
    answer = (
        f"`PreActResidual` (d2lnets/blocks.py) and `resnet18-v2` (the registry) follow He et "
        f"al. 2016, \"Identity mappings in deep residual networks\" (Figure 4e, \"full "
        f"pre-activation\"): each branch is \"BN, ReLU, conv\" twice and the sum is not passed "
        f"through a ReLU. The paper puts one activation after conv1 and an extra one after "
        f"the last unit's sum (its section on the usage of activation functions); here the "
        f"stem is the conv alone, so the first block's BN and ReLU are that first activation "
        f"and no BN, ReLU runs twice (timm's ResNetV2 does the same), and one BN and ReLU "
        f"close the network. That closing BN-ReLU is a second change, so a third network, v2 "
        f"without it, separates the two. All three use {STEM_TEXT}; trained with "
        f"{SHORT_TEXT}.\n\n"
        f"{compare(v2, v1, 'v2', 'v1')} "
        f"{compare(bare, v1, 'v2 without the closing BN-ReLU', 'v1')} "
        f"{compare(v2, bare, 'v2', 'v2 without it')} {why}\n\n"
        f"The paper's argument is about very deep networks (its analysis section: with "
        f"identity shortcuts and no ReLU after the sum, any unit's signal and gradient reach "
        f"any other unchanged; its experiments are at 110 to 1001 layers on CIFAR). An "
        f"18-layer network has no trouble passing its signal either way, so the argument "
        f"alone does not predict a large difference here; the sign tests above say what {n} "
        f"seed(s) of a short run can see.{caveat([r[:2] for r in runs.values()])}")
    return Result(["network", "parameters", "lr chosen", "test acc (median, range)"], rows,
                  answer, {**{name: s.to_dict() for name, (_, _, s) in runs.items()},
                           "lr": {name: lr for name, (lr, _, _) in runs.items()},
                           "tuning_seed_acc": tuning},
                  plot_spreads(dict(zip(("v1 (chapter)", "v2", "v2, no closing BN-ReLU"),
                                        (v1, v2, bare))), _title(opts)))
