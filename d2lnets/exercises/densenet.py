"""Exercises 9-11 (DenseNet): parameters per stage against ResNet-18, the
memory of a training step (with and without MXNet's recomputation), and the
paper's depths. Nothing here trains; memory is measured in fresh processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._mxnet_compat import children_of
from ..blocks import DenseBlock, Residual, Transition
from ..devices import num_gpus
from ..errors import D2lnetsError
from ..models import DENSENET_SPECS, densenet, get_model, model_info
from ..plotting import pyplot, save_figure
from ..summary import summary
from .registry import Options, Result, register_exercise
from .report import millions
from .resnet import imagenet_counts

__all__ = ["stage_params", "step_memory", "TORCHVISION"]

#: torchvision's published ImageNet builds of the same design (parameters, GFLOPS)
TORCHVISION = {121: (7_978_856, 2.83), 169: (14_149_480, 3.36), 201: (20_013_928, 4.29)}


def _stage_kind(layer: Any) -> str | None:
    if isinstance(layer, DenseBlock):
        return "dense block"
    if isinstance(layer, Transition):
        return "transition"
    if any(isinstance(b, Residual) for b in children_of(layer)):
        return "residual stage"
    return None


def stage_params(net: Any, side: int = 96) -> list[tuple[str, int, int]]:
    """(stage, parameters, mult-adds at side x side) per stage of a chapter network;
    the layers before the first stage are the stem, those after the last the head."""
    layers = summary(net, (1, 1, side, side), print_fn=None).layers
    stages: list[tuple[str, int, int]] = []
    counts: dict[str, int] = {}
    for layer, row in zip(net, layers):
        kind = _stage_kind(layer)
        if kind is None:
            name = "head" if counts else "stem"
            if stages and stages[-1][0] == name:
                stages[-1] = (name, stages[-1][1] + row.params, stages[-1][2] + row.macs)
                continue
        else:
            counts[kind] = counts.get(kind, 0) + 1
            name = f"{kind} {counts[kind]}"
        stages.append((name, row.params, row.macs))
    return stages


@register_exercise("densenet-params", "densenet", 9, "Why does DenseNet have fewer parameters "
                   "than ResNet? A per-stage table of the chapter's two networks.", minutes=0.03)
def densenet_params(opts: Options) -> Result:
    nets = {"DenseNet": stage_params(get_model("densenet")),
            "ResNet-18": stage_params(get_model("resnet18"))}
    rows = [[net, stage, params, f"{macs / 1e6:.1f} M"]
            for net, stages in nets.items() for stage, params, macs in stages]
    total = {n: sum(p for _, p, _ in s) for n, s in nets.items()}
    res4 = next(p for s, p, _ in nets["ResNet-18"] if s == "residual stage 4")
    dense4 = next(p for s, p, _ in nets["DenseNet"] if s == "dense block 4")
    answer = (
        f"The chapter's DenseNet has {total['DenseNet']:,} parameters, ResNet-18 "
        f"{total['ResNet-18']:,} ({total['ResNet-18'] / total['DenseNet']:.0f}x), both at "
        f"96x96 as in the chapter. A conv's weights are k x k x c_in x c_out. Every conv of a "
        f"dense block outputs only the growth rate, 32 channels, however many it reads, and "
        f"each transition halves the channels with a 1x1 conv, so the widest conv of the last "
        f"dense block reads at most a few hundred channels and writes 32. ResNet doubles the "
        f"channels at each stage: the 3x3 convs of its last stage map 512 channels to 512, "
        f"2.4 M parameters each, but the first, which maps 256 to 512 (1.2 M). Its last stage "
        f"alone holds {res4:,} parameters, against "
        f"{dense4:,} in DenseNet's last dense block. DenseNet keeps its features by "
        f"concatenating them, where ResNet must carry them through wide convs.")
    return Result(["network", "stage", "parameters", "mult-adds at 96x96"], rows, answer,
                  {n: [list(s) for s in st] for n, st in nets.items()}, _plot_stages(nets))


def _plot_stages(nets: dict[str, list[tuple[str, int, int]]]) -> Any:
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, len(nets), figsize=(9, 3.4), sharex=True)
        for ax, (name, stages) in zip(axes, nets.items()):
            ax.barh([s for s, _, _ in stages][::-1], [p / 1e6 for _, p, _ in stages][::-1])
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("parameters (millions)")
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot


#: two training steps of MODEL (``densenet:L``: the chapter's DenseNet with L layers per
#: block) on BATCH images of SIDE x SIDE in this process, as a hybridized Gluon net or
#: through MXNet's graph executor (``simple_bind``, where MXNET_BACKWARD_DO_MIRROR is
#: implemented); prints the memory before and the peak, in MiB. On a GPU: the device memory
#: MXNet's pooled allocator holds (it keeps what a step allocated), before and after.
_STEP = """
import json, sys
import d2lnets
import mxnet as mx
from mxnet import autograd, gluon, init, nd
model, batch, side, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
name, _, layers = model.partition(":")
net = d2lnets.get_model(name, **({"num_convs_in_dense_blocks": (int(layers),) * 4} if layers else {}))
ctx = mx.gpu(0) if mx.context.num_gpus() else mx.cpu()
net.initialize(init.Xavier(), ctx=ctx)
X, y = nd.random.uniform(shape=(batch, 1, side, side), ctx=ctx), nd.zeros(batch, ctx=ctx)
if how == "symbol":
    out = mx.sym.SoftmaxOutput(net(mx.sym.var("data")), name="softmax")
    exe = out.simple_bind(ctx, data=X.shape, softmax_label=y.shape, grad_req="write")
else:
    net.hybridize()
    net(X[:2]).wait_to_read()
def used():
    if ctx.device_type == "gpu":
        free, total = mx.context.gpu_memory_info(0)
        return (total - free) / 2**20
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
def peak():
    if ctx.device_type == "gpu":
        return used()
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
base = used()
if ctx.device_type == "cpu":  # the peak from here on (VmHWM; ru_maxrss keeps the parent's)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as err:
        sys.exit(f"cannot reset the process's peak memory (/proc/self/clear_refs: {err}): the "
                 f"measurement would be the whole process's peak, not the step's")
loss = gluon.loss.SoftmaxCrossEntropyLoss()
for _ in range(2):
    if how == "symbol":
        exe.forward(is_train=True, data=X, softmax_label=y)
        exe.backward()
    else:
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
    nd.waitall()
print(json.dumps({"base": base, "peak": peak(), "device": ctx.device_type}))
"""


def step_memory(model: str, batch: int, side: int, mirror: bool, how: str = "gluon") -> float:
    """MiB two training steps add to a fresh process (peak less before); ``how``:
    "gluon" (hybridized) or "symbol" (MXNet's graph executor)."""
    env = {**os.environ, "MXNET_BACKWARD_DO_MIRROR": "1" if mirror else "0"}
    r = subprocess.run([sys.executable, "-c", _STEP, model, str(batch), str(side), how],
                       capture_output=True, text=True, env=env, timeout=900)
    if r.returncode:
        raise D2lnetsError(f"the memory measurement of {model} at batch {batch} failed: "
                           f"{(r.stderr.strip().splitlines() or ['no message'])[-1]}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    return round(got["peak"] - got["base"], 1)


def repeated(repeats: int, *args: Any) -> tuple[float, float]:
    """(median, spread) of ``repeats`` measurements of :func:`step_memory`; the
    spread is (largest - smallest) / median, the noise of one figure."""
    values = sorted(step_memory(*args) for _ in range(repeats))
    median = values[(len(values) - 1) // 2]
    return median, (values[-1] - values[0]) / abs(median) if median else 0.0


def memory_verdict(dense: float, res: float, noise: float | None) -> str:
    """Is DenseNet's step memory per image more than ResNet-18's, beyond ``noise``
    (the measurements' relative spread; None when one run per figure could not size it)?
    A figure that is not positive (the extra images added nothing the process's resident
    size shows) cannot answer it, nor can figures of unknown noise."""
    if noise is None:
        return ("cannot tell: one run per figure (--quick) does not size the measurements' "
                "noise; run it without --quick")
    if dense <= 0 or res <= 0:
        return (f"cannot tell: the extra images added no memory these measurements resolve "
                f"(DenseNet {dense:.1f}, ResNet-18 {res:.1f} MiB per image); run it at the "
                f"default sizes, without --quick")
    gap = dense / res - 1
    if abs(gap) <= noise:
        return (f"no: per image, DenseNet's training step takes as much memory as ResNet-18's "
                f"({gap:+.0%}, within the measurements' own spread of {noise:.0%})")
    if gap > 0:
        return f"yes: per image, DenseNet's training step takes {gap:.0%} more than ResNet-18's"
    return f"no: per image, DenseNet's training step takes {-gap:.0%} less than ResNet-18's"


def relative(a: float, b: float) -> str:
    """``a`` against ``b`` as a signed percentage, when ``b`` measured something."""
    return f"{a / b - 1:+.0%}" if b > 0 else "an amount too small to measure"


def quadratic_share(layers: list[int], mib: list[float]) -> float:
    """The share of the largest block's memory that the L^2 term of a least-squares
    fit a + b L + c L^2 carries (0: growth linear in the block's depth)."""
    c2, c1, c0 = np.polyfit(layers, mib, 2)
    top = layers[-1]
    return max(0.0, c2 * top * top) / (c0 + c1 * top + c2 * top * top)


@register_exercise("densenet-memory", "densenet", 10, "Is DenseNet really memory-hungry? Peak "
                   "memory of a training step at 224x224 against ResNet-18, how it grows with "
                   "a dense block's depth, and with MXNet's recomputation "
                   "(MXNET_BACKWARD_DO_MIRROR=1).", minutes=4.1)
def densenet_memory(opts: Options) -> Result:
    side, batches, repeats = (32, (2, 4), 1) if opts.quick else (224, (8, 16, 32), 3)
    nets, ways = ("densenet", "resnet18"), [(h, m) for h in ("gluon", "symbol")
                                            for m in (False, True)]
    grid = {(n, b, h, m): repeated(repeats, n, b, side, m, h) for n in nets for b in batches
            for h, m in ways}
    noise = max(spread for _, spread in grid.values()) if repeats > 1 else None
    rows = [[n, b] + [grid[(n, b, h, m)][0] for h, m in ways] for n in nets for b in batches]
    per = {n: (grid[(n, batches[-1], "gluon", False)][0] - grid[(n, batches[0], "gluon",
                                                                  False)][0])
           / (batches[-1] - batches[0]) for n in nets}
    depths = [2, 4] if opts.quick else [2, 4, 8, 16]
    sweep = [repeated(repeats, f"densenet:{d}", 16, 32 if opts.quick else 96, False)[0]
             for d in depths]
    share = quadratic_share(depths, sweep) if len(depths) > 2 else 0.0
    rows += [[f"densenet, {d} layers per block, 96x96", 16, mib, "", "", ""]
             for d, mib in zip(depths, sweep)]
    big = batches[-1]
    change = {n: relative(grid[(n, big, "symbol", True)][0], grid[(n, big, "symbol", False)][0])
              for n in nets}
    answer = _memory_answer(side, per, noise, repeats, depths, sweep, share, change, big)
    return Result(["network", "batch"] + [f"{h}{', mirror' if m else ''} MiB" for h, m in ways],
                  rows, answer, {"grid": {" ".join(map(str, k)): v for k, v in grid.items()},
                                 "depths": depths, "sweep": sweep, "noise": noise},
                  _plot_memory(grid, nets, batches, ways, depths, sweep))


def _memory_answer(side: int, per: dict, noise: float | None, repeats: int,
                   depths: list[int], sweep: list[float], share: float, change: dict,
                   big: int) -> str:
    verdict = memory_verdict(per["densenet"], per["resnet18"], noise)
    params = {n: model_info(n).num_params for n in per}
    return (
        f"**{verdict[0].upper() + verdict[1:]}**, "
        + ("at the chapter's sizes. " if side == 224 else "at a toy size. ")
        + f"The figures are the MiB that two training steps (forward, loss, backward) add to "
        f"a fresh process at {side}x{side}: its peak resident memory less its memory before "
        f"the first step, "
        + (f"the median of {repeats} runs; the same run repeated differs by up to {noise:.0%}, "
           f"so smaller differences say nothing. " if noise is not None else
           "one run each. ")
        + f"Per extra image (hybridized Gluon): DenseNet "
        f"{per['densenet']:.1f} MiB, ResNet-18 {per['resnet18']:.1f} MiB, though DenseNet has "
        f"{params['resnet18'] / params['densenet']:.0f}x fewer parameters: a step's memory is "
        f"the layers' outputs kept for the backward pass, not the weights.\n\n"
        f"Where DenseNet's memory does grow faster is with the depth of a dense block "
        f"(Huang et al. 2017; Pleiss et al. 2017, \"Memory-efficient implementation of "
        f"DenseNets\"): each layer's concatenation is a new tensor holding every feature "
        f"before it, and the batch normalization that reads it keeps it for the backward "
        f"pass, so a block of L layers keeps about L c0 + k L^2 / 2 channels of maps. The "
        f"sweep over layers per block ({'-'.join(map(str, depths))}, batch 16 at 96x96) "
        f"measures {', '.join(f'{m:.0f}' for m in sweep)} MiB; in a least-squares fit "
        f"a + b L + c L^2 the L^2 term carries {share:.0%} of the deepest block's memory. "
        f"\n\n"
        f"MXNet's recomputation (`MXNET_BACKWARD_DO_MIRROR=1`) lives in the graph executor "
        f"of the 1.x line (`src/executor/graph_executor.cc`, `InitFullGraph`: its "
        f"`need_mirror` recomputes every node in the backward pass but Dropout, Convolution, "
        f"FullyConnected, Concat, SoftmaxOutput and BatchNorm); a hybridized Gluon net runs "
        f"through CachedOp, which builds its backward graph with no mirror function, so the "
        f"variable does nothing there (`gluon` columns). Through the executor (`symbol` "
        f"columns, `simple_bind`) it changes DenseNet's step memory by "
        f"{change['densenet']} and ResNet-18's by {change['resnet18']} at batch "
        f"{big}. It saves DenseNet nothing: its concatenations and their batch "
        f"normalizations, where its memory is, are never recomputed, only the ReLUs and "
        f"poolings. Why the executor's plan grows for ResNet-18 is not taken apart here.\n\n"
        + ("Measured on the GPU: the device memory MXNet's pooled allocator holds after the "
           "steps less before them (the pool keeps what a step allocated)." if num_gpus() else
           "The exercise asks about GPU memory. This is a CPU measurement (no GPU here; with "
           "one, the same command measures the GPU memory MXNet's allocator holds): it counts "
           "the same tensors a GPU step keeps, but not cuDNN's workspaces, and the CPU "
           "allocator returns and reuses memory differently from MXNet's GPU pool."))


def _plot_memory(grid: dict, nets: tuple[str, ...], batches: tuple[int, ...], ways: list,
                 depths: list[int], sweep: list[float]) -> Any:
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
        for i, n in enumerate(nets):
            for j, (h, m) in enumerate(ways):
                ax.plot(batches, [grid[(n, b, h, m)][0] for b in batches],
                        ["-o", "--x", "-s", ":^"][j], color=f"C{i}",
                        label=f"{n} {h}{' mirror' if m else ''}")
        ax.set_xlabel("batch size")
        ax.set_ylabel("MiB of a training step")
        ax.set_title("at 224x224, median of the repeats", fontsize=9)
        ax.legend(fontsize=6)
        ax2.plot(depths, sweep, "-o", color="C0")
        ax2.set_xlabel("layers per dense block")
        ax2.set_ylabel("MiB of a training step")
        ax2.set_title("DenseNet, batch 16 at 96x96", fontsize=9)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot


def densenet_bc_counts(init: int, growth: int, blocks: tuple[int, ...], classes: int = 1000,
                       side: int = 224) -> tuple[int, int]:
    """(parameters, mult-adds) of an ImageNet DenseNet-BC by formula, layer by layer:
    a dense layer on c channels is BN(c), a 1x1 conv to 4k, BN(4k), a 3x3 conv to k;
    a transition BN(c) and a 1x1 conv to c/2, then a 2x2 pool; no conv bias. The
    counts of an implementation without the builder (torchvision's agree)."""
    params, s = 49 * 3 * init + 2 * init, side // 2
    macs, s, c = 49 * 3 * init * s * s, s // 2, init
    for i, layers in enumerate(blocks):
        for _ in range(layers):
            params += 2 * c + 4 * growth * c + 8 * growth + 36 * growth * growth
            macs += (4 * growth * c + 36 * growth * growth) * s * s
            c += growth
        if i < len(blocks) - 1:
            params += 2 * c + c * (c // 2)
            macs, c, s = macs + c * (c // 2) * s * s, c // 2, s // 2
    return params + 2 * c + c * classes + classes, macs + c * classes


@register_exercise("densenet-depths", "densenet", 11, "The DenseNet paper's Table 1 versions "
                   "(121 to 264): parameters and mult-adds.", minutes=0.05)
def densenet_depths(opts: Options) -> Result:
    rows, counts = [], {}
    for depth, (init, growth, blocks) in DENSENET_SPECS.items():
        params, macs = imagenet_counts(densenet(1000, init, growth, blocks, conv_bias=False,
                                                bottleneck=4))
        by_formula = densenet_bc_counts(init, growth, blocks)
        tv_params, tv_gflops = TORCHVISION.get(depth, (None, None))
        counts[depth] = (params, macs)
        rows.append([f"DenseNet-{depth}", "-".join(map(str, blocks)),
                     model_info(f"densenet{depth}").num_params, params, f"{macs / 1e9:.2f} G",
                     "same" if by_formula == (params, macs) else f"{by_formula}",
                     millions(tv_params) if tv_params else "not published",
                     f"{tv_gflops} G" if tv_gflops else "-"])
    (p0, m0), (p1, m1) = counts[121], counts[201]
    p264, m264 = counts[264]
    answer = (
        "DenseNet-BC as in Huang et al. 2017, Table 1 (growth rate k = 32; each layer of a "
        "dense block is a 1x1 conv to 4k channels and a 3x3 conv to k; transitions halve the "
        "channels). The paper's table gives the layers, not the counts; its text puts "
        "DenseNet-201 at 20 M parameters. The ImageNet builds here (3 channels, 1000 classes) "
        "have exactly the parameters and mult-adds of the formula counted layer by layer "
        "(`densenet_bc_counts`), and of torchvision's published figures for 121 to 201, an "
        "independent implementation; torchvision has no DenseNet-264. Going from 121 to 201 "
        "layers adds layers to the third and fourth blocks only, where the maps are 14x14 and "
        f"7x7: the parameters grow {p1 / p0:.1f}x and the mult-adds only {m1 / m0:.1f}x. "
        f"DenseNet-264 (6-12-64-48) has {millions(p264)} parameters and {m264 / 1e9:.2f} G "
        f"mult-adds, {p264 / p0:.1f}x and {m264 / m0:.1f}x DenseNet-121's.")
    return Result(["network", "layers per block", "parameters here", "parameters, ImageNet build",
                   "mult-adds at 224", "by the formula", "torchvision's parameters",
                   "torchvision's GFLOPS"], rows, answer)
