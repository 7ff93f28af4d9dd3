"""Ctrl-C, SIGTERM, SIGHUP and SIGQUIT as a request to stop between two batches."""
from __future__ import annotations

import os
import signal
import threading
from typing import Any

__all__ = ["StopRequest", "STOP_SIGNALS"]

#: every signal that means "stop" and would otherwise end the run unsaved: Ctrl-C,
#: kill, the terminal or ssh connection closing (SIGHUP), Ctrl-\ (SIGQUIT)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
                     if hasattr(signal, name))


def _silence_terminal() -> None:
    """Point stdout and stderr at /dev/null (what ``nohup`` would have done)."""
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(null, fd)
    os.close(null)


class StopRequest:
    """Turns :data:`STOP_SIGNALS` into a flag the loop checks between batches, so it
    can save the exact position; a second Ctrl-C interrupts at once. Signal
    handlers can only be set in the main thread: elsewhere it never fires."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self._depth = 0  # re-entrant: the command holds it while fit() holds it too

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if signum == getattr(signal, "SIGHUP", None):  # the terminal is gone: writing to it
            _silence_terminal()                        # would fail before the run is saved
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "stop"

    def __enter__(self) -> StopRequest:
        self._depth += 1
        if self._depth == 1 and threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            for sig, old in self._old.items():
                signal.signal(sig, old)
            self._old.clear()
