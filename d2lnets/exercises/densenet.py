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

from ..blocks import DenseBlock, Residual, Transition
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
    if any(isinstance(b, Residual) for b in getattr(layer, "_children", {}).values()):
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
        f"channels at each stage and every 3x3 conv of its last stage maps 512 channels to "
        f"512: 2.4 M parameters each. Its last stage alone holds {res4:,} parameters, against "
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


#: two training steps of MODEL on BATCH images of SIDE x SIDE in this process, as a
#: hybridized Gluon net or through MXNet's graph executor (``simple_bind``, where
#: MXNET_BACKWARD_DO_MIRROR is implemented); prints the resident memory before and the peak
_STEP = """
import json, sys
import d2lnets
import mxnet as mx
from mxnet import autograd, gluon, init, nd
model, batch, side, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
net = d2lnets.get_model(model)
net.initialize(init.Xavier())
X, y = nd.random.uniform(shape=(batch, 1, side, side)), nd.zeros(batch)
if how == "symbol":
    out = mx.sym.SoftmaxOutput(net(mx.sym.var("data")), name="softmax")
    exe = out.simple_bind(mx.cpu(), data=X.shape, softmax_label=y.shape, grad_req="write")
else:
    net.hybridize()
    net(X[:2]).wait_to_read()
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key))
base = status("VmRSS")
try:  # the peak from here on (VmHWM is this process's own; ru_maxrss keeps the parent's)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
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
peak = status("VmHWM")
print(json.dumps({"base": base / 1024, "peak": peak / 1024}))
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


@register_exercise("densenet-memory", "densenet", 10, "Is DenseNet really memory-hungry? Peak "
                   "memory of a training step at 224x224 against ResNet-18, and with MXNet's "
                   "recomputation (MXNET_BACKWARD_DO_MIRROR=1).", minutes=1.5)
def densenet_memory(opts: Options) -> Result:
    side, batches = (32, (2, 4)) if opts.quick else (224, (8, 16, 32))
    nets, ways = ("densenet", "resnet18"), [(h, m) for h in ("gluon", "symbol")
                                            for m in (False, True)]
    grid = {(n, b, h, m): step_memory(n, b, side, m, h) for n in nets for b in batches
            for h, m in ways}
    rows = [[n, b] + [grid[(n, b, h, m)] for h, m in ways] for n in nets for b in batches]
    per = {n: (grid[(n, batches[-1], "gluon", False)] - grid[(n, batches[0], "gluon", False)])
           / (batches[-1] - batches[0]) for n in nets}
    big = batches[-1]
    change = {n: grid[(n, big, "symbol", True)] / grid[(n, big, "symbol", False)] - 1
              for n in nets}
    verdict = "saves memory" if min(change.values()) < -0.05 else "saves no memory here"
    params = {n: model_info(n).num_params for n in nets}
    answer = (
        f"MiB that two training steps (forward, loss, backward) add to a fresh process at "
        f"{side}x{side}: its peak resident memory less its memory before the first step. Per "
        f"extra image (hybridized Gluon): DenseNet {per['densenet']:.1f} MiB, ResNet-18 "
        f"{per['resnet18']:.1f} MiB, though DenseNet has "
        f"{params['resnet18'] / params['densenet']:.0f}x fewer parameters: a step keeps every "
        f"layer's output for the backward pass, and each concatenation in a dense block is a "
        f"new tensor that copies all the features before it, so a block's memory grows with "
        f"the square of its depth where ResNet's additions keep it linear. The "
        f"memory-efficient DenseNet (Pleiss et al. 2017) shares the concatenations' storage "
        f"and recomputes them in the backward pass. MXNet's recomputation "
        f"(`MXNET_BACKWARD_DO_MIRROR=1`) lives in its graph executor: through it (`symbol` "
        f"columns, `simple_bind`) it changes DenseNet's step memory by "
        f"{change['densenet']:+.0%} and ResNet-18's by {change['resnet18']:+.0%} at batch {big}: "
        f"on this CPU build it {verdict}. A hybridized Gluon net runs through CachedOp "
        f"instead; the `gluon` columns show what the variable does there.")
    return Result(["network", "batch"] + [f"{h}{', mirror' if m else ''} MiB" for h, m in ways],
                  rows, answer, {" ".join(map(str, k)): v for k, v in grid.items()},
                  _plot_memory(grid, nets, batches, ways))


def _plot_memory(grid: dict, nets: tuple[str, ...], batches: tuple[int, ...],
                 ways: list) -> Any:
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for i, n in enumerate(nets):
            for j, (h, m) in enumerate(ways):
                ax.plot(batches, [grid[(n, b, h, m)] for b in batches], ["-o", "--x", "-s",
                        ":^"][j], color=f"C{i}", label=f"{n} {h}{' mirror' if m else ''}")
        ax.set_xlabel("batch size")
        ax.set_ylabel("MiB of a training step")
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, path, dpi=120)
    return plot


@register_exercise("densenet-depths", "densenet", 11, "The DenseNet paper's Table 1 versions "
                   "(121 to 201): parameters and mult-adds.", minutes=0.03)
def densenet_depths(opts: Options) -> Result:
    rows, counts = [], []
    for depth, (init, growth, blocks) in DENSENET_SPECS.items():
        params, macs = imagenet_counts(densenet(1000, init, growth, blocks, conv_bias=False,
                                                bottleneck=4))
        tv_params, tv_gflops = TORCHVISION[depth]
        counts.append((params, macs))
        rows.append([f"DenseNet-{depth}", "-".join(map(str, blocks)),
                     model_info(f"densenet{depth}").num_params, params, f"{macs / 1e9:.2f} G",
                     millions(tv_params), f"{tv_gflops} G"])
    (p0, m0), (p1, m1) = counts[0], counts[-1]
    answer = (
        "DenseNet-BC as in the paper's Table 1 (growth rate 32, a 1x1 bottleneck of 4 x 32 "
        "channels before each 3x3 conv, transitions halving the channels). The paper's table "
        "gives the layers, not the counts; its text puts DenseNet-201 at 20 M parameters. The "
        "ImageNet builds here (3 channels, 1000 classes) have exactly the parameters of "
        "torchvision's, an independent implementation, and the same mult-adds. Going from 121 "
        "to 201 layers adds convs to the third and fourth blocks only, where the maps are "
        f"14x14 and 7x7: the parameters grow {p1 / p0:.1f}x and the mult-adds only "
        f"{m1 / m0:.1f}x.")
    return Result(["network", "convs per block", "parameters here", "parameters, ImageNet build",
                   "mult-adds at 224", "torchvision's parameters", "torchvision's GFLOPS"],
                  rows, answer)
