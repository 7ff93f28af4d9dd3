"""The exercise registry and command: every exercise runs in quick mode and
writes its folder; wrong names and seeds get a usage error."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from d2lnets.errors import UsageError
from d2lnets.exercises import get_exercise, list_exercises, run_exercise, trials
from d2lnets.exercises.registry import Options, register_exercise
from d2lnets.exercises.report import Spread, compare, sign_test, verdict

NAMES = [e.name for e in list_exercises()]


def test_the_chapters_eleven_in_order():
    assert [e.number for e in list_exercises()] == list(range(1, 12))
    assert [e.section for e in list_exercises()] == ["batch-norm"] * 5 + ["resnet"] * 3 + \
        ["densenet"] * 3


def test_each_says_its_default_minutes_within_the_fifteen_allowed():
    """The registry's minutes are what bench/exercises.py measured (its wall.json),
    and each is within the 15 minutes a default run may take on 2 cores;
    docs/exercises.md gives each one."""
    root = Path(__file__).resolve().parent.parent
    for e in list_exercises():
        wall = json.loads((root / "bench/results/exercises" / e.name / "wall.json").read_text())
        assert abs(e.minutes - wall["seconds"] / 60) < 0.06, e.name
        assert 0 < e.minutes <= 15, e.name
    doc = (root / "docs" / "exercises.md").read_text()
    assert all(f"`d2lnets exercise run {e.name}`" in doc for e in list_exercises())


def test_a_name_or_number_registered_twice_is_refused():
    with pytest.raises(UsageError, match="registered already"):
        register_exercise("bn-bias", "batch-norm", 99, "?", 0)(lambda o: None)
    with pytest.raises(UsageError, match="registered already"):
        register_exercise("new-one", "batch-norm", 1, "?", 0)(lambda o: None)


def test_an_unknown_name_lists_the_names():
    with pytest.raises(UsageError, match="bn-bias, bn-lr"):
        get_exercise("bn-biass")


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_runs_quick_and_writes_its_folder(name, tmp_path):
    result = run_exercise(name, tmp_path, quick=True)
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["exercise"] == name and record["quick"] is True
    assert record["rows"] and all(len(r) == len(record["header"]) for r in record["rows"])
    answer = (tmp_path / "answer.md").read_text()
    assert result.table() in answer and result.answer in answer
    assert (tmp_path / "figure.png").exists() == (result.plot is not None)


def test_spread_counts_a_diverged_seed_as_the_worst():
    assert Spread((0.8, None, 0.9)).median == 0.8
    assert Spread((0.8, 0.7, 0.9)).median == 0.8 and Spread((0.8, 0.7, 0.9)).low == 0.7
    assert str(Spread((0.8, 0.7, 0.9))) == "0.800 (0.700 to 0.900)"
    assert str(Spread((0.8, None, 0.9))) == "0.800 (diverged to 0.900, 1 of 3 diverged)"
    assert Spread((0.8, None, 0.9)).low is None
    assert str(Spread((None, None))) == "diverged (2 of 2)"


def test_sign_test_by_hand():
    """P(a split at least this uneven | each side wins with 1/2), both tails."""
    assert sign_test(5, 0) == sign_test(0, 5) == 2 / 32
    assert sign_test(4, 1) == 2 * (1 + 5) / 32
    assert sign_test(3, 3) == 1.0 and sign_test(0, 0) == 1.0
    assert abs(sign_test(9, 1) - 2 * (1 + 10) / 1024) < 1e-12


def test_verdict_pairs_by_seed_and_a_diverged_run_loses():
    v = verdict(Spread((0.9, None, 0.8, 0.7, 0.85)), Spread((0.8, 0.5, None, 0.7, 0.9)))
    assert (v.wins, v.losses, v.ties) == (2, 2, 1)
    assert v.diffs == (0.1, 0.0, -0.05)
    both = verdict(Spread((None, 0.9)), Spread((None, 0.8)))
    assert (both.wins, both.losses, both.ties) == (1, 0, 1)
    with pytest.raises(ValueError, match="paired seeds"):
        verdict(Spread((0.9,)), Spread((0.8, 0.7)))


FIVE = (0.80, 0.81, 0.82, 0.83, 0.84)


@pytest.mark.parametrize("a, says", [
    ((0.81, 0.82, 0.83, 0.84, 0.85),
     "a is better than b on every one of 5 seeds (sign test p = 0.06); a minus b, seed by "
     "seed: median +0.010, range +0.010 to +0.010."),
    ((0.79, 0.82, 0.83, 0.84, 0.85),
     "no detectable difference over 5 seeds (a better on 4 of 5 seeds, b on 1; sign test "
     "p = 0.38); a minus b, seed by seed: median +0.010, range -0.010 to +0.010."),
    ((0.70, 0.71, 0.72, 0.73, 0.74),
     "b is better than a on every one of 5 seeds (sign test p = 0.06)"),
    (FIVE, "no detectable difference over 5 seeds (a better on 0 of 5 seeds, b on 0, 5 tied; "
           "sign test p = 1.00)"),
    ((0.9, 0.9, None, 0.9, 0.9),
     "no detectable difference over 5 seeds (a better on 4 of 5 seeds, b on 1; sign test "
     "p = 0.38); a minus b, seed by seed: median +0.080, range +0.060 to +0.100, seeds where "
     "a run diverged left out."),
])
def test_compare_words_follow_the_sign_test(a, says):
    assert says in compare(Spread(a), Spread(FIVE), "a", "b")


def test_compare_never_calls_three_seeds_or_two_diverged_a_difference():
    """Better on 3 of 3 is p = 0.25; a variant with 2 of 3 runs diverged was once
    "better on every seed" because its ranges left them out."""
    assert "no detectable difference over 3 seeds" in compare(
        Spread((0.9, 0.91, 0.92)), Spread((0.8, 0.81, 0.82)), "a", "b")
    said = compare(Spread((0.95, None, None)), Spread((0.8, 0.81, 0.82)), "a", "b")
    assert "no detectable difference" in said and "better on 1 of 3 seeds, b on 2" in said
    assert "too few" in compare(Spread((0.8,)), Spread((0.9,)), "a", "b")


def test_tuned_chooses_on_its_own_seed_then_runs_the_compared_ones(monkeypatch):
    """The rate is chosen on TUNING_SEED alone; the compared seeds all use it."""
    calls = []

    def fake(opts, model, recipe, build=None, label="", seeds=None, **given):
        calls.append((tuple(seeds or opts.seed_list), given["lr"]))
        return Spread(tuple({0.1: 0.7, 0.2: 0.9, 0.4: 0.8}[given["lr"]] for _ in
                            (seeds or opts.seed_list)))
    monkeypatch.setattr(trials, "spread", fake)
    lr, tries, s = trials.tuned(Options(seeds=5), (0.1, 0.2, 0.4), "lenet-bn", "fast")
    assert lr == 0.2 and sorted(tries) == [0.1, 0.2, 0.4] and s.values == (0.9,) * 5
    assert calls[:3] == [((trials.TUNING_SEED,), r) for r in (0.1, 0.2, 0.4)]
    assert calls[3] == ((0, 1, 2, 3, 4), 0.2) and trials.TUNING_SEED not in range(5)
    calls.clear()
    assert trials.tuned(Options(quick=True), (0.1, 0.2), "lenet-bn", "fast")[0] == 0.1
    assert [c[1] for c in calls] == [0.1, 0.1]


@pytest.mark.parametrize("accs, tried, best, edge", [
    ({0.1: 0.9, 0.2: 0.8, 0.4: 0.7, 0.05: 0.95}, [0.05, 0.1, 0.2, 0.4], 0.05, True),
    ({0.1: 0.9, 0.2: 0.8, 0.4: 0.7, 0.05: 0.85}, [0.05, 0.1, 0.2, 0.4], 0.1, False),
    ({0.1: 0.7, 0.2: 0.8, 0.4: 0.9, 0.8: None}, [0.1, 0.2, 0.4, 0.8], 0.4, False),
])
def test_tuned_steps_once_past_an_end_of_the_grid(monkeypatch, accs, tried, best, edge):
    """A best rate at an end of the grid is tried one grid step further (here x2 or
    /2), once; a diverged step counts as worse than any finished run."""
    def fake(opts, model, recipe, build=None, label="", seeds=None, **given):
        return Spread(tuple(accs[given["lr"]] for _ in (seeds or opts.seed_list)))
    monkeypatch.setattr(trials, "spread", fake)
    lr, tries, _ = trials.tuned(Options(seeds=2), (0.1, 0.2, 0.4), "lenet-bn", "fast")
    assert (lr, sorted(tries), trials.at_edge(lr, tries)) == (best, tried, edge)
    assert trials.chosen(lr, tries) == (f"{lr} (the smallest tried)" if edge else f"{lr}")
    assert bool(trials.caveat([(lr, tries)])) is edge
    assert trials.caveat([(0.2, tries)]) == ""


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "d2lnets", "exercise", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_cli_list_and_run(tmp_path):
    r = _cli("list")
    assert r.returncode == 0 and [ln.split()[1] for ln in r.stdout.splitlines()] == NAMES
    r = _cli("run", "bn-global-stats", "--out", str(tmp_path), env={"D2LNETS_QUICK": "1"})
    assert r.returncode == 0, r.stderr
    assert "| use_global_stats=True |" in r.stdout and "(quick)" in r.stderr
    assert json.loads((tmp_path / "result.json").read_text())["quick"] is True


def test_an_out_that_is_a_file_is_refused_before_the_experiment(tmp_path):
    (tmp_path / "taken").write_text("mine")
    r = _cli("run", "densenet-depths", "--out", str(tmp_path / "taken"))
    assert r.returncode == 2 and "cannot write the exercise's folder" in r.stderr
    assert "Traceback" not in r.stderr and (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("args, says", [(["run", "bn-bais"], "no exercise 'bn-bais'"),
                                        (["run", "bn-bias", "--seeds", "0"], "from 1 to 20"),
                                        (["walk"], "invalid choice")])
def test_cli_wrong_use_exits_2_without_traceback(args, says):
    r = _cli(*args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr


def test_the_write_check_never_truncates_a_planted_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".d2lnets-write-test").symlink_to(victim)
    run_exercise("bottleneck", out=out, quick=True, log=None)
    assert victim.read_text() == "precious" and (out / "answer.md").is_file()


def test_a_second_exercise_into_a_busy_folder_is_refused(tmp_path):
    """Two `exercise run` into one folder raced on each other's temporary files
    (one ended in an internal error); now the second is refused at once."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom d2lnets.runfolder import RunFolder\n"
        "with RunFolder(sys.argv[1]):\n    print('holding', flush=True)\n    time.sleep(60)"),
        str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        r = subprocess.run([sys.executable, "-m", "d2lnets", "exercise", "run", "bottleneck",
                            "--quick", "--out", str(out)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 1 and f"PID {holder.pid}" in r.stderr
        assert "internal error" not in r.stderr and not (out / "answer.md").exists()
    finally:
        holder.kill()
        holder.wait()
