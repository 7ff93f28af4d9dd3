"""Every name the batch-norm, ResNet and DenseNet sections of the later MXNet
editions reach, for ``from d2lnets import mxnet as d2l``:

- d2l-zh v2 / d2l-en 0.17 (package ``d2l==0.17.6``): ``load_data_fashion_mnist``,
  ``train_ch6`` and what it calls, the plotting helpers, the array aliases;
- d2l-en 1.0 (``d2l==1.0.3``): ``HyperParameters``, ``add_to_class``,
  ``ProgressBoard``, ``Module``, ``DataModule``, ``Classifier``, ``Trainer``,
  ``FashionMNIST``, ``Residual``, ``ResNeXtBlock``, the device helpers.

A name both editions have is one definition. Signatures and figures are d2l's;
what differs is in docs/editions.md. The arrays follow MXNet's mode: under
``npx.set_np()`` (the books' first cell) they are ``mxnet.np`` arrays.
"""
import mxnet as _mx
from mxnet import np as _np

from .blocks import Residual, ResNeXtBlock
from .devices import num_gpus, try_all_gpus, try_gpu
from .editions.ch6 import Accumulator, Timer, accuracy, evaluate_accuracy_gpu, train_ch6
from .editions.classes import Classifier, Module, Trainer
from .editions.data import DataModule, FashionMNIST, load_data_fashion_mnist
from .editions.hparams import HyperParameters, add_to_class
from .editions.live import Animator, ProgressBoard, set_axes
from .plotting import pyplot as _pyplot
from .plotting import set_figsize, use_svg_display

__all__ = [
    "Accumulator", "Animator", "Classifier", "DataModule", "FashionMNIST", "HyperParameters",
    "Module", "ProgressBoard", "ResNeXtBlock", "Residual", "Timer", "Trainer", "accuracy",
    "add_to_class", "cpu", "evaluate_accuracy_gpu", "gpu", "load_data_fashion_mnist",
    "num_gpus", "plt", "set_axes", "set_figsize", "train_ch6", "try_all_gpus", "try_gpu",
    "use_svg_display",
]

plt = _pyplot()


def cpu():
    """The CPU device."""
    return _mx.cpu()


def gpu(i=0):
    """GPU ``i`` (whether or not it exists)."""
    return _mx.gpu(i)


# the array aliases d2l defines (config.ini), on MXNet's numpy arrays
size = lambda a: a.size  # noqa: E731
transpose = lambda a: a.T  # noqa: E731
numpy = lambda x, *args, **kwargs: x.asnumpy(*args, **kwargs)  # noqa: E731
reshape = lambda x, *args, **kwargs: x.reshape(*args, **kwargs)  # noqa: E731
to = lambda x, *args, **kwargs: x.as_in_context(*args, **kwargs)  # noqa: E731
reduce_sum = lambda x, *args, **kwargs: x.sum(*args, **kwargs)  # noqa: E731
reduce_mean = lambda x, *args, **kwargs: x.mean(*args, **kwargs)  # noqa: E731
argmax = lambda x, *args, **kwargs: x.argmax(*args, **kwargs)  # noqa: E731
astype = lambda x, *args, **kwargs: x.astype(*args, **kwargs)  # noqa: E731
swapaxes = lambda x, *args, **kwargs: x.swapaxes(*args, **kwargs)  # noqa: E731
repeat = lambda x, *args, **kwargs: x.repeat(*args, **kwargs)  # noqa: E731
ones, zeros, ones_like, zeros_like = _np.ones, _np.zeros, _np.ones_like, _np.zeros_like
arange, meshgrid, linspace, eye = _np.arange, _np.meshgrid, _np.linspace, _np.eye
sin, sinh, cos, cosh, tanh = _np.sin, _np.sinh, _np.cos, _np.cosh, _np.tanh
exp, log, abs, matmul = _np.exp, _np.log, _np.abs, _np.dot
tensor, concat, stack, expand_dims = _np.array, _np.concatenate, _np.stack, _np.expand_dims
normal, rand, randn = _np.random.normal, _np.random.rand, _np.random.randn
int32, float32 = _np.int32, _np.float32
