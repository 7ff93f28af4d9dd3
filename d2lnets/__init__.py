"""d2lnets: the batch normalisation, ResNet and DenseNet chapter of
*Dive into Deep Learning* (MXNet edition) as a fast, tested Gluon package.

``import d2lnets as d2l`` runs the chapter's code as written for ``d2lzh``.
"""
from .devices import configure_cpu_threads as _configure_cpu_threads

# Before MXNet loads: one OpenMP thread per usable core (unless OMP_NUM_THREADS is set).
_configure_cpu_threads()

from .blocks import (BatchNorm, Bottleneck, DenseBlock, Residual, Transition,  # noqa: E402
                     batch_norm, conv_block, gluon_batch_norm, resnet_block, transition_block)
from .devices import parse_ctx, try_all_gpus, try_gpu  # noqa: E402
from .hybrid import HybridBlock, HybridSequential  # noqa: E402
from .models import (Network, densenet, densenet121, densenet169, densenet201,  # noqa: E402
                     get_model, lenet_bn, lenet_bn_scratch, list_models, model_info, resnet,
                     resnet18, resnet34, resnet50, resnet101, resnet152)
from .summary import summary  # noqa: E402
from .data import (DataError, FashionMNISTIter, get_fashion_mnist_labels,  # noqa: E402
                   load_data_fashion_mnist)
from .plotting import plot_history, set_figsize, show_fashion_mnist, use_svg_display  # noqa: E402
from .training import (History, NonFiniteLossError, TrainingInterrupted,  # noqa: E402
                       evaluate_accuracy, set_seed, train, train_ch5)
from .checkpoint import CheckpointError, latest_checkpoint, load_checkpoint  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BatchNorm", "Bottleneck", "DenseBlock", "HybridBlock", "HybridSequential", "Network",
    "Residual", "Transition", "batch_norm", "conv_block", "densenet", "densenet121",
    "densenet169", "densenet201", "get_model", "gluon_batch_norm", "lenet_bn",
    "lenet_bn_scratch", "list_models", "model_info", "parse_ctx", "resnet", "resnet18",
    "resnet34", "resnet50", "resnet101", "resnet152", "resnet_block", "summary",
    "transition_block", "try_all_gpus", "try_gpu",
    "DataError", "FashionMNISTIter", "get_fashion_mnist_labels", "load_data_fashion_mnist",
    "plot_history", "set_figsize", "show_fashion_mnist", "use_svg_display",
    "History", "NonFiniteLossError", "TrainingInterrupted", "evaluate_accuracy", "set_seed",
    "train", "train_ch5", "CheckpointError", "latest_checkpoint", "load_checkpoint",
]
