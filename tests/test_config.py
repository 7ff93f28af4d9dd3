"""config.py: RunConfig's fields are the one home of a setting: its type, bounds,
what a resume and a dist kvstore allow, how it is described and printed."""
from dataclasses import fields, replace

import pytest

from d2lnets import config as C
from d2lnets.errors import UsageError

BY_NAME = {f.name: f for f in fields(C.RunConfig)}


def test_each_settings_kind_is_its_annotation_without_none():
    kinds = {name: C.kind_of(f) for name, f in BY_NAME.items()}
    assert kinds["lr"] == "float" and kinds["batch_size"] == "int" and kinds["data"] == "str"
    assert kinds["flip"] == "bool" and kinds["clip_gradient"] == "float"
    assert set(kinds.values()) == {"int", "float", "str", "bool"}


@pytest.mark.parametrize("name, value, ok", [
    ("lr", 0.0, False), ("lr", 1e-9, True), ("lr", None, True), ("lr", float("nan"), False),
    ("epochs", None, False), ("epochs", 0, False), ("epochs", 10_001, False), ("epochs", True, False),
    ("resize", 512, True), ("resize", 513, False), ("momentum", 1.0, False),
    ("schedule", "step", False), ("clip_gradient", 0.0, False), ("clip_gradient", 5.0, True)])
def test_a_value_is_checked_by_its_fields_bounds(name, value, ok):
    assert (C.expected(BY_NAME[name], value) is None) == ok
    if not ok:
        with pytest.raises(UsageError, match=f"{name} must be"):
            C.RunConfig(**{name: value})


def test_the_settings_a_mid_epoch_resume_may_not_change_are_those_that_pick_the_batches():
    # the batches after the interruption follow from these (and nothing else does)
    assert set(C.mid_epoch_fixed()) == {"batch_size", "subset", "data", "resize", "seed",
                                        "verify", "workers"}


def test_a_dist_kvstore_refuses_what_its_servers_would_ignore():
    book = C.RunConfig(model="lenet-bn")
    C.check_servers(book, "dist_sync")
    C.check_servers(replace(book, schedule="linear"), None)
    C.check_servers(replace(book, schedule="linear"), "local")
    with pytest.raises(UsageError, match=r"no --schedule linear, no --warmup 0.3"):
        C.check_servers(replace(book, schedule="linear", warmup=0.3), "dist_sync")


def test_words_say_the_settings_that_differ_from_the_default():
    c = C.RunConfig(momentum=0.9, wd=5e-4, clip_gradient=2.0, shift=2, flip=True)
    assert C.words(c, "optimizer") == ["momentum 0.9", "weight decay 0.0005",
                                       "gradients clipped to [-2, 2]"]
    assert C.words(c, "augmentation") == ["shifts of up to 2 pixels", "mirrored training images"]
    assert C.words(C.RunConfig(), "augmentation") == []


def test_the_banner_shows_its_settings_in_order():
    c = C.RunConfig(lr=0.1, batch_size=64, epochs=2, seed=3, threads=2)
    assert C.shown(c) == "lr 0.1, batch 64, 2 epochs, resize 28, seed 3, 2 OpenMP threads"
    assert C.shown(C.RunConfig()).endswith("default OpenMP threads")


def test_every_setting_acts_in_exactly_one_place():
    places = ("loop", "data", "trainer", "run")
    assert sorted(sum((C.acting(p) for p in places), ())) == sorted(C.SETTINGS)
    assert "lr" in C.acting("loop") and "wd" in C.acting("trainer") and "shift" in C.acting("data")


def test_an_unknown_name_gets_the_nearest_setting():
    with pytest.raises(UsageError, match="did you mean 'lr'"):
        C.check_names({"lrr": 1})
    with pytest.raises(UsageError, match="settings: model, recipe, lr"):
        C.check_names({"zzzzzz": 1})
