"""d2lnets: the batch normalisation, ResNet and DenseNet chapter of
*Dive into Deep Learning* (MXNet edition) as a fast, tested Gluon package.

``import d2lnets as d2l`` runs the chapter's code as written for ``d2lzh``.
Importing it sets MXNet's OpenMP threads (see ``threads``) before MXNet loads,
and fails with the fix in its message when MXNet cannot work here (not
installed, numpy too new, not 1.9.x). The ``d2lnets`` command goes on then,
so that ``d2lnets doctor`` can say so among everything it checks and every
other command can say it without a traceback.
"""
import signal as _signal
import sys as _sys
from pathlib import Path as _Path

# the `d2lnets` command (`python -m d2lnets` imports this while argv[0] is still "-m")
_COMMAND = _sys.argv[0] == "-m" or _Path(_sys.argv[0]).name == "d2lnets"


def _stopped(signum: int, frame: object) -> None:
    """A stop signal where no run is being trained: say so, exit 128 + signal."""
    try:
        _sys.stderr.write(f"d2lnets: stopped by {_signal.Signals(signum).name} (no run was being "
                          f"trained: nothing to save)\n")
    except OSError:
        pass
    _sys.exit(128 + signum)


if _COMMAND:  # while MXNet loads: no traceback, no core dump (a command sets its own later)
    for _name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"):
        if hasattr(_signal, _name):
            _signal.signal(getattr(_signal, _name), _stopped)

from .errors import EnvironmentProblem as _EnvironmentProblem  # noqa: E402
from .threads import configure_cpu_threads as _configure_cpu_threads  # noqa: E402

#: why MXNet cannot be used here (only ever set in the ``d2lnets`` command)
MXNET_PROBLEM = None
try:
    _configure_cpu_threads()
    from . import _mxnet_compat

    _mxnet_compat.check()
except _EnvironmentProblem as _err:
    if not _COMMAND:
        raise
    MXNET_PROBLEM = _err

    def __getattr__(name: str) -> None:
        here = _Path(__file__).parent
        if (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file():
            raise AttributeError(name)  # a submodule: `from . import x` then imports it
        raise MXNET_PROBLEM

if MXNET_PROBLEM is None:
    from .blocks import (BatchNorm, Bottleneck, DenseBlock, Residual, Transition,  # noqa: E402
                         batch_norm, conv_block, gluon_batch_norm, resnet_block, transition_block)
    from .checkpoint import latest_checkpoint, load_checkpoint  # noqa: E402
    from .data import (FashionMNISTIter, get_fashion_mnist_labels,  # noqa: E402
                       load_data_fashion_mnist)
    from .devices import parse_ctx, try_all_gpus, try_gpu  # noqa: E402
    from .errors import (CheckpointError, D2lnetsError, DataError, DivergedError,  # noqa: E402
                         NonFiniteLossError, TrainingInterrupted, UnknownModelError, UsageError)
    from .hybrid import HybridBlock, HybridSequential  # noqa: E402
    from .models import (Network, densenet, densenet121, densenet169, densenet201, densenet264,  # noqa: E402
                         get_model, lenet_bn, lenet_bn_scratch, list_models, model_info, resnet,
                         resnet18, resnet34, resnet50, resnet101, resnet152)
    from .plotting import (plot_history, plot_time_to_accuracy, set_figsize,  # noqa: E402
                           show_fashion_mnist, use_svg_display)
    from . import recipes  # noqa: E402
    from .config import RunConfig  # noqa: E402
    from .summary import summary  # noqa: E402
    from .training import (History, evaluate_accuracy, fit, set_seed, train,  # noqa: E402
                           train_ch5, train_recipe)

__version__ = "0.2.0"

__all__ = [
    "BatchNorm", "Bottleneck", "DenseBlock", "HybridBlock", "HybridSequential", "Network",
    "Residual", "Transition", "batch_norm", "conv_block", "densenet", "densenet121",
    "densenet169", "densenet201", "densenet264", "get_model", "gluon_batch_norm", "lenet_bn",
    "lenet_bn_scratch", "list_models", "model_info", "parse_ctx", "resnet", "resnet18",
    "resnet34", "resnet50", "resnet101", "resnet152", "resnet_block", "summary",
    "transition_block", "try_all_gpus", "try_gpu",
    "FashionMNISTIter", "get_fashion_mnist_labels", "load_data_fashion_mnist",
    "plot_history", "plot_time_to_accuracy", "recipes", "train_recipe", "set_figsize",
    "show_fashion_mnist", "use_svg_display",
    "History", "RunConfig", "evaluate_accuracy", "fit", "set_seed", "train", "train_ch5",
    "latest_checkpoint", "load_checkpoint",
    "D2lnetsError", "UsageError", "UnknownModelError", "DataError", "CheckpointError",
    "DivergedError", "NonFiniteLossError", "TrainingInterrupted",
]
