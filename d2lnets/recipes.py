"""Recipes: named ways to train a chapter model (``RECIPES``; ``training/plan.py``
lays them out for a run).

``book`` is the chapter's own settings (SGD, constant learning rate, 5 epochs,
96x96 for ResNet and DenseNet). ``fast`` trains the same network to the
book's accuracy in a fraction of the time on a CPU: fewer pixels, Nesterov
momentum and weight decay, a warm-up then a straight-line decay of the
learning rate, 3-4 epochs (shifts, mirrors and label smoothing cost accuracy
in runs this short). ``long`` goes beyond the book's accuracy in longer runs,
where they pay. Every recipe trains the network it is registered for. The figures
behind every choice are in docs/recipes.md and bench/results/recipes/.

A recipe is a set of :class:`~d2lnets.config.RunConfig` values laid over the
book's (:func:`layered`); the book's own batch size and epochs are that
class's defaults, its learning rates and image sides the model registry's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .config import OPTIMIZERS, SETTINGS, RunConfig, check_names, words
from .errors import UsageError
from .models import FASHION_SIDE, model_info
from .registry import Registry

__all__ = ["Recipe", "RECIPES", "OPTIMIZERS", "register_recipe", "get_recipe", "recipe_names",
           "layered", "describe"]

#: what the book recipe does, for every model
BOOK = "the chapter's settings, 5 epochs"


@dataclass(frozen=True)
class Recipe:
    """``settings`` override the book's; ``minutes`` is what the recipe is
    expected to take on a 2-core CPU, said before a notebook runs it."""

    model: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    minutes: float = 0.0
    doc: str = ""

    @property
    def key(self) -> str:
        return f"{self.model}/{self.name}"


#: every recipe, by ``MODEL/RECIPE`` (``resnet18/fast``)
RECIPES: Registry[Recipe] = Registry("recipe")


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a recipe; a model's recipe name registered twice is refused."""
    unknown = set(recipe.settings) - set(SETTINGS)
    if unknown:
        raise UsageError(f"recipe {recipe.name!r} sets unknown settings {sorted(unknown)}")
    recipe = replace(recipe, model=model_info(recipe.model).name)
    return RECIPES.add(recipe.key, recipe)


def recipe_names(model: str) -> list[str]:
    """The recipes ``model`` can be trained with: always ``book``."""
    name = model_info(model).name
    return sorted({"book", *(r.name for r in RECIPES if r.model == name)},
                  key=lambda n: (n != "book", n))


def get_recipe(model: str, name: str = "book") -> Recipe:
    """The recipe ``name`` for ``model`` (``book`` exists for every model)."""
    info = model_info(model)
    if f"{info.name}/{name}" in RECIPES:
        return RECIPES.get(f"{info.name}/{name}")
    if name == "book":  # a model without a measured book run
        return Recipe(info.name, "book", {}, 0.0, BOOK)
    raise UsageError(f"no recipe {name!r} for {info.name}: choose "
                     f"{' or '.join(recipe_names(model))}")


def layered(model: str, recipe: str | None = None, stored: dict | None = None,
            given: dict | None = None) -> RunConfig:
    """The book's settings for ``model`` < ``recipe``'s < ``stored`` (a resumed
    run's) < ``given`` (the user's); a stored run's recipe must not change."""
    stored, given = dict(stored or {}), dict(given or {})
    check_names(given)
    given.pop("model", None)
    name = given.get("recipe") or stored.get("recipe") or recipe or "book"
    if stored.get("recipe", name) != name:
        raise UsageError(f"this run was trained with --recipe {stored['recipe']}; resume it "
                         f"with that recipe, or start a new run in another --out")
    info = model_info(model)
    config = RunConfig(model=info.name, lr=info.lr, resize=info.resize)
    config = replace(config, **get_recipe(model, name).settings, recipe=name)
    config = replace(config, **{k: v for k, v in stored.items() if k in SETTINGS and k != "model"})
    return replace(config, **given)


def describe(model: str, recipe: str = "book") -> str:
    """What ``recipe`` does to ``model``, in words, from its settings alone
    (the notebooks say this, so it cannot drift from the table)."""
    c = layered(model, recipe)
    side = c.resize or FASHION_SIDE
    parts = [f"{model_info(model).name}, {c.epochs} epochs of batch {c.batch_size} at "
             f"{side}x{side}"]
    opt = "Nesterov SGD" if c.optimizer == "nag" else "SGD"
    parts.append(", ".join([opt, *words(c, "optimizer")]))
    sched = {"constant": "constant", "linear": "decaying in a straight line to 0",
             "cosine": "decaying along a cosine to 0"}[c.schedule]
    warm = f"warmed up over {c.warmup:g} epoch, then " if c.warmup else ""
    parts.append(f"learning rate {c.lr:g}, {warm}{sched}")
    parts.append(", ".join(words(c, "augmentation")) or "no augmentation")
    return "; ".join(parts)


# ------------------------------------------------------------- the book's recipes
#: minutes on a 2-core CPU (bench/results/fidelity/)
for _model, _minutes in (("lenet-bn", 0.5), ("lenet-bn-scratch", 2.2), ("resnet18", 59.0),
                         ("densenet", 32.0)):
    register_recipe(Recipe(_model, "book", {}, _minutes, BOOK))

# ------------------------------------------------------------- the fast recipes
#: shared by the fast recipes: Nesterov SGD, weight decay, a short warm-up and a
#: straight-line decay to 0 (the one-cycle triangle), at 28x28 or close to it
_FAST = {"optimizer": "nag", "momentum": 0.9, "wd": 5e-4, "schedule": "linear", "warmup": 0.3}

register_recipe(Recipe("lenet-bn", "fast", {**_FAST, "lr": 0.4, "epochs": 3}, 0.3,
                       "the book's LeNet-BN, 3 epochs: 0.889"))
register_recipe(Recipe("resnet18", "fast", {**_FAST, "lr": 0.05, "epochs": 3, "resize": None},
                       5.0, "the book's ResNet-18 at 28x28, 3 epochs: 0.914"))
register_recipe(Recipe("resnet18-small", "fast", {**_FAST, "lr": 0.05, "epochs": 3}, 4.0,
                       "ResNet-18 with a 3x3 stem and half the width at 28x28, 3 epochs: 0.918"))
register_recipe(Recipe("densenet", "fast", {**_FAST, "lr": 0.1, "epochs": 4, "resize": 32}, 3.5,
                       "the book's DenseNet at 32x32, 4 epochs: 0.916"))

# ------------------------------------------------------------- the long recipes
#: beyond the book: longer runs where augmentation and label smoothing pay
register_recipe(Recipe("resnet18-small", "long", {**_FAST, "lr": 0.1, "epochs": 18, "shift": 2,
                                                  "flip": True, "tta_flip": True,
                                                  "label_smoothing": 0.1}, 25.0,
                       "ResNet-18, 3x3 stem, half width, 18 epochs with shifts, mirrors and "
                       "label smoothing: 0.941 in 24 min"))
