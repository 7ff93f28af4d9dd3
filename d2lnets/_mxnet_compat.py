"""Every use of MXNet internals in d2lnets, in one place, checked at import.

MXNet 1.9.1 is the last release, so these are frozen, but they are private:
- MXNet reads numpy names that numpy 1.24 and 2.0 removed: the top-level
  ``_d2lnets_numpy_compat`` supplies them while MXNet imports (installed before
  ``import mxnet`` below, and by ``d2lnets-numpy-compat.pth`` at every start);
- :class:`ModeAwareMixin` (the base of ``hybrid.py``'s blocks) overrides four
  private Gluon ``HybridBlock`` methods (:data:`HYBRID_HOOKS`) to keep one
  cached graph per mode, and writes state updates computed in the graph back;
- :func:`children_of`, :func:`optimizer_state`, :func:`set_optimizer_state`
  and :func:`update_hyperparams` read and write Gluon's and the optimizer's
  private fields;
- :func:`set_engine_omp_threads` writes the engine's OpenMP thread cap inside
  libmxnet (the library exports the getter, not the setter);
- :func:`set_caller_omp_threads` calls ``MXSetNumOMPThreads`` through ctypes.

:func:`check` fails loudly, naming what is missing, unless MXNet is 1.9.x with
those hooks, instead of letting d2lnets misbehave on another version.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Any

import _d2lnets_numpy_compat as numpy_compat

from .builds import explain_import_failure
from .errors import EnvironmentProblem, MXNetUnavailable

numpy_compat.install()
try:
    import mxnet as mx
    from mxnet import autograd, symbol
    from mxnet.gluon import Block, HybridBlock, Parameter
except Exception as _err:  # ImportError, or numpy>=1.24's AttributeError inside mxnet
    raise MXNetUnavailable(explain_import_failure(_err)) from _err

__all__ = ["check", "numpy_compat", "children_of", "optimizer_state", "set_optimizer_state",
           "set_engine_omp_threads", "set_caller_omp_threads", "HYBRID_HOOKS", "SUPPORTED",
           "ModeAwareMixin", "request_state_update", "update_hyperparams"]

#: the MXNet release line d2lnets is written against
SUPPORTED = "1.9."
#: private Gluon methods that :class:`ModeAwareMixin` overrides
HYBRID_HOOKS = ("_get_graph", "_build_cache", "_call_cached_op", "_clear_cached_op")
_ENGINE_GET = "_ZN5mxnet6engine6OpenMP3GetEv"
_ENGINE_COUNT = "_ZNK5mxnet6engine6OpenMP28GetRecommendedOMPThreadCountEb"


def check() -> None:
    """Raise :class:`EnvironmentProblem` unless this MXNet has what d2lnets uses."""
    if not mx.__version__.startswith(SUPPORTED):
        raise EnvironmentProblem(
            f"d2lnets needs MXNet {SUPPORTED}x; this is MXNet {mx.__version__}. Install "
            f"mxnet==1.9.1 (or mxnet-cu11x==1.9.1 on a GPU machine): `d2lnets doctor` says which.")
    missing = [h for h in HYBRID_HOOKS if not callable(getattr(HybridBlock, h, None))]
    if missing:
        raise EnvironmentProblem(f"this MXNet build lacks Gluon's {', '.join(missing)}, which "
                                 f"d2lnets' hybridization needs: reinstall mxnet 1.9.1")


def set_caller_omp_threads(n: int) -> None:
    """The OpenMP team size of the calling thread (``MXSetNumOMPThreads``)."""
    mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(int(n)))


def set_engine_omp_threads(n: int) -> bool:
    """Set the thread count MXNet's engine gives its CPU worker threads when they
    start (they start with the first operation on a device); True if it took.

    libmxnet 1.9.1 exports ``OpenMP::Get`` and ``GetRecommendedOMPThreadCount``
    but not the setter: the cap (``omp_thread_max_``) is the int after the
    ``enabled`` flag. The write is verified through the getter and undone if it
    does not read back, so another layout is left alone.
    """
    lib = mx.base._LIB
    try:
        get, count = getattr(lib, _ENGINE_GET), getattr(lib, _ENGINE_COUNT)
    except AttributeError:
        return False
    get.restype = ctypes.c_void_p
    count.argtypes, count.restype = [ctypes.c_void_p, ctypes.c_bool], ctypes.c_int
    engine_omp = get()
    if not engine_omp:
        return False
    # the count is min(the calling thread's OpenMP maximum, omp_thread_max_)
    set_caller_omp_threads(n)
    field = ctypes.c_int.from_address(engine_omp + 4)
    before = field.value
    if count(engine_omp, False) not in (before, n):  # not the layout we know: leave it
        return False
    field.value = n
    if count(engine_omp, False) != n:
        field.value = before
        return False
    return True


def children_of(block: Block) -> list[Block]:
    """A Gluon block's direct children (``Block._children``, a plain dict in 1.9)."""
    return list(block._children.values())


def _updaters(trainer: Any) -> list:
    """The trainer's per-device updaters, after its lazy kvstore set-up."""
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._update_on_kvstore:  # several devices: the local kvstore runs the optimizer
        kv = trainer._kvstore
        if kv is None or "dist" in kv.type or getattr(kv, "_updater", None) is None:
            raise EnvironmentProblem("the optimizer runs on parameter servers: its state "
                                     "cannot be saved here")
        return [kv._updater]
    return trainer._updaters


def optimizer_state(trainer: Any) -> tuple[dict[str, mx.nd.NDArray], dict]:
    """The trainer's optimizer state as plain arrays plus JSON-able data, in
    place of Gluon's pickle (``Trainer.save_states``), which can run code when
    loaded. Array keys are ``u{device}.{index}[.{part}]``."""
    arrays: dict[str, mx.nd.NDArray] = {}
    layout: dict[str, Any] = {}
    for k, updater in enumerate(_updaters(trainer)):
        for idx, state in updater.states.items():
            key = f"u{k}.{idx}"
            if state is None:
                layout[key] = None
            elif isinstance(state, mx.nd.NDArray):
                arrays[key], layout[key] = state, 1
            elif isinstance(state, (list, tuple)) and all(isinstance(s, mx.nd.NDArray) for s in state):
                arrays.update({f"{key}.{j}": s for j, s in enumerate(state)})
                layout[key] = [len(state)]
            else:
                raise EnvironmentProblem(f"optimizer state of type {type(state).__name__} cannot "
                                         f"be stored as arrays")
    opt = trainer._optimizer
    counts = {str(dev): {str(i): int(n) for i, n in c.items()}
              for dev, c in opt._all_index_update_counts.items()}
    return arrays, {"layout": layout, "num_update": int(opt.num_update), "counts": counts}


def set_optimizer_state(trainer: Any, arrays: dict[str, mx.nd.NDArray], meta: dict) -> None:
    """Put back what :func:`optimizer_state` saved (arrays on each updater's device)."""
    updaters = _updaters(trainer)
    for key, kind in meta["layout"].items():
        k, idx = key[1:].split(".", 1)
        updater = updaters[int(k)]
        index = int(idx) if idx.isdigit() else idx
        if kind is None:
            state = None
        elif kind == 1:
            state = arrays[key]
        else:
            state = tuple(arrays[f"{key}.{j}"] for j in range(int(kind[0])))
        updater.states[index] = state
        updater.states_synced[index] = False  # moved to the weight's device on first use
    opt = trainer._optimizer
    opt.num_update = int(meta["num_update"])
    for dev, counts in meta["counts"].items():
        opt._all_index_update_counts[int(dev)] = {int(i) if i.isdigit() else i: int(n)
                                                  for i, n in counts.items()}
    opt._index_update_count = opt._all_index_update_counts[0]


def update_hyperparams(opt: Any, index: Any) -> tuple[float, float]:
    """Count an update of parameter ``index`` and return its learning rate and
    weight decay now, as each of MXNet's optimizers does in its update."""
    opt._update_count(index)
    return opt._get_lr(index), opt._get_wd(index)


# ------------------------------------------------------------ one graph per mode
_local = threading.local()
_CACHE_FIELDS = ("_cached_graph", "_cached_op", "_cached_op_args", "_state_params")


def _collectors() -> list[list[tuple[Parameter, Any]]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def request_state_update(param: Parameter, value: Any) -> bool:
    """Ask the graph being traced to write ``value`` (a Symbol) into ``param``.

    Returns False when no d2lnets block is tracing, i.e. the caller sits inside
    a hybridized container that does not know the protocol.
    """
    stack = _collectors()
    if not stack:
        return False
    stack[-1].append((param, value))
    return True


class _StateWritingOp:
    """Wraps a CachedOp: strips the extra state outputs and stores them."""

    def __init__(self, op: Any, params: list[Parameter]):
        self._op = op
        self._params = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._op, name)

    def __call__(self, *args: Any) -> Any:
        out = self._op(*args)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        n = len(self._params)
        values, outs = outs[-n:], outs[:-n]
        with autograd.pause():
            for param, value in zip(self._params, values):
                value.copyto(param.data(value.context))
        return outs[0] if len(outs) == 1 else outs


class ModeAwareMixin:
    """Keeps one hybridized graph per mode (training / prediction)."""

    def _select_mode(self, training: bool) -> None:
        current = getattr(self, "_graph_mode", None)
        if current == training:
            return
        graphs = self.__dict__.setdefault("_graphs_by_mode", {})
        if current is not None:
            graphs[current] = tuple(getattr(self, f, None) for f in _CACHE_FIELDS) + (
                getattr(self, "_in_format", None), getattr(self, "_out_format", None))
        saved = graphs.get(training)
        if saved is None:
            self._cached_graph, self._cached_op, self._cached_op_args = (), None, []
            self._state_params = []
        else:
            (self._cached_graph, self._cached_op, self._cached_op_args,
             self._state_params, self._in_format, self._out_format) = saved
        self._graph_mode = training

    def _clear_cached_op(self) -> None:
        super()._clear_cached_op()
        self.__dict__["_graphs_by_mode"] = {}
        self._state_params = []
        self._graph_mode = None

    def _get_graph(self, *args: Any) -> Any:
        self._select_mode(autograd.is_training())
        if self._cached_graph:
            return self._cached_graph
        stack = _collectors()
        stack.append([])
        try:
            inputs, out = super()._get_graph(*args)
        finally:
            updates = stack.pop()
        self._state_params = [p for p, _ in updates]
        if updates:
            outputs = [out[i] for i in range(len(out.list_outputs()))]
            out = symbol.Group(outputs + [v for _, v in updates])
            self._cached_graph = inputs, out
        return self._cached_graph

    def _build_cache(self, *args: Any) -> None:
        flags = self._flags
        if self._graph_mode is False:
            # the prediction graph allocates from MXNet's shared pool instead of
            # holding buffers of its own beside the training graph's: evaluation
            # then costs no lasting memory (ResNet-18 at batch 256: 0.9 GB less)
            self._flags = [(k, False if k in ("static_alloc", "static_shape") else v)
                           for k, v in flags]
        try:
            super()._build_cache(*args)
        finally:
            self._flags = flags
        if self._state_params:
            self._cached_op = _StateWritingOp(self._cached_op, self._state_params)

    def _call_cached_op(self, *args: Any) -> Any:
        self._select_mode(autograd.is_training())
        return super()._call_cached_op(*args)

    def export(self, path: str, epoch: int = 0, remove_amp_cast: bool = True) -> None:
        """Export the prediction-mode graph (run one forward pass outside
        ``autograd.record()`` after ``hybridize()`` first)."""
        mode = getattr(self, "_graph_mode", None)
        self._select_mode(False)
        try:
            if not self._cached_graph:
                raise RuntimeError(
                    "export needs the prediction-mode graph: call net.hybridize(), then run "
                    "one forward pass outside autograd.record() (e.g. net(X)), then export.")
            super().export(path, epoch, remove_amp_cast=remove_amp_cast)
        finally:
            if mode is not None:
                self._select_mode(mode)


