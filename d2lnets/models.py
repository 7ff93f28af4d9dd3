"""The chapter's networks, the deeper family, and a registry over all of them.

``lenet_bn``, ``resnet18`` and ``densenet`` are the book's architectures,
layer for layer (so the book's shape walk ``for layer in net: X = layer(X)``
prints the same lines). ``resnet34`` ... ``resnet152`` and ``densenet121`` ...
``densenet201`` come from one spec table each, with the standard design
(no conv bias, BN on the projection shortcut) by default.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Callable

from mxnet import autograd, nd
from mxnet.base import MXNetError
from mxnet.gluon import nn

from .blocks import (
    BatchNorm,
    Bottleneck,
    DenseBlock,
    NormLayer,
    PreActResidual,
    Residual,
    Transition,
    gluon_batch_norm,
    resnet_block,
)
from .errors import UnknownModelError, UsageError, mxnet_reason
from .hybrid import HybridSequential
from .registry import Registry, key_of

__all__ = [
    "Network", "ModelInfo", "register_model", "get_model", "list_models", "model_info",
    "MODELS", "FASHION_SIDE", "BOOK_RESIZE",
    "lenet", "lenet_bn", "lenet_bn_scratch", "resnet18", "resnet18_small", "resnet18_v2",
    "resnet34", "resnet50", "resnet101", "resnet152", "densenet", "densenet121", "densenet169",
    "densenet201", "densenet264", "RESNET_SPECS", "DENSENET_SPECS",
]


class Network(HybridSequential):
    """A model: a HybridSequential that checks what it is fed.

    ``input_shape`` is the (channels, height, width) the model is built for;
    it is used in error messages and as the default for ``summary``.
    """

    def __init__(self, input_shape: tuple[int, int, int], **kwargs: Any):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)

    def _expected(self) -> str:
        c, h, w = self.input_shape
        c = self._channels() or c
        return f"(batch, {c}, height, width), e.g. (256, {c}, {h}, {w})"

    def _channels(self) -> int:
        first = self[0] if len(self) else None
        shape = first.weight.shape if isinstance(first, nn.Conv2D) else None
        # an unknown size is 0 in MXNet's legacy mode and -1 under npx.set_np()
        return int(shape[1]) if shape and len(shape) == 4 and shape[1] > 0 else 0

    def forward(self, x: Any, *args: Any) -> Any:
        if isinstance(x, nd.NDArray):
            if x.ndim != 4:
                raise UsageError(f"{self.name} expects 4-D input {self._expected()}; got shape "
                                 f"{x.shape}. A batch of 1-channel images needs X.reshape((-1, 1, H, W)).")
            c = self._channels()
            if c and x.shape[1] != c:
                raise UsageError(f"{self.name} was built for {c}-channel input "
                                 f"{self._expected()}; got shape {x.shape}")
            if x.shape[0] == 1 and autograd.is_training():
                raise UsageError(
                    f"{self.name}: batch size 1 in training mode. Batch normalisation in training "
                    "normalises with the batch's own statistics; with one sample the variance of "
                    "a fully connected layer is 0, its output is just beta and no gradient flows. "
                    "Train with batches of 2 or more, or predict outside autograd.record().")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # MXNet prints on a shape error
                return super().forward(x, *args)
        except (MXNetError, ValueError) as err:
            # a size the layers cannot take fails in MXNet's shape check, or (first
            # call, deferred initialisation) in Gluon's ValueError that wraps it
            text = str(err)
            if isinstance(err, UsageError) or ("shape" not in text.lower() and "Shape" not in text):
                raise
            raise UsageError(f"{self.name} cannot take input of shape "
                             f"{getattr(x, 'shape', '?')}: {self._why_not()}. In MXNet's words: "
                             f"{mxnet_reason(err)}") from None

    def _why_not(self) -> str:
        """Why an input failed: parameters made for another side, or too small an image."""
        shapes = [p.shape for p in self.collect_params().values()]
        if shapes and all(s and all(d > 0 for d in s) for s in shapes):
            return (f"it expects {self._expected()}, and its parameters were made for images "
                    f"of another size (loaded from a run or a file at another --resize?): give "
                    f"it images of that size")
        return (f"it expects {self._expected()}, and its layers shrink an image this small to "
                f"nothing (use a larger --resize)")


#: Fashion-MNIST's image side, and the side the chapter resizes to for ResNet and DenseNet
FASHION_SIDE, BOOK_RESIZE = 28, 96


@dataclass(frozen=True)
class ModelInfo:
    """A registered builder with everything else that is said about the model:
    the book's training defaults (``lr``, ``resize``), the parameter count of
    the default build on 1-channel input with 10 classes (``num_params``) and
    the smallest input tests may feed it (``test_side``)."""

    name: str
    builder: Callable[..., Network]
    lr: float
    resize: int | None
    num_params: int
    test_side: int
    doc: str = ""

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) the model is trained on in the book."""
        side = self.resize or FASHION_SIDE
        return (1, side, side)



#: every model, by its command-line name (``lenet-bn``)
MODELS: Registry[ModelInfo] = Registry("model", UnknownModelError,
                                       "d2lnets.list_models() lists them")


def register_model(*, lr: float, num_params: int, resize: int | None = BOOK_RESIZE,
                   test_side: int = 32, name: str | None = None) -> Callable:
    """Decorator: add a builder to :data:`MODELS` under its (or the given) name;
    a name registered twice is refused."""
    def wrap(fn: Callable[..., Network]) -> Callable[..., Network]:
        key = key_of(name or fn.__name__)
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        MODELS.add(key, ModelInfo(key, fn, lr, resize, num_params, test_side, doc))
        return fn
    return wrap


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(MODELS.names())


def model_info(name: str) -> ModelInfo:
    """The registry entry for ``name``; :class:`UnknownModelError` (a ``KeyError``)
    suggests close names."""
    return MODELS.get(name)


def get_model(name: str, **kwargs: Any) -> Network:
    """Build a registered model by name, e.g. ``get_model('resnet18', num_classes=10)``."""
    return model_info(name).builder(**kwargs)


# --------------------------------------------------------------------- LeNet
@register_model(lr=0.9, resize=None, num_params=44_426, test_side=FASHION_SIDE)
def lenet(num_classes: int = 10) -> Network:
    """The LeNet section's network: sigmoid, no batch normalisation (its lr 0.9)."""
    net = Network((1, FASHION_SIDE, FASHION_SIDE), prefix="lenet_")
    with net.name_scope():
        net.add(nn.Conv2D(6, kernel_size=5, activation="sigmoid"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(16, kernel_size=5, activation="sigmoid"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Dense(120, activation="sigmoid"), nn.Dense(84, activation="sigmoid"),
                nn.Dense(num_classes))
    return net


@register_model(lr=1.0, resize=None, num_params=44_878, test_side=FASHION_SIDE)
def lenet_bn(num_classes: int = 10, scratch: bool = False, *,
             norm: tuple[str, ...] = ("conv", "dense"), after: bool = False, bias: bool = True,
             global_stats: bool = False, act: str = "sigmoid") -> Network:
    """The chapter's LeNet with batch normalisation after every conv and dense layer but the last.

    The exercises' variants: ``norm`` names the layers that get one ("conv",
    "dense"); ``after`` puts it after the activation; ``bias=False`` drops the bias
    of a layer that feeds one; ``global_stats`` normalises with the moving
    statistics in training too; ``act`` swaps the sigmoid (for "tanh", say);
    ``scratch`` uses the chapter's own BatchNorm."""
    if scratch and global_stats:
        raise UsageError("global_stats is Gluon's nn.BatchNorm option: build with scratch=False")

    def unit(layer: type, size: int, kind: str, dims: int, **kw: Any) -> list:
        core = layer(size, use_bias=bias or kind not in norm or after, **kw)
        if kind not in norm:
            return [core, nn.Activation(act)]
        bn = BatchNorm(size, num_dims=dims) if scratch else \
            nn.BatchNorm(use_global_stats=global_stats)
        return [core, nn.Activation(act), bn] if after else [core, bn, nn.Activation(act)]

    net = Network((1, FASHION_SIDE, FASHION_SIDE), prefix="lenetbn_")
    with net.name_scope():
        net.add(*unit(nn.Conv2D, 6, "conv", 4, kernel_size=5),
                nn.MaxPool2D(pool_size=2, strides=2),
                *unit(nn.Conv2D, 16, "conv", 4, kernel_size=5),
                nn.MaxPool2D(pool_size=2, strides=2),
                *unit(nn.Dense, 120, "dense", 2), *unit(nn.Dense, 84, "dense", 2),
                nn.Dense(num_classes))
    return net


@register_model(lr=1.0, resize=None, num_params=44_878, test_side=FASHION_SIDE)
def lenet_bn_scratch(num_classes: int = 10) -> Network:
    """LeNet-BN with the chapter's from-scratch BatchNorm."""
    return lenet_bn(num_classes, scratch=True)


# -------------------------------------------------------------------- ResNet
#: depth -> (block, residuals per stage, channels per stage)
RESNET_SPECS: dict[int, tuple[type, tuple[int, ...], tuple[int, ...]]] = {
    18: (Residual, (2, 2, 2, 2), (64, 128, 256, 512)),
    34: (Residual, (3, 4, 6, 3), (64, 128, 256, 512)),
    50: (Bottleneck, (3, 4, 6, 3), (256, 512, 1024, 2048)),
    101: (Bottleneck, (3, 4, 23, 3), (256, 512, 1024, 2048)),
    152: (Bottleneck, (3, 8, 36, 3), (256, 512, 1024, 2048)),
}


def resnet(depth: int, num_classes: int = 10, thumbnail: bool = False,
           norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
           shortcut_bn: bool = False, last_gamma: bool = False, width: float = 1.0,
           stem_strides: int = 1, block: type | None = None, head_norm: bool = True) -> Network:
    """A ResNet from :data:`RESNET_SPECS`. ``thumbnail`` swaps the 7x7/2 stem
    and max pool for one 3x3 conv of ``stem_strides``, for 28x28 input
    (d2lzh's ``resnet18``); ``width`` scales every stage's channels;
    ``block=PreActResidual`` makes the pre-activation ResNet (v2): its stem
    is the conv (and pool) alone, since the first block starts with BN and
    ReLU, and ``head_norm`` closes it with one BN and ReLU (exercise 8 drops them)."""
    if depth not in RESNET_SPECS:
        raise UsageError(f"no ResNet of depth {depth}; choose from {sorted(RESNET_SPECS)}")
    if not 0 < width <= 4:
        raise UsageError(f"width must be in (0, 4]; got {width}")
    spec_block, counts, channels = RESNET_SPECS[depth]
    block = block or spec_block
    preact = block is PreActResidual
    channels = tuple(max(8, int(round(c * width))) for c in channels)
    side = FASHION_SIDE if thumbnail else BOOK_RESIZE
    net = Network((1, side, side), prefix=f"resnet{depth}{'v2' if preact else ''}_")
    kw: dict[str, Any] = dict(block=block, norm_layer=norm_layer, conv_bias=conv_bias)
    if not preact:
        kw.update(shortcut_bn=shortcut_bn, last_gamma=last_gamma)
    with net.name_scope():
        stem = channels[0] // 4 if block is Bottleneck else channels[0]
        # the pre-activation blocks normalise their own input: no BN, ReLU in the stem
        act = [] if preact else [norm_layer(stem, 4), nn.Activation("relu")]
        if thumbnail:
            net.add(nn.Conv2D(stem, kernel_size=3, strides=stem_strides, padding=1,
                              use_bias=conv_bias), *act)
        else:
            net.add(nn.Conv2D(stem, kernel_size=7, strides=2, padding=3, use_bias=conv_bias),
                    *act, nn.MaxPool2D(pool_size=3, strides=2, padding=1))
        for i, (n, c) in enumerate(zip(counts, channels)):
            net.add(resnet_block(c, n, first_block=(i == 0), **kw))
        if preact and head_norm:  # the last block's sum is not yet normalised
            net.add(norm_layer(channels[-1], 4), nn.Activation("relu"))
        net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


@register_model(lr=0.05, num_params=11_178_378)
def resnet18(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """The chapter's ResNet-18 (conv biases, 1x1 projection without BN, as the book)."""
    return resnet(18, num_classes, thumbnail, **kwargs)


@register_model(lr=0.05, resize=None, num_params=2_798_538, test_side=FASHION_SIDE)
def resnet18_small(num_classes: int = 10, **kwargs: Any) -> Network:
    """ResNet-18 for 28x28 input: d2lzh's 3x3 stem at stride 2, half the channels
    (the chapter's residual blocks and stages; the fast recipe's network)."""
    kwargs.setdefault("width", 0.5)
    kwargs.setdefault("stem_strides", 2)
    return resnet(18, num_classes, True, **kwargs)


# test side 64: at 32 its last BN sees 1x1 maps of 2 images, and the hybridized
# and imperative outputs differ by 3e-3 where the batch variance is near 0
@register_model(lr=0.05, num_params=11_178_378, test_side=64)
def resnet18_v2(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """ResNet-18 with the later pre-activation block ("BN, ReLU, conv"), else the chapter's."""
    return resnet(18, num_classes, thumbnail, block=PreActResidual, **kwargs)


def _standard(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("conv_bias", False)
    kwargs.setdefault("shortcut_bn", True)
    return kwargs


@register_model(lr=0.05, num_params=21_283_530)
def resnet34(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """ResNet-34: basic blocks (3, 4, 6, 3)."""
    return resnet(34, num_classes, thumbnail, **_standard(kwargs))


@register_model(lr=0.05, num_params=23_522_250)
def resnet50(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """ResNet-50: bottleneck blocks (3, 4, 6, 3)."""
    return resnet(50, num_classes, thumbnail, **_standard(kwargs))


@register_model(lr=0.05, num_params=42_514_378)
def resnet101(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """ResNet-101: bottleneck blocks (3, 4, 23, 3)."""
    return resnet(101, num_classes, thumbnail, **_standard(kwargs))


@register_model(lr=0.05, num_params=58_158_026)
def resnet152(num_classes: int = 10, thumbnail: bool = False, **kwargs: Any) -> Network:
    """ResNet-152: bottleneck blocks (3, 8, 36, 3)."""
    return resnet(152, num_classes, thumbnail, **_standard(kwargs))


# ------------------------------------------------------------------ DenseNet
#: depth -> (initial channels, growth rate, layers per dense block): the DenseNet
#: paper's Table 1 (each layer a 1x1 and a 3x3 conv)
DENSENET_SPECS: dict[int, tuple[int, int, tuple[int, ...]]] = {
    121: (64, 32, (6, 12, 24, 16)),
    169: (64, 32, (6, 12, 32, 32)),
    201: (64, 32, (6, 12, 48, 32)),
    264: (64, 32, (6, 12, 64, 48)),
}


@register_model(lr=0.1, num_params=758_226)
def densenet(num_classes: int = 10, num_channels: int = 64, growth_rate: int = 32,
             num_convs_in_dense_blocks: tuple[int, ...] = (4, 4, 4, 4),
             norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
             bottleneck: int = 0, compression: float = 0.5) -> Network:
    """The chapter's DenseNet: 4 dense blocks of 4 convs, growth 32, transitions halving channels."""
    net = Network((1, BOOK_RESIZE, BOOK_RESIZE), prefix="densenet_")
    with net.name_scope():
        net.add(nn.Conv2D(num_channels, kernel_size=7, strides=2, padding=3, use_bias=conv_bias),
                norm_layer(num_channels, 4), nn.Activation("relu"),
                nn.MaxPool2D(pool_size=3, strides=2, padding=1))
        for i, num_convs in enumerate(num_convs_in_dense_blocks):
            net.add(DenseBlock(num_convs, growth_rate, in_channels=num_channels,
                               norm_layer=norm_layer, conv_bias=conv_bias, bottleneck=bottleneck))
            c_in = num_channels + num_convs * growth_rate
            num_channels = c_in
            if i != len(num_convs_in_dense_blocks) - 1:
                num_channels = int(c_in * compression)
                net.add(Transition(num_channels, in_channels=c_in, norm_layer=norm_layer,
                                   conv_bias=conv_bias))
        net.add(norm_layer(num_channels, 4), nn.Activation("relu"), nn.GlobalAvgPool2D(),
                nn.Dense(num_classes))
    return net


def _densenet_b(depth: int, num_classes: int, kwargs: dict[str, Any]) -> Network:
    init, growth, blocks = DENSENET_SPECS[depth]
    kwargs.setdefault("conv_bias", False)
    kwargs.setdefault("bottleneck", 4)
    return densenet(num_classes, init, growth, blocks, **kwargs)


@register_model(lr=0.1, num_params=6_957_834)
def densenet121(num_classes: int = 10, **kwargs: Any) -> Network:
    """DenseNet-121 (DenseNet-BC: 1x1 bottleneck, 0.5 compression)."""
    return _densenet_b(121, num_classes, kwargs)


@register_model(lr=0.1, num_params=12_494_858)
def densenet169(num_classes: int = 10, **kwargs: Any) -> Network:
    """DenseNet-169 (DenseNet-BC)."""
    return _densenet_b(169, num_classes, kwargs)


@register_model(lr=0.1, num_params=18_105_866)
def densenet201(num_classes: int = 10, **kwargs: Any) -> Network:
    """DenseNet-201 (DenseNet-BC)."""
    return _densenet_b(201, num_classes, kwargs)


@register_model(lr=0.1, num_params=30_669_322)
def densenet264(num_classes: int = 10, **kwargs: Any) -> Network:
    """DenseNet-264 (DenseNet-BC), the deepest of the paper's Table 1."""
    return _densenet_b(264, num_classes, kwargs)
