"""Exercises 6-8 (ResNet): the paper's depths, the bottleneck block, the
pre-activation block. Counts come from ``summary`` (traced, not estimated) or
the registry's, which the tests hold to the traced ones;
accuracies from the fast recipe on a 10,000-image subset, 2 epochs."""
from __future__ import annotations

from typing import Any

from mxnet.gluon import nn

from ..blocks import Bottleneck, Residual
from ..hybrid import HybridSequential
from ..models import RESNET_SPECS, get_model, model_info, resnet
from ..summary import summary
from .registry import Options, Result, register_exercise
from .report import compare, millions, plot_spreads
from .trials import spread

__all__ = ["PAPER_GMACS", "SHORT", "imagenet_counts", "block_counts"]

#: the ResNet paper's Table 1, "FLOPs" (multiply-adds) at 224x224, x10^9
PAPER_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
#: ResNet trainings in the exercises: the fast recipe, shortened to fit 10 minutes
SHORT = {"subset": 10_000, "epochs": 2}
SHORT_TEXT = ("the fast recipe at 28x28 (Nesterov SGD, lr 0.05), shortened to 2 epochs of a "
              "10,000-image subset so that six runs fit in 10 minutes: compare the rows, not the "
              "figures with a full run's")


def imagenet_counts(net: Any) -> tuple[int, int]:
    """(parameters, mult-adds) of ``net`` on one 3-channel 224x224 image."""
    s = summary(net, (1, 3, 224, 224), print_fn=None)
    return s.total_params, s.total_macs


@register_exercise("resnet-depths", "resnet", 6, "The ResNet paper's Table 1 versions (18 to "
                   "152): parameters and mult-adds, and ResNet-34 against ResNet-18 on "
                   "Fashion-MNIST.", minutes=5.7, trains=True)
def resnet_depths(opts: Options) -> Result:
    rows, gap = [], {}
    for depth in RESNET_SPECS:
        # the paper's design (no conv bias, BN on the projection), 1000 classes
        params, macs = imagenet_counts(resnet(depth, 1000, conv_bias=False, shortcut_bn=True))
        gap[depth] = abs(macs / 1e9 / PAPER_GMACS[depth] - 1)
        rows.append([f"ResNet-{depth}", RESNET_SPECS[depth][0].__name__,
                     model_info(f"resnet{depth}").num_params, millions(params),
                     f"{macs / 1e9:.2f} G", f"{PAPER_GMACS[depth]} G"])
    builds = {18: lambda: resnet(18), 34: lambda: resnet(34)}  # both the chapter's block
    accs = {d: spread(opts, "resnet18", "fast", b, f"ResNet-{d}", **SHORT)
            for d, b in builds.items()}
    deeper_wins = (accs[34].low or 0) > (accs[18].high or 1)
    depth_pays = ("Here the depth pays even in a short run" if deeper_wins else
                  "28x28 images of ten classes do not show the gain that depth brings on "
                  "ImageNet in a run this short")
    answer = (
        f"Parameters are of the registry's networks (1 channel, 10 classes; ResNet-18 is the "
        f"chapter's, with conv biases) and of the paper's design for ImageNet (3 channels, 1000 "
        f"classes, no conv bias); mult-adds of the latter at 224x224, beside the paper's. "
        f"ResNet-18 and 34 agree with the paper to {gap[18]:.0%} and {gap[34]:.0%}; the "
        f"bottleneck ResNets count {min(gap[d] for d in (50, 101, 152)):.0%} to "
        f"{max(gap[d] for d in (50, 101, 152)):.0%} more, because their stride sits in the "
        f"3x3 conv (as in torchvision, whose counts these equal: tested, and GluonCV's v1b) "
        f"where the paper puts it in the first 1x1. ResNet-50 has 16 more layers than "
        f"ResNet-34 and about its mult-adds: its bottleneck blocks (exercise 7).\n\n"
        f"On Fashion-MNIST, with {SHORT_TEXT}: "
        f"{compare(accs[34], accs[18], 'ResNet-34', 'ResNet-18')} {depth_pays}, and ResNet-34 "
        f"costs about twice ResNet-18's time per epoch.")
    return Result(["network", "block", "parameters here", "parameters, ImageNet build",
                   "mult-adds at 224", "the paper's"], rows, answer,
                  {f"resnet{d}": s.to_dict() for d, s in accs.items()},
                  plot_spreads({f"ResNet-{d}": s for d, s in accs.items()}))


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


@register_exercise("resnet18-v2", "resnet", 8, "The later ResNet's \"BN, activation, conv\" "
                   "(pre-activation) residual block: compare it with the chapter's ResNet-18.",
                   minutes=3.5, trains=True)
def resnet18_v2(opts: Options) -> Result:
    v1 = spread(opts, "resnet18", "fast", label="ResNet-18 (chapter)", **SHORT)
    v2 = spread(opts, "resnet18", "fast", lambda: get_model("resnet18-v2"), "ResNet-18 v2",
                **SHORT)
    p1, p2 = (model_info(n).num_params for n in ("resnet18", "resnet18-v2"))
    versus = compare(v2, v1, "pre-activation", "the chapter's")
    early = ("At 18 layers it still learns faster in a run this short: its branches start "
             "from normalised inputs and its sum is not clipped by a ReLU."
             if (v2.low or 0) > (v1.high or 1) else
             "At 18 layers the chapter's block trains as well in a run this short.")
    rows = [["the chapter's: conv, BN, ReLU; ReLU after the sum", p1, str(v1)],
            ["pre-activation: BN, ReLU, conv; nothing after the sum", p2, str(v2)]]
    answer = (
        f"`PreActResidual` (d2lnets/blocks.py) and `resnet18-v2` (the registry) follow He et "
        f"al. 2016, \"Identity mappings in deep residual networks\": each branch is \"BN, "
        f"ReLU, conv\" twice, the sum is not passed through a ReLU, and one BN and ReLU close "
        f"the network; the stem and stages are the chapter's. Trained with {SHORT_TEXT}: "
        f"{versus}\n\nThe paper's gain is in "
        f"very deep networks (1001 layers on CIFAR): the identity path from any block to any "
        f"later one carries the signal and its gradient unchanged. {early}")
    return Result(["block", "parameters", "test acc (median, range)"], rows, answer,
                  {"v1": v1.to_dict(), "v2": v2.to_dict()},
                  plot_spreads({"chapter (v1)": v1, "pre-activation (v2)": v2}))
