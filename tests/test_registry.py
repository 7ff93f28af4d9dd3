"""registry.py: one key style for models, recipes and exercises."""
import pytest

from d2lnets.errors import UnknownModelError, UsageError
from d2lnets.exercises.registry import EXERCISES
from d2lnets.models import MODELS
from d2lnets.recipes import RECIPES
from d2lnets.registry import Registry, key_of


def test_a_key_is_the_typed_name_lower_case_with_hyphens():
    assert key_of(" LeNet_BN ") == "lenet-bn"
    for registry in (MODELS, RECIPES, EXERCISES):
        assert all(k == key_of(k) and " " not in k for k in registry.names())
    assert "resnet18-small/long" in RECIPES and "lenet-bn" in MODELS and "bn-lr" in EXERCISES


def test_a_name_is_found_whatever_its_case_or_separator():
    r = Registry("thing")
    item = r.add("Big_One", object())
    assert r.get("big-one") is item and r.get("BIG_ONE") is item and "big one" not in r


def test_a_second_entry_under_one_name_is_refused():
    r = Registry("thing")
    r.add("a-b", 1)
    with pytest.raises(UsageError, match="a thing named 'a-b' is registered already"):
        r.add("A_B", 2)
    assert r.get("a-b") == 1


def test_an_unknown_name_gets_the_closest_and_the_kind_of_error_asked_for():
    r = Registry("model", UnknownModelError)
    r.add("resnet18", 1)
    r.add("densenet", 2)
    said = r"unknown model 'resnet19' \(did you mean resnet18\b.*; choose from resnet18, densenet$"
    with pytest.raises(KeyError, match=said):
        r.get("resnet19")
    with pytest.raises(UsageError, match="named by a string"):
        r.get(18)
