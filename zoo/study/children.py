"""``--jobs N``: a study's runs as child processes (``zoo ablate OUT/study.yaml --only ARM:SEED``),
N at a time, each given cores / N threads, stopped together on SIGTERM or Ctrl-C."""
from __future__ import annotations

import time
from pathlib import Path

from zoo.report import write_text
from zoo.study.config import Study, study_tree


def run_children(study: Study, runs: list[tuple[str, int]], jobs: int) -> None:
    """Run ``runs`` as child processes, ``jobs`` at a time; each logs to OUT/runs/<run>.log."""
    import os

    import yaml

    from zoo.report import progress
    from zoo.train.stopping import stop_requests

    out = Path(study.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    study_file = write_text(out / "study.yaml", yaml.safe_dump(study_tree(study), sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}
    queue, running, failed = list(runs), {}, []
    with progress() as bar, stop_requests() as received:
        task = bar.add_task(f"{study.name}: runs, {jobs} at a time", total=len(runs), unit="run")
        while queue or running:
            if received:
                stop_children(running, received[0])
            while queue and len(running) < jobs:
                label, seed = queue.pop(0)
                child, log = start_child(study_file, out, label, seed, env)
                running[child] = log
                bar.console.print(f"started {label} seed {seed} (log: {log})")
            finished = next((p for p in running if p.poll() is not None), None)
            if finished is None:
                time.sleep(1)
                continue
            log = running.pop(finished)
            if finished.returncode:
                failed.append(f"{log} (exit code {finished.returncode})")
            bar.advance(task)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed, see their logs: {'; '.join(failed)}; "
                           f"finished runs are kept, so rerunning the study continues from here")


def start_child(study_file: Path, out: Path, label: str, seed: int, env: dict):
    """The child process of one run, logging to OUT/runs/<label>-s<seed>.log."""
    import subprocess
    import sys

    log = out / "runs" / f"{label}-s{seed}.log"
    command = [sys.executable, "-m", "zoo", "ablate", str(study_file), "--only", f"{label}:{seed}"]
    with open(log, "a", encoding="utf-8") as stream:
        # a session of its own: signals reach a run only through stop_children, once
        child = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return child, log


def stop_children(running: dict, reason: str) -> None:
    """Ask every running run to stop (each saves the step it reached), wait for them, and stop;
    ``reason`` is the signal the study received (SIGINT, SIGTERM)."""
    import signal

    from zoo.train.stopping import Interrupted

    for child in running:
        child.send_signal(signal.SIGTERM)
    for child in running:
        child.wait()
    raise Interrupted(f"study stopped by {reason}: {len(running)} running run(s) saved the step they reached "
                      f"({', '.join(str(log) for log in running.values())}); finished runs are kept: run the "
                      f"same `zoo ablate` command again to continue", reason)
