"""Recipes: named ways to train a chapter model, and the one place a run is built.

``book`` is the chapter's own settings (SGD, constant learning rate, 5 epochs,
96x96 for ResNet and DenseNet). ``fast`` trains the same network family to the
book's accuracy in a fraction of the time on a CPU: fewer pixels, Nesterov
momentum and weight decay, a warm-up then a straight-line decay of the
learning rate, 3-4 epochs. (Shifts, mirrors, label smoothing and mirrored test
images are settings too, but cost accuracy in runs this short.) The figures
behind every choice are in docs/recipes.md and bench/results/recipes/.

A run's settings are one flat dict (``config``): the book's defaults, then the
recipe's, then a resumed run's stored values, then what the caller gives. The
command line and :func:`train_recipe` (for notebooks) both build from it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mxnet import gluon, init

from .augment import Augment
from .data import SAMPLE, find_fashion_mnist, load_data_fashion_mnist
from .devices import try_gpu
from .errors import UsageError
from .models import model_info
from .training import TrainConfig, default_callbacks, fit, set_seed
from .training.history import History

__all__ = ["Recipe", "RECIPES", "BOOK", "OPTIMIZERS", "register_recipe", "get_recipe",
           "recipe_names", "resolve", "build", "train_config", "train_recipe", "Trained",
           "BOOK_MINUTES"]

#: the book's settings for every model (lr and resize come from the registry)
BOOK: dict[str, Any] = {
    "recipe": "book", "arch": None, "batch_size": 256, "epochs": 5, "seed": 0,
    "optimizer": "sgd", "momentum": 0.0, "wd": 0.0, "schedule": "constant", "warmup": 0.0,
    "label_smoothing": 0.0, "shift": 0, "flip": False, "tta_flip": False,
    "subset": None, "verify": True, "data": None}
#: the book's recipe on a 2-core CPU, minutes (bench/results/fidelity/)
BOOK_MINUTES = {"lenet-bn": 0.5, "lenet-bn-scratch": 2.2, "resnet18": 59.0, "densenet": 32.0}
#: optimizers a recipe may name: SGD (the book's) and SGD with Nesterov momentum
OPTIMIZERS = ("sgd", "nag")


@dataclass(frozen=True)
class Recipe:
    """``settings`` override the book's; ``minutes`` is what the recipe is
    expected to take on a 2-core CPU, said before a notebook runs it."""

    model: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    minutes: float = 0.0
    doc: str = ""


RECIPES: dict[tuple[str, str], Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a recipe; a (model, name) pair registered twice is refused."""
    key = (model_info(recipe.model).cli_name, recipe.name)
    if key in RECIPES:
        raise UsageError(f"a recipe {recipe.name!r} for {key[0]} is registered already")
    unknown = set(recipe.settings) - set(BOOK) - {"lr", "resize"}
    if unknown:
        raise UsageError(f"recipe {recipe.name!r} sets unknown settings {sorted(unknown)}")
    RECIPES[key] = recipe
    return recipe


def recipe_names(model: str) -> list[str]:
    """The recipes ``model`` can be trained with: always ``book``."""
    name = model_info(model).cli_name
    return ["book"] + sorted(r for m, r in RECIPES if m == name)


def get_recipe(model: str, name: str = "book") -> Recipe:
    """The recipe ``name`` for ``model`` (``book`` exists for every model)."""
    info = model_info(model)
    if name == "book":
        return Recipe(info.cli_name, "book", {}, BOOK_MINUTES.get(info.cli_name, 0.0),
                      "the chapter's settings, 5 epochs")
    if (info.cli_name, name) not in RECIPES:
        raise UsageError(f"no recipe {name!r} for {info.cli_name}: choose "
                         f"{' or '.join(recipe_names(model))}")
    return RECIPES[(info.cli_name, name)]


def resolve(model: str, recipe: str = "book", stored: dict | None = None,
            given: dict | None = None) -> dict[str, Any]:
    """The book's defaults < the recipe's < a resumed run's stored values < ``given``."""
    info = model_info(model)
    config = {"model": info.cli_name, "lr": info.lr, "resize": info.resize, **BOOK}
    stored, given = stored or {}, given or {}
    name = given.get("recipe") or stored.get("recipe") or recipe
    if stored.get("recipe", name) != name:
        raise UsageError(f"this run was trained with --recipe {stored['recipe']}; resume it with "
                         f"that recipe, or start a new run in another --out")
    config.update(get_recipe(model, name).settings, recipe=name)
    config.update({k: v for k, v in stored.items() if k in config})
    config.update(given)
    config["model"] = info.cli_name
    if config["optimizer"] not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {config['optimizer']!r}: use {' or '.join(OPTIMIZERS)}")
    if config["data"] != SAMPLE:  # the folder itself, so that a resume finds the same data
        config["data"] = str(find_fashion_mnist(config["data"]).resolve())
    return config


def _trainer(config: dict, net: Any, trainer_kwargs: dict) -> gluon.Trainer:
    opt: dict[str, Any] = {"learning_rate": config["lr"], "wd": config["wd"]}
    if config["optimizer"] == "nag" or config["momentum"]:
        opt["momentum"] = config["momentum"]
    return gluon.Trainer(net.collect_params(), config["optimizer"], opt, **trainer_kwargs)


def build(config: dict, ctxs: list, trainer_kwargs: dict | None = None,
          shard: tuple[int, int] | None = None) -> tuple[Any, gluon.Trainer, Any, Any]:
    """(net, trainer, train_iter, test_iter) for ``config`` on ``ctxs``;
    ``shard=(rank, workers)`` keeps one distributed worker's share of the data."""
    train_iter, test_iter = load_data_fashion_mnist(
        config["batch_size"], resize=config["resize"], root=config["data"], seed=config["seed"],
        subset=config["subset"], verify=config["verify"],
        augment=Augment(config["shift"], config["flip"]))
    if shard is not None and shard[1] > 1:
        train_iter.shard(*shard)
    set_seed(config["seed"])
    net = model_info(config["arch"] or config["model"]).builder()
    net.initialize(init.Xavier(), ctx=ctxs)
    return net, _trainer(config, net, trainer_kwargs or {}), train_iter, test_iter


def train_config(config: dict, batch_size: int | None = None, **kwargs: Any) -> TrainConfig:
    """The loop's options from a run's settings (``batch_size``: the global one)."""
    return TrainConfig(config["epochs"], batch_size or config["batch_size"], seed=config["seed"],
                       schedule=config["schedule"], warmup_epochs=config["warmup"],
                       label_smoothing=config["label_smoothing"], tta_flip=config["tta_flip"],
                       **kwargs)


@dataclass
class Trained:
    """What :func:`train_recipe` gives back: the trained net, its history
    (``time`` per epoch), the iterators it used and the settings."""

    net: Any
    history: History
    train_iter: Any
    test_iter: Any
    config: dict


def train_recipe(model: str, recipe: str = "book", ctx: Any = None,
                 out_dir: str | os.PathLike | None = None, log: Any = print,
                 **given: Any) -> Trained:
    """Train ``model`` with ``recipe`` (for notebooks); ``given`` overrides
    any setting, e.g. ``epochs=1, data="sample"``."""
    ctxs = list(ctx) if isinstance(ctx, (list, tuple)) else [ctx or try_gpu()]
    config = resolve(model, recipe, None, given)
    net, trainer, train_iter, test_iter = build(config, ctxs)
    cfg = train_config(config)
    callbacks = default_callbacks(cfg, progress=False, out_dir=out_dir, log=log,
                                  config_record=config)
    history = fit(net, train_iter, test_iter, trainer, ctxs, cfg, callbacks)
    return Trained(net, history, train_iter, test_iter, config)


# ------------------------------------------------------------- the fast recipes
#: shared by the fast recipes: Nesterov SGD, weight decay, a short warm-up and a
#: straight-line decay to 0 (the one-cycle triangle), at 28x28 or close to it
_FAST = {"optimizer": "nag", "momentum": 0.9, "wd": 5e-4, "schedule": "linear", "warmup": 0.3}

register_recipe(Recipe("lenet-bn", "fast", {**_FAST, "lr": 0.4, "epochs": 3}, 0.3,
                       "the book's LeNet-BN, 3 epochs: 0.890"))
register_recipe(Recipe("resnet18", "fast", {**_FAST, "lr": 0.05, "epochs": 3, "resize": None,
                                            "arch": "resnet18-small"}, 3.5,
                       "ResNet-18 at 28x28 (3x3 stem, half width), 3 epochs: 0.918"))
register_recipe(Recipe("densenet", "fast", {**_FAST, "lr": 0.1, "epochs": 4, "resize": 32}, 3.5,
                       "the book's DenseNet at 32x32, 4 epochs: 0.917"))
