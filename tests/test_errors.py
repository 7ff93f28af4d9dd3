"""One error hierarchy: each class's exit code, its built-in base, and the
command line's exit code taken from the class alone."""
from pathlib import Path

import mxnet as mx
import pytest

from d2lnets import errors as E
from d2lnets.cli import main
from d2lnets.cli import summary as summary_command

CASES = [
    (E.UsageError("x"), 2, ValueError),
    (E.UnknownModelError("x"), 2, KeyError),
    (E.DataError("x"), 1, RuntimeError),
    (E.CheckpointError("x"), 1, RuntimeError),
    (E.DivergedError("x"), 1, FloatingPointError),
    (E.ExportError("x"), 1, RuntimeError),
    (E.RunFolderBusy("x"), 1, RuntimeError),
    (E.EnvironmentProblem("x"), 1, RuntimeError),
    (E.MXNetUnavailable("x"), 1, ImportError),
    (E.BadEnvironment("x"), 2, ValueError),
    (E.TrainingInterrupted("x"), 130, E.D2lnetsError),
]


@pytest.mark.parametrize("err, code, builtin", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_exit_code_comes_from_the_class(err, code, builtin, monkeypatch, capsys):
    assert isinstance(err, E.D2lnetsError) and isinstance(err, builtin)

    def failing(args):
        raise type(err)("what went wrong; what to do")
    monkeypatch.setattr(summary_command, "run_summary", failing)
    assert main(["summary", "lenet-bn"]) == code
    text = capsys.readouterr().err
    assert "what went wrong; what to do" in text and "Traceback" not in text


def test_every_error_class_is_listed():
    classes = {obj for obj in vars(E).values()
               if isinstance(obj, type) and issubclass(obj, E.D2lnetsError) and obj is not E.D2lnetsError}
    assert classes == {type(c[0]) for c in CASES}


def test_the_old_name_still_works():
    assert E.NonFiniteLossError is E.DivergedError


def test_unknown_model_message_is_not_quoted_like_a_key_error():
    assert str(E.UnknownModelError("unknown model 'x'")) == "unknown model 'x'"


def test_a_bug_is_not_disguised_as_bad_arguments(monkeypatch, capsys):
    """Only d2lnets errors map to their exit codes: a plain ValueError from a bug is
    said to be a bug (exit 1, not 2), in one line, with its traceback in a log file."""
    def buggy(args):
        raise ValueError("a bug")
    monkeypatch.setattr(summary_command, "run_summary", buggy)
    assert main(["summary", "lenet-bn"]) == 1
    err = capsys.readouterr().err
    assert "internal error, a bug in d2lnets (ValueError: a bug)" in err and "Traceback" not in err
    log = Path(err.split("the traceback is in ")[1].split(". ")[0])
    assert 'raise ValueError("a bug")' in log.read_text()


def test_the_crash_log_is_never_written_through_a_planted_link(monkeypatch, capsys, tmp_path):
    """The log's name was guessable (`d2lnets-error-PID.log`): a link planted under
    it for this PID made a bug overwrite the file the link points to."""
    import os
    import tempfile
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / f"d2lnets-error-{os.getpid()}.log").symlink_to(victim)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def buggy(args):
        raise ValueError("a bug")
    monkeypatch.setattr(summary_command, "run_summary", buggy)
    assert main(["summary", "lenet-bn"]) == 1
    err = capsys.readouterr().err
    log = Path(err.split("the traceback is in ")[1].split(". ")[0])
    assert victim.read_text() == "precious" and not log.is_symlink()
    assert log.parent == tmp_path and 'raise ValueError("a bug")' in log.read_text()


@pytest.mark.parametrize("call, says", [
    (lambda d2l: d2l.train_recipe(None), "named by a string"),
    (lambda d2l: d2l.get_model(3), "named by a string"),
    (lambda d2l: d2l.train_recipe("lenet-bn", ctx=mx.gpu(0), data="sample", epochs=1),
     "MXNet sees 0 GPU"),
    (lambda d2l: d2l.train_recipe("lenet-bn", ctx=[], data="sample", epochs=1), "empty list"),
])
def test_the_library_says_what_is_wrong_with_a_call(call, says):
    import d2lnets
    with pytest.raises(E.UsageError, match=says):
        call(d2lnets)


def test_training_without_a_trainer_or_on_no_batches_is_refused():
    from mxnet import gluon

    import d2lnets as d2l
    net = d2l.lenet_bn()
    net.initialize()
    train, test = d2l.load_data_fashion_mnist(100, root="sample")
    with pytest.raises(E.UsageError, match="trainer must be a gluon.Trainer"):
        d2l.train(net, train, test, None, mx.cpu(), 1, log=None)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with pytest.raises(E.UsageError, match="yielded no batches"):  # it "succeeded" with loss 0.0
        d2l.train_ch5(net, [], test, 100, trainer, mx.cpu(), 1)


@pytest.mark.parametrize("args, says", [
    (["train", "lenet-bn", "--kvstore", "bogus"], "not a kvstore d2lnets trains with"),
    (["train", "lenet-bn", "--kvstore", ""], "not a kvstore d2lnets trains with"),
    (["summary", "lenet-bn", "--classes", "100001"], "at most 100000"),
])
def test_bad_command_values_are_named_with_their_limit(args, says, capsys, tmp_path):
    try:
        code = main(args + (["--data", "sample", "--out", str(tmp_path / "o")]
                            if args[0] == "train" else []))
    except SystemExit as end:  # argparse's own refusal
        code = end.code
    assert code == 2 and says in capsys.readouterr().err
