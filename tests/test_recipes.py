"""Recipes: the registry, how a run's settings are resolved, and each fast recipe run for real."""
import json
import os
import subprocess
import sys

import pytest

import d2lnets as d2l
from d2lnets import recipes as R
from d2lnets.errors import UsageError
from d2lnets.models import model_info

FAST = sorted(r.model for r in R.RECIPES if r.name == "fast")


def test_the_three_chapter_models_have_a_fast_recipe():
    assert {"densenet", "lenet-bn", "resnet18"} <= set(FAST)
    assert R.recipe_names("resnet18") == ["book", "fast"]
    assert R.recipe_names("resnet18-small") == ["book", "fast", "long"]
    assert R.recipe_names("resnet34") == ["book"]


def test_fast_resnet18_trains_the_chapters_network():
    """The network named on the command line, with its registry parameter count."""
    run = d2l.train_recipe("resnet18", "fast", data="sample", epochs=1, subset=256, log=None)
    counted = sum(p.data().size for p in run.net.collect_params().values()
                  if p.grad_req != "null")
    assert counted == model_info("resnet18").num_params == 11_178_378
    assert run.config.resize is None  # at 28x28


def test_describe_says_what_the_settings_do():
    assert R.describe("resnet18", "book") == ("resnet18, 5 epochs of batch 256 at 96x96; SGD; "
                                              "learning rate 0.05, constant; no augmentation")
    long = R.describe("resnet18-small", "long")
    settings = R.get_recipe("resnet18-small", "long").settings
    assert f"{settings['epochs']} epochs" in long and f"learning rate {settings['lr']:g}" in long
    assert "Nesterov SGD, momentum 0.9" in long and "straight line" in long
    assert f"shifts of up to {settings['shift']} pixels" in long and "mirrored test" in long


def test_a_recipe_registered_twice_or_with_an_unknown_setting_is_refused():
    with pytest.raises(UsageError, match="registered already"):
        R.register_recipe(R.Recipe("resnet18", "fast", {}))
    with pytest.raises(UsageError, match=r"unknown settings \['dropout'\]"):
        R.register_recipe(R.Recipe("resnet34", "odd", {"dropout": 0.5}))
    assert "resnet34/odd" not in R.RECIPES


def test_an_unknown_recipe_names_the_ones_there_are():
    with pytest.raises(UsageError, match="no recipe 'fastest' for lenet-bn: choose book or fast"):
        R.get_recipe("lenet-bn", "fastest")


def test_book_recipe_is_the_chapters_settings():
    for model in FAST:
        config = R.layered(model, "book", None, {"data": "sample"})
        info = model_info(model)
        assert (config.lr, config.resize, config.batch_size, config.epochs) == \
               (info.lr, info.resize, 256, 5)
        assert (config.optimizer, config.momentum, config.wd, config.schedule) == \
               ("sgd", 0.0, 0.0, "constant")
        assert not (config.shift or config.flip or config.tta_flip or config.label_smoothing)


def test_settings_resolve_book_then_recipe_then_stored_then_given():
    fast = R.get_recipe("resnet18", "fast").settings
    config = R.layered("resnet18", "fast", None, {"data": "sample"})
    assert all(getattr(config, k) == v for k, v in fast.items()) and config.recipe == "fast"
    stored = {**config.to_dict(), "lr": 0.123, "epochs": 9}
    resumed = R.layered("resnet18", "book", stored, {"data": "sample", "epochs": 11})
    assert (resumed.recipe, resumed.lr, resumed.epochs) == ("fast", 0.123, 11)
    with pytest.raises(UsageError, match="trained with --recipe fast"):
        R.layered("resnet18", "book", stored, {"data": "sample", "recipe": "book"})


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("model", FAST)
def test_fast_recipe_trains_from_the_command_line(tmp_path, model):
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", model, "--recipe", "fast",
                        "--data", "sample", "--subset", "200", "--epochs", "2", "--batch-size", "50",
                        "--no-progress", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{model} (fast recipe" in r.stderr and "Traceback" not in r.stderr
    rows = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    fast = R.get_recipe(model, "fast").settings
    # the linear schedule decays to 0: the second epoch ends below the first
    assert [row["epoch"] for row in rows] == [1, 2] and rows[1]["lr"] < rows[0]["lr"] <= fast["lr"]
    meta = json.loads(sorted(tmp_path.glob("ckpt-*"))[-1].joinpath("meta.json").read_text())
    assert meta["config"]["recipe"] == "fast" and meta["config"]["optimizer"] == fast["optimizer"]


def test_distributed_runs_refuse_the_fast_recipe(tmp_path):
    r = subprocess.run([sys.executable, "-m", "d2lnets", "train", "lenet-bn", "--recipe", "fast",
                        "--kvstore", "dist_sync", "--data", "sample", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 2 and "no --recipe fast" in r.stderr and "Traceback" not in r.stderr


def test_train_recipe_for_notebooks_returns_the_history():
    run = d2l.train_recipe("lenet-bn", "fast", data="sample", epochs=2, batch_size=50, log=None)
    assert [row["epoch"] for row in run.history.epochs] == [1, 2]
    assert run.history.epochs[-1]["test_acc"] > 0.5  # chance is 0.1
    assert run.net(next(iter(run.test_iter))[0]).shape == (50, 10) and run.config.recipe == "fast"


def test_a_recipe_the_model_lacks_exits_2_and_leaves_no_folder(tmp_path, capsys):
    from d2lnets.cli import main
    out = tmp_path / "run"
    assert main(["train", "resnet34", "--recipe", "fast", "--data", "sample", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no recipe 'fast' for resnet34: choose book" in err and "Traceback" not in err
    assert not out.exists()  # (its lock file beside it stays, as every run's does)


def test_resuming_under_another_recipe_exits_2_and_keeps_the_run(tmp_path, capsys):
    from d2lnets import checkpoint as C
    from d2lnets.cli import main
    args = ["train", "lenet-bn", "--data", "sample", "--subset", "200", "--epochs", "1",
            "--no-progress", "--out", str(tmp_path)]
    assert main([*args, "--recipe", "fast"]) == 0
    before = C.latest_checkpoint(tmp_path)
    capsys.readouterr()
    assert main([*args, "--recipe", "book", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "trained with --recipe fast" in err and "Traceback" not in err
    assert C.latest_checkpoint(tmp_path) == before
