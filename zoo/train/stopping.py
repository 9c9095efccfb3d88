"""Stopping a run on a signal without losing the step it reached."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Interrupted(RuntimeError):
    """Training stopped by SIGTERM or SIGINT after saving the step it reached to last.pt."""


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
            raise KeyboardInterrupt(f"stopped at once by a second {signal.Signals(signum).name}, without saving "
                                    f"the step reached; the last checkpoint written stays: `zoo train RECIPE "
                                    f"--resume` continues from it (in a study, run `zoo ablate STUDY` again)")
        received.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
