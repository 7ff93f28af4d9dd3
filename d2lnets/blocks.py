"""The chapter's building blocks: batch normalisation, residual and dense blocks.

Names and signatures follow the book (``d2lzh``), so ``import d2lnets as d2l``
runs the chapter's code. Every block is a HybridBlock; the extra keyword
arguments (``norm_layer``, ``conv_bias``, ``shortcut_bn``, ``last_gamma``)
let the deeper standard models reuse them.
"""
from __future__ import annotations

from typing import Any, Callable

from mxnet import autograd, nd
from mxnet.gluon import nn
from mxnet.util import is_np_array

from .errors import UsageError
from .hybrid import HybridBlock, HybridSequential, request_state_update

__all__ = [
    "batch_norm", "BatchNorm", "gluon_batch_norm", "NormLayer",
    "Residual", "Bottleneck", "ResNeXtBlock", "PreActResidual", "resnet_block",
    "conv_block", "DenseBlock", "Transition", "transition_block",
]

#: ``norm_layer(num_features, num_dims, **kwargs)`` builds a normalisation layer.
NormLayer = Callable[..., nn.HybridBlock]


def _relu(F: Any, X: Any) -> Any:
    """ReLU in either array mode: the legacy ``F.relu``, or ``F.npx.relu`` under
    ``npx.set_np()`` (the later editions' mode), where legacy operators refuse."""
    return F.npx.relu(X) if is_np_array() else F.relu(X)


def _broadcast_shape(ndim: int) -> tuple[int, ...]:
    return (1, -1) if ndim == 2 else (1, -1, 1, 1)


def _check_ndim(ndim: int) -> None:
    if ndim not in (2, 4):
        raise UsageError(
            f"batch normalisation takes 2-D input (batch, features) after a Dense layer or "
            f"4-D input (batch, channels, height, width) after a Conv2D layer; got {ndim}-D input")


def _normalize(F: Any, X: Any, gamma: Any, beta: Any, moving_mean: Any, moving_var: Any,
               eps: float, ndim: int, training: bool) -> tuple[Any, Any, Any]:
    """The chapter's computation, for NDArray or Symbol (``F``).

    Returns ``(Y, mean, var)``; ``mean`` and ``var`` are the batch statistics
    (broadcast shape) in training mode and None in prediction mode.
    """
    shape = _broadcast_shape(ndim)
    gamma, beta = F.reshape(gamma, shape=shape), F.reshape(beta, shape=shape)
    if training:
        mean = _channel_mean(F, X, ndim)
        centred = F.broadcast_sub(X, mean)
        # biased variance, as the chapter (and Gluon) normalise with it
        var = _channel_mean(F, F.square(centred), ndim)
        batch = (mean, var)
    else:
        mean, var = F.reshape(moving_mean, shape=shape), F.reshape(moving_var, shape=shape)
        centred = F.broadcast_sub(X, mean)
        batch = (None, None)
    X_hat = F.broadcast_div(centred, F.sqrt(var + eps))
    Y = F.broadcast_add(F.broadcast_mul(gamma, X_hat), beta)
    return Y, batch[0], batch[1]


def _channel_mean(F: Any, X: Any, ndim: int) -> Any:
    """Mean over every axis but the channel axis 1, kept as (1, C) or (1, C, 1, 1).

    For 4-D input it is the chapter's ``X.mean(axis=(0, 2, 3), keepdims=True)``,
    computed as two reductions over trailing axes: MXNet's reduction over axes
    (0, 2, 3) at once is several times slower on the CPU.
    """
    if ndim == 2:
        return F.mean(X, axis=0, keepdims=True)
    per_sample = F.mean(F.reshape(X, shape=(0, 0, -1)), axis=2)  # (N, C)
    return F.reshape(F.mean(per_sample, axis=0), shape=(1, -1, 1, 1))


def batch_norm(X: nd.NDArray, gamma: nd.NDArray, beta: nd.NDArray, moving_mean: nd.NDArray,
               moving_var: nd.NDArray, eps: float, momentum: float
               ) -> tuple[nd.NDArray, nd.NDArray, nd.NDArray]:
    """The chapter's from-scratch batch normalisation.

    In training mode (``autograd.is_training()``) it normalises with the batch
    mean and biased variance (over axis 0 for 2-D input, per channel over
    (0, 2, 3) for 4-D input) and returns moving statistics updated as
    ``momentum * moving + (1 - momentum) * batch``; in prediction mode it uses
    the moving statistics. Parameters may have shape ``(C,)`` or the book's
    broadcast shape ``(1, C)`` / ``(1, C, 1, 1)``; the returned moving
    statistics keep the shape they came in.
    """
    _check_ndim(X.ndim)
    training = autograd.is_training()
    Y, mean, var = _normalize(nd, X, gamma, beta, moving_mean, moving_var, eps, X.ndim, training)
    if training:
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean.reshape(moving_mean.shape)
        moving_var = momentum * moving_var + (1.0 - momentum) * var.reshape(moving_var.shape)
    return Y, moving_mean, moving_var


class BatchNorm(HybridBlock):
    """The chapter's ``BatchNorm`` layer built on :func:`batch_norm`.

    Unlike the book, the moving statistics are Parameters with
    ``grad_req='null'`` (saved with ``save_parameters``, moved with the net's
    context) and the moving variance starts at 1, as in ``nn.BatchNorm``. The
    Parameters carry Gluon's names (``running_mean``, ``running_var``), so
    parameter files load into a net built with ``nn.BatchNorm`` and back;
    ``moving_mean`` / ``moving_var`` are the book's names for them.

    Like every BatchNorm, it uses the batch statistics only inside
    ``autograd.record()`` (training mode). Outside it, it normalises with the
    moving statistics even when you meant to train.
    """

    def __init__(self, num_features: int, num_dims: int, eps: float = 1e-5,
                 momentum: float = 0.9, gamma_initializer: Any = "ones",
                 beta_initializer: Any = "zeros", **kwargs: Any):
        super().__init__(**kwargs)
        _check_ndim(num_dims)
        if int(num_features) <= 0:
            raise UsageError(f"BatchNorm needs num_features > 0 (the number of channels or "
                             f"features it normalises); got {num_features}")
        self.num_features, self.num_dims = int(num_features), num_dims
        self.eps, self.momentum = eps, momentum
        shape = (self.num_features,)
        with self.name_scope():
            self.gamma = self.params.get("gamma", shape=shape, init=gamma_initializer)
            self.beta = self.params.get("beta", shape=shape, init=beta_initializer)
            self.running_mean = self.params.get("running_mean", shape=shape, init="zeros",
                                                grad_req="null", differentiable=False)
            self.running_var = self.params.get("running_var", shape=shape, init="ones",
                                               grad_req="null", differentiable=False)

    @property
    def moving_mean(self) -> Any:
        return self.running_mean

    @property
    def moving_var(self) -> Any:
        return self.running_var

    def hybrid_forward(self, F: Any, X: Any, gamma: Any, beta: Any, running_mean: Any,
                       running_var: Any) -> Any:
        if isinstance(X, nd.NDArray):
            self._check_input(X.shape)
        training = autograd.is_training()
        Y, mean, var = _normalize(F, X, gamma, beta, running_mean, running_var, self.eps,
                                  self.num_dims, training)
        if not training:
            return Y
        m = self.momentum
        new_mean = m * running_mean + (1.0 - m) * F.reshape(F.BlockGrad(mean), shape=(-1,))
        new_var = m * running_var + (1.0 - m) * F.reshape(F.BlockGrad(var), shape=(-1,))
        if F is nd:
            with autograd.pause():
                running_mean[:] = new_mean
                running_var[:] = new_var
        elif not (request_state_update(self.running_mean, new_mean)
                  and request_state_update(self.running_var, new_var)):
            raise RuntimeError(
                "d2lnets.BatchNorm was traced in training mode by a hybridized container that is "
                "not a d2lnets block, which cannot update its moving statistics. Put it in a "
                "d2lnets.HybridSequential (or subclass d2lnets.HybridBlock), or do not hybridize "
                "that container.")
        return Y

    def _check_input(self, shape: tuple[int, ...]) -> None:
        if len(shape) != self.num_dims or shape[1] != self.num_features:
            want = ("(batch, {0})" if self.num_dims == 2 else "(batch, {0}, height, width)")
            raise UsageError(f"{self.name} expects input of shape {want.format(self.num_features)}"
                             f"; got {tuple(shape)}")

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_features={self.num_features}, "
                f"num_dims={self.num_dims}, eps={self.eps}, momentum={self.momentum})")


def gluon_batch_norm(num_features: int, num_dims: int = 4, **kwargs: Any) -> nn.BatchNorm:
    """The default ``norm_layer``: Gluon's fused ``nn.BatchNorm``."""
    return nn.BatchNorm(in_channels=max(int(num_features), 0), **kwargs)


def _conv(channels: int, kernel: int, strides: int = 1, padding: int = 0,
          use_bias: bool = True) -> nn.Conv2D:
    return nn.Conv2D(channels, kernel_size=kernel, strides=strides, padding=padding,
                     use_bias=use_bias)


def _last_norm(norm_layer: NormLayer, channels: int, last_gamma: bool) -> nn.HybridBlock:
    # zero-init the last gamma so that each residual block starts as the identity
    if last_gamma:
        return norm_layer(channels, 4, gamma_initializer="zeros")
    return norm_layer(channels, 4)


class Residual(HybridBlock):
    """The chapter's residual block: two 3x3 convs, BN after each, ReLU; the
    input, through a 1x1 conv when ``use_1x1conv``, is added before the last
    ReLU."""

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
                 shortcut_bn: bool = False, last_gamma: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = _conv(num_channels, 3, strides, 1, conv_bias)
            self.bn1 = norm_layer(num_channels, 4)
            self.conv2 = _conv(num_channels, 3, 1, 1, conv_bias)
            self.bn2 = _last_norm(norm_layer, num_channels, last_gamma)
            self.conv3 = _shortcut(num_channels, strides, use_1x1conv, norm_layer, conv_bias,
                                   shortcut_bn)

    def hybrid_forward(self, F: Any, X: Any) -> Any:
        Y = _relu(F, self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return _relu(F, Y + X)


class Bottleneck(HybridBlock):
    """Residual block of ResNet-50 and deeper: 1x1 (reduce), 3x3 (stride),
    1x1 (expand to ``num_channels``), each followed by BN."""

    expansion = 4

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
                 shortcut_bn: bool = False, last_gamma: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        mid = num_channels // self.expansion
        with self.name_scope():
            self.conv1 = _conv(mid, 1, 1, 0, conv_bias)
            self.bn1 = norm_layer(mid, 4)
            self.conv2 = _conv(mid, 3, strides, 1, conv_bias)
            self.bn2 = norm_layer(mid, 4)
            self.conv3 = _conv(num_channels, 1, 1, 0, conv_bias)
            self.bn3 = _last_norm(norm_layer, num_channels, last_gamma)
            self.shortcut = _shortcut(num_channels, strides, use_1x1conv, norm_layer, conv_bias,
                                      shortcut_bn)

    def hybrid_forward(self, F: Any, X: Any) -> Any:
        Y = _relu(F, self.bn1(self.conv1(X)))
        Y = _relu(F, self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.shortcut is not None:
            X = self.shortcut(X)
        return _relu(F, Y + X)


class ResNeXtBlock(HybridBlock):
    """The 1.0 edition's ResNeXt block: 1x1 conv to ``num_channels * bot_mul``,
    a grouped 3x3 conv (groups of ``groups`` channels each), 1x1 conv back to
    ``num_channels``, BN after each; a 1x1 conv and BN on the shortcut when
    ``use_1x1conv``."""

    def __init__(self, num_channels: int, groups: int, bot_mul: float,
                 use_1x1conv: bool = False, strides: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        mid = int(round(num_channels * bot_mul))
        with self.name_scope():
            self.conv1 = nn.Conv2D(mid, kernel_size=1)
            self.conv2 = nn.Conv2D(mid, kernel_size=3, padding=1, strides=strides,
                                   groups=mid // groups)
            self.conv3 = nn.Conv2D(num_channels, kernel_size=1)
            self.bn1, self.bn2, self.bn3 = nn.BatchNorm(), nn.BatchNorm(), nn.BatchNorm()
            self.conv4 = nn.Conv2D(num_channels, kernel_size=1, strides=strides) \
                if use_1x1conv else None
            self.bn4 = nn.BatchNorm() if use_1x1conv else None

    def hybrid_forward(self, F: Any, X: Any) -> Any:
        Y = _relu(F, self.bn1(self.conv1(X)))
        Y = _relu(F, self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X))
        return _relu(F, Y + X)


class PreActResidual(HybridBlock):
    """The later ResNet's block (He et al. 2016, "Identity mappings"): "BN, ReLU,
    conv" twice, and the input added unchanged, so no ReLU follows the sum.
    The 1x1 projection, when there is one, takes the first BN and ReLU's output."""

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
                 **kwargs: Any):
        super().__init__(**kwargs)
        with self.name_scope():
            self.bn1 = norm_layer(0, 4)
            self.conv1 = _conv(num_channels, 3, strides, 1, conv_bias)
            self.bn2 = norm_layer(num_channels, 4)
            self.conv2 = _conv(num_channels, 3, 1, 1, conv_bias)
            self.conv3 = _conv(num_channels, 1, strides, 0, conv_bias) if use_1x1conv else None

    def hybrid_forward(self, F: Any, X: Any) -> Any:
        A = _relu(F, self.bn1(X))
        Y = self.conv2(_relu(F, self.bn2(self.conv1(A))))
        return Y + (self.conv3(A) if self.conv3 is not None else X)


def _shortcut(channels: int, strides: int, use_1x1conv: bool, norm_layer: NormLayer,
              conv_bias: bool, shortcut_bn: bool) -> nn.HybridBlock | None:
    if not use_1x1conv:
        return None
    conv = _conv(channels, 1, strides, 0, conv_bias)
    if not shortcut_bn:
        return conv
    seq = HybridSequential(prefix="")
    seq.add(conv, norm_layer(channels, 4))
    return seq


def resnet_block(num_channels: int, num_residuals: int, first_block: bool = False,
                 block: type = Residual, **kwargs: Any) -> HybridSequential:
    """The chapter's ResNet stage: ``num_residuals`` blocks; the first halves
    height and width (unless ``first_block``) and changes the channels."""
    blk = HybridSequential()
    with blk.name_scope():
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.add(block(num_channels, use_1x1conv=True, strides=2, **kwargs))
            elif i == 0 and block is Bottleneck:
                # the first bottleneck stage widens 64 -> 256 channels: project
                blk.add(block(num_channels, use_1x1conv=True, **kwargs))
            else:
                blk.add(block(num_channels, **kwargs))
    return blk


def conv_block(num_channels: int, in_channels: int = 0, norm_layer: NormLayer = gluon_batch_norm,
               conv_bias: bool = True, bottleneck: int = 0) -> HybridSequential:
    """The chapter's "BN, ReLU, 3x3 conv". With ``bottleneck=k`` it is
    DenseNet-B's "BN, ReLU, 1x1 conv (k * num_channels), BN, ReLU, 3x3 conv"."""
    blk = HybridSequential()
    with blk.name_scope():
        blk.add(norm_layer(in_channels, 4), nn.Activation("relu"))
        if bottleneck:
            blk.add(_conv(bottleneck * num_channels, 1, use_bias=conv_bias),
                    norm_layer(bottleneck * num_channels, 4), nn.Activation("relu"))
        blk.add(_conv(num_channels, 3, padding=1, use_bias=conv_bias))
    return blk


class DenseBlock(HybridBlock):
    """The chapter's dense block: ``num_convs`` conv blocks of ``num_channels``
    (the growth rate) outputs, each fed the concatenation of all before it."""

    def __init__(self, num_convs: int, num_channels: int, in_channels: int = 0,
                 **conv_kwargs: Any):
        prefix = conv_kwargs.pop("prefix", None)
        params = conv_kwargs.pop("params", None)
        super().__init__(prefix=prefix, params=params)
        self.out_channels = in_channels + num_convs * num_channels if in_channels else 0
        with self.name_scope():
            self.net = HybridSequential()
            for i in range(num_convs):
                c_in = in_channels + i * num_channels if in_channels else 0
                self.net.add(conv_block(num_channels, in_channels=c_in, **conv_kwargs))

    def hybrid_forward(self, F: Any, X: Any) -> Any:
        for blk in self.net:
            Y = blk(X)
            X = F.np.concatenate((X, Y), axis=1) if is_np_array() else F.concat(X, Y, dim=1)
        return X


class Transition(HybridSequential):
    """The chapter's transition layer: BN, ReLU, 1x1 conv to ``num_channels``,
    2x2 average pooling with stride 2 (halves height and width)."""

    def __init__(self, num_channels: int, in_channels: int = 0,
                 norm_layer: NormLayer = gluon_batch_norm, conv_bias: bool = True,
                 **kwargs: Any):
        super().__init__(**kwargs)
        with self.name_scope():
            self.add(norm_layer(in_channels, 4), nn.Activation("relu"),
                     _conv(num_channels, 1, use_bias=conv_bias),
                     nn.AvgPool2D(pool_size=2, strides=2))


#: the book's name for :class:`Transition`
transition_block = Transition
