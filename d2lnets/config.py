"""``RunConfig``: every setting of a training run, each defined once.

A field's type, default, bounds and help live in its ``metadata``; the
command-line flags are generated from them (``cli/train.py``), the library's
``train_recipe(**given)`` checks by them, and a checkpoint stores the whole
object with the names the user set. Layers are ``dataclasses.replace``: the
book's settings for the model, then the recipe's, then a resumed run's, then
the user's (``recipes.layered``). Adding a setting is one field here
and its use where it acts.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional, get_args, get_type_hints

from .errors import UsageError

__all__ = ["RunConfig", "setting", "kind_of", "check_value", "check_names", "expected", "SETTINGS",
           "SCHEDULES", "OPTIMIZERS", "MAX_SIDE", "acting", "mid_epoch_fixed", "check_servers",
           "words", "shown"]

#: learning-rate schedules the loop knows
SCHEDULES = ("constant", "cosine", "linear")
#: optimizers: SGD (the book's) and SGD with Nesterov momentum
OPTIMIZERS = ("sgd", "nag")
#: the largest image side (the chapter uses 96; ImageNet's 224 fits)
MAX_SIDE = 512
#: images in Fashion-MNIST's training set: no batch or subset is larger
TRAIN_IMAGES = 60_000
#: ``servers`` of a setting any kvstore allows
ANY = object()


def setting(default: Any, help: str, low: float | None = None, high: float | None = None, *,
            what: str = "", open_low: bool = False, choices: tuple = (), flag: str | None = "",
            negative: str = "", negative_help: str = "", mid_epoch: bool = True,
            servers: Any = ANY, words: str = "", part: str = "", shown: str = "",
            none: str = "default", acts: str = "loop") -> Any:
    """A field with its bounds and help; ``what`` names a valid value in an error
    ("a positive integer"). ``flag=None``: no command-line flag; ``negative``:
    the flag that sets False (a bool) or None, with ``negative_help``.
    ``mid_epoch=False``: a resume in the middle of an epoch may not change it
    (other batches would follow); ``servers``: the one value a ``dist`` kvstore
    allows (its servers run the optimizer at a constant rate). ``words``: how
    a value other than the default reads in a recipe's description (``{}`` is
    the value), in its ``part``: optimizer or augmentation; ``shown``: how the
    run's banner prints it (None as ``none``). ``acts``: where it acts, in
    the loop or in what d2lnets builds for a named model (data, trainer, run):
    ``train()`` with the caller's own of those takes the loop's alone."""
    meta = {"help": help, "low": low, "high": high, "what": what, "open_low": open_low,
            "choices": choices, "flag": flag, "negative": negative,
            "negative_help": negative_help, "mid_epoch": mid_epoch, "servers": servers,
            "words": words, "part": part, "shown": shown, "none": none, "acts": acts}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    """How a run trains. ``lr`` and ``resize`` default to the model's book values
    (``recipes.layered``); ``model=None`` is a net the caller built."""

    model: Optional[str] = setting(None, "the registered model", flag=None, acts="run")
    recipe: str = setting("book", "book (the chapter's settings, default), fast (the book's "
                          "accuracy in minutes on a CPU) or long (beyond it, where a model has "
                          "one); see docs/recipes.md", servers="book", acts="run")
    lr: Optional[float] = setting(None, "learning rate: the constant rate, or the peak of a "
                               "schedule (with --resume: the peak for the rest of the run)",
                               0.0, 1e38, what="a positive finite number", open_low=True, shown="lr {}")
    batch_size: Optional[int] = setting(256, "images per batch, per worker under dist_sync (the "
                                     "library's None: the iterator's)", 1, TRAIN_IMAGES,
                                     what="a positive integer", mid_epoch=False,
                                     shown="batch {}")
    epochs: int = setting(5, "epochs to train", 1, 10_000, what="a positive integer",
                          shown="{} epochs")
    resize: Optional[int] = setting(None, "image side (book: 96 for ResNet and DenseNet)", 1,
                                 MAX_SIDE, what="a positive integer (an image side)",
                                 negative="--no-resize", negative_help="train at 28x28",
                                 mid_epoch=False, shown="resize {}", none="28", acts="data")
    seed: Optional[int] = setting(0, "seed of initialisation, shuffling and augmentation (None: "
                               "not seeded)", 0, 2**32 - 1, what="an integer >= 0", mid_epoch=False,
                               shown="seed {}")
    subset: Optional[int] = setting(None, "train on the first N images only", 1, TRAIN_IMAGES,
                                 what="a positive integer", mid_epoch=False, acts="data")
    data: Optional[str] = setting(None, "Fashion-MNIST folder, or 'sample' for the shipped sample "
                               "(default: search, see docs/training.md)", mid_epoch=False, acts="data")
    verify: bool = setting(True, "check the Fashion-MNIST checksums", flag=None,
                           negative="--no-verify", negative_help="skip the Fashion-MNIST "
                           "checksums (other IDX data, e.g. MNIST)", mid_epoch=False, acts="data")
    optimizer: str = setting("sgd", "sgd (the book's) or nag (Nesterov)", choices=OPTIMIZERS, acts="trainer")
    momentum: float = setting(0.0, "momentum", 0.0, 0.999, what="a momentum in [0, 1)",
                              words="momentum {:g}", part="optimizer", acts="trainer")
    wd: float = setting(0.0, "weight decay", 0.0, 0.1, what="a weight decay in [0, 0.1]",
                        words="weight decay {:g}", part="optimizer", acts="trainer")
    clip_gradient: Optional[float] = setting(
        None, "clip every gradient element to [-C, C] before the update (MXNet's "
        "clip_gradient; the 1.0 edition's Trainer clips by the gradients' norm)", 0.0, 1e38,
        what="a positive finite number", open_low=True, negative="--no-clip-gradient",
        words="gradients clipped to [-{0:g}, {0:g}]", part="optimizer", acts="trainer")
    schedule: str = setting("constant", "learning-rate schedule", choices=SCHEDULES,
                            servers="constant")
    warmup: float = setting(0.0, "warm-up epochs (from 0 up to --lr)", 0.0, 1000.0,
                            what="a finite number >= 0 (epochs)", servers=0.0)
    shift: int = setting(0, "shift training images up to this many pixels (a padded random "
                         "crop)", 0, 16, what="whole pixels in [0, 16]",
                         words="shifts of up to {} pixels", part="augmentation", acts="data")
    flip: bool = setting(False, "mirror half the training images", negative="--no-flip",
                         words="mirrored training images", part="augmentation", acts="data")
    label_smoothing: float = setting(0.0, "the target puts this much mass evenly on all classes",
                                     0.0, 0.5, what="a number in [0, 0.5]",
                                     words="label smoothing {:g}", part="augmentation")
    tta_flip: bool = setting(False, "test on each image and its mirror image", flag="--tta",
                             negative="--no-tta", words="mirrored test images averaged in",
                             part="augmentation")
    hybridize: bool = setting(True, "run the nets as cached graphs", flag=None,
                              negative="--no-hybridize", negative_help="run the nets "
                              "imperatively, as the book's code does")
    low_memory: bool = setting(False, "about half the memory, about a fifth slower (no static "
                               "allocation)")
    max_loss: Optional[float] = setting(1e4, "a mean loss per example above it stops the run "
                                     "(None: only NaN/inf)", 0.0, math.inf, open_low=True,
                                     what="a positive number", flag=None)
    workers: int = setting(1, "parameter-server workers the batch is spread over", 1, 1024,
                           what="a positive integer", flag=None, mid_epoch=False, acts="run")
    threads: Optional[int] = setting(None, "OpenMP threads the run trained with (results depend "
                                  "on it)", 1, 4096, what="a positive integer", flag=None,
                                  shown="{} OpenMP threads", acts="run")

    def __post_init__(self) -> None:
        for f in fields(self):
            check_value(f, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: every setting's name
SETTINGS = tuple(f.name for f in fields(RunConfig))
#: each setting's types, ``None`` last: ``(int, NoneType)`` for ``int | None``
_TYPES = {name: tuple(sorted(get_args(t) or (t,), key=lambda k: k is type(None)))
          for name, t in get_type_hints(RunConfig).items()}


def check_names(given: dict) -> None:
    """Refuse a name that is no setting, with the nearest one (``lrr`` -> ``lr``)."""
    for name in given:
        if name not in SETTINGS:
            near = difflib.get_close_matches(name, SETTINGS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; settings: {', '.join(SETTINGS)}"
            raise UsageError(f"unknown setting {name!r}{hint}")


def kind_of(f: Any) -> str:
    """A field's type without ``| None``: "int", "float", "str" or "bool"."""
    return _TYPES[f.name][0].__name__


def acting(where: str) -> tuple[str, ...]:
    """The settings that act in ``where``: loop, data, trainer or run."""
    return tuple(f.name for f in fields(RunConfig) if f.metadata["acts"] == where)


def mid_epoch_fixed() -> tuple[str, ...]:
    """The settings a resume in the middle of an epoch may not change."""
    return tuple(f.name for f in fields(RunConfig) if not f.metadata["mid_epoch"])


def check_servers(config: RunConfig, kvstore: str | None) -> None:
    """Under a ``dist`` kvstore the servers run the optimizer at its own constant
    rate: a setting whose ``servers`` value differs would be ignored there."""
    if not kvstore or not kvstore.startswith("dist"):
        return
    wrong = [f for f in fields(config)
             if f.metadata["servers"] is not ANY and getattr(config, f.name) != f.metadata["servers"]]
    if wrong:
        need = ", ".join(f"{f.name} {f.metadata['servers']}" for f in wrong)
        drop = ", ".join(f"no --{f.name.replace('_', '-')} {getattr(config, f.name)}"
                         for f in wrong)
        raise UsageError(f"--kvstore {kvstore} runs the optimizer on the servers at a constant "
                         f"rate: use {need} ({drop}; a resumed run's settings count too)")


def words(config: RunConfig, part: str) -> list[str]:
    """How ``part``'s settings read where they differ from the default."""
    return [f.metadata["words"].format(getattr(config, f.name)) for f in fields(config)
            if f.metadata["part"] == part and getattr(config, f.name) not in (None, f.default)]


def shown(config: RunConfig) -> str:
    """The settings a run's banner prints, in the fields' order."""
    values = {f: getattr(config, f.name) for f in fields(config) if f.metadata["shown"]}
    return ", ".join(f.metadata["shown"].format(f.metadata["none"] if v is None else v)
                     for f, v in values.items())


def expected(f: Any, value: Any) -> str | None:
    """What a valid value of field ``f`` is, if ``value`` is not one ("a positive
    integer (at most 512)"); None when it is."""
    meta = f.metadata
    if value is None and type(None) in _TYPES[f.name]:
        return None
    kind = kind_of(f)
    if kind == "bool":
        return None if isinstance(value, bool) else "True or False"
    if kind == "str":
        if not isinstance(value, str):
            return "a string"
        choices = meta["choices"]
        return f"one of {', '.join(choices)}" if choices and value not in choices else None
    what = meta["what"] or "a number"
    number = (int,) if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, number):
        return what
    low, high = meta["low"], meta["high"]
    if math.isnan(value) or value < low or (meta["open_low"] and value == low):
        return what
    if value > high or (math.isinf(value) and high != math.inf):
        return what if "[" in what else f"{what} (at most {high:g})"
    return None


def check_value(f: Any, value: Any) -> None:
    """Raise :class:`UsageError` unless ``value`` is valid for field ``f``."""
    want = expected(f, value)
    if want is not None:
        raise UsageError(f"{f.name} must be {want}; got {value!r}")
