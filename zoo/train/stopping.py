"""Stopping a run on a signal without losing the step it reached."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Interrupted(RuntimeError):
    """Training stopped by SIGTERM or SIGINT after saving the step it reached to last.pt;
    ``signal_name`` is the signal, which the CLI's exit code reports (128 + its number)."""

    def __init__(self, message: str, signal_name: str = "SIGINT"):
        super().__init__(message)
        self.signal_name = signal_name


class StoppedAtOnce(KeyboardInterrupt):
    """A second signal during a step: the run stops without saving the step it reached."""

    def __init__(self, message: str, signal_name: str):
        super().__init__(message)
        self.signal_name = signal_name


@contextmanager
def stop_requests():
    """SIGTERM (a preempted or timed-out job) and SIGINT (Ctrl-C) ask the loop to stop after the
    current step, so the step reached is saved rather than lost back to the last checkpoint.
    A second signal stops at once. Off the main thread, where Python cannot install handlers, the
    signals keep their usual effect."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def request(signum, frame):
        if received:  # the CLI prints this as one line and exits 130 (zoo.cli.main)
            raise StoppedAtOnce(f"stopped at once by a second {signal.Signals(signum).name}, without saving "
                                f"the step reached; the last checkpoint written stays: `zoo train RECIPE "
                                f"--resume` continues from it (in a study, run `zoo ablate STUDY` again)",
                                signal.Signals(signum).name)
        received.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
