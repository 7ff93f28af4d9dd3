"""Every error d2lnets raises on purpose, in one hierarchy.

The command line maps an error to its exit code through the class alone
(:attr:`D2lnetsError.exit_code`): 2 for a wrong use (bad arguments, an unknown
model), 1 for a run-time failure (data, checkpoint, divergence, export), 130 for
an interruption after a checkpoint. Each class also derives from the built-in
type a library user would catch (``ValueError``, ``KeyError``, ``RuntimeError``),
so ``except ValueError`` around a d2lnets call keeps working.
"""
from __future__ import annotations

__all__ = ["D2lnetsError", "UsageError", "UnknownModelError", "DataError", "CheckpointError",
           "DivergedError", "NonFiniteLossError", "ExportError", "TrainingInterrupted",
           "RunFolderBusy", "EnvironmentProblem", "BadEnvironment", "MXNetUnavailable",
           "mxnet_reason"]


class D2lnetsError(Exception):
    """Base of every d2lnets error; the message says what was wrong and what to do."""

    exit_code = 1


class UsageError(D2lnetsError, ValueError):
    """The call or the command line asked for something that cannot be done."""

    exit_code = 2


class UnknownModelError(UsageError, KeyError):
    """A model name that is not in the registry (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(D2lnetsError, RuntimeError):
    """Missing, unreadable or corrupt data; the message says which file and what to do."""


class CheckpointError(D2lnetsError, RuntimeError):
    """A checkpoint could not be written or read; the message says what is kept."""


class DivergedError(D2lnetsError, FloatingPointError):
    """The loss became NaN or infinite, or exploded past ``max_loss`` per
    example; the last good checkpoint is kept."""

    @classmethod
    def of(cls, run: object, what: str, batch: int | None = None) -> DivergedError:
        """The error for ``run`` (the loop's ``Run``) at ``batch`` (default the
        current one), with the learning rate to lower and what is kept."""
        last = getattr(run, "last_checkpoint", None)
        kept = (f"The last good checkpoint, {last}, is kept." if last
                else "No checkpoint was written before it.")
        batch = getattr(run, "batch", 0) if batch is None else batch
        return cls(f"the loss {what} in epoch {getattr(run, 'epoch', 0) + 1} (batch {batch}) at "
                   f"learning rate {run.trainer.learning_rate:g}: training diverged. Lower the "
                   f"learning rate (--lr) and run again. {kept}")


#: the name used before DivergedError existed
NonFiniteLossError = DivergedError


class ExportError(D2lnetsError, RuntimeError):
    """A model could not be exported (missing onnx, an unwritable folder, ...)."""


class RunFolderBusy(D2lnetsError, RuntimeError):
    """Another process is writing the same run folder."""


class EnvironmentProblem(D2lnetsError, RuntimeError):
    """The installation cannot work (no MXNet, numpy too new, two MXNet builds)."""


class BadEnvironment(EnvironmentProblem, ValueError):
    """An environment variable that MXNet or OpenMP would choke on (set by the user)."""

    exit_code = 2


class MXNetUnavailable(EnvironmentProblem, ImportError):
    """MXNet cannot be imported (not installed, or numpy too new for it)."""


class TrainingInterrupted(D2lnetsError):
    """Ctrl-C (SIGINT) or SIGTERM stopped the run after saving a checkpoint."""

    exit_code = 130

    def __init__(self, message: str, checkpoint: str | None = None, signum: int = 2):
        super().__init__(message)
        self.checkpoint, self.signum = checkpoint, signum


def mxnet_reason(err: BaseException) -> str:
    """The one informative line of an MXNet error, without its C++ traceback:
    ``Check failed: ...`` where there is one, else the last plain line."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    checks = [ln.split("Check failed:", 1)[1].strip() for ln in lines if "Check failed:" in ln]
    plain = [ln for ln in lines if not ln.startswith(("Traceback", "File ", "[bt]", "Stack trace"))
             and not ln[:1].isdigit()]
    found = checks[0] if checks else (plain[-1] if plain else type(err).__name__)
    return found.split("] ", 1)[-1][:200]
