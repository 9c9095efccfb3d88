"""Ablation studies (``zoo ablate``): train every arm of a study on the identical recipe for several
seeds, evaluate each run on the listed benchmarks, measure speed in the same run, test significance
and report.

A study is YAML (``recipes/ablations/*.yaml``, ``zoo.study.config``): a base training recipe shared
by every run, the arms (``models:`` several models, or ``variants:`` of one ``model:``'s data, each a
list of ``--set`` overrides, optionally all continuing from ``init_from`` weights), seeds, overrides
applied to all, the benchmarks the runs are compared and chosen on and, held back, those evaluated
only by ``--final`` once the choice is recorded. Runs live in ``out/runs/<arm>-s<seed>``; a finished
run (its ``eval.json`` exists) is not redone, an interrupted one resumes from its checkpoint. With
``weights: shipped`` nothing trains: each model's shipped weights are evaluated and compared.
"""
from __future__ import annotations

import json
from pathlib import Path

from zoo.report import err_console
from zoo.study.children import run_children, stop_children
from zoo.study.config import Arm, BenchmarkSpec, Study, load_study, present_benchmarks
from zoo.study.figures import image_folder
from zoo.study.report import Outcome, write_report
from zoo.study.runs import (check_init, evaluate_run, final_one, is_finished, render_benchmarks, run_one, run_path,
                            run_recipe, study_status, train_run)
from zoo.study.stats import arm_costs, paired_bootstrap, with_verdicts
from zoo.train.recipe import RecipeError
from zoo.train.run_folder import EVAL, FINAL

__all__ = ["Arm", "BenchmarkSpec", "Study", "evaluate_run", "image_folder", "load_study", "paired_bootstrap",
           "run_one", "run_study", "stop_children", "study_status", "train_run", "with_verdicts"]


def run_study(study: Study, source: str = "", jobs: int = 1, final: bool = False) -> Path:
    """Train and evaluate every run that is not finished, ``jobs`` at a time, then report; with
    ``final``, also evaluate every finished run on the held-back benchmarks (``final_benchmarks``).

    With ``jobs`` > 1 each run is a child process (``zoo ablate OUT/study.yaml --only ARM:SEED``)
    given cores / jobs threads: on a small CPU several one-thread runs finish sooner than the same
    runs one after another on every thread (per-step overheads do not parallelise)."""
    out = Path(study.out)
    arms = study.arms()
    recipes = {a.label: run_recipe(study, a, study.seeds[0], out) for a in arms}  # the arms' own data and model
    charset = recipes[arms[0].label].data.charset
    run_dirs = {(a.label, s): run_path(study, a.label, s) for a in arms for s in study.seeds}
    labels = [a.label for a in arms]
    pending = sorted((key for key in run_dirs if not is_finished(study, *key)),
                     key=lambda key: (study.seeds.index(key[1]), labels.index(key[0])))
    if final:
        check_final(study, pending)
    render_benchmarks(study.benchmarks, charset)
    if pending and study.weights == "trained":
        check_init(study, [recipes[label] for label in dict.fromkeys(label for label, _ in pending)])
    if jobs > 1 and len(pending) > 1:
        run_children(study, pending, jobs)
    for label, seed in pending:
        run_one(study, label, seed)
    evals = _records(study, run_dirs, EVAL)
    held_back = final_records(study, run_dirs, charset, final)
    err_console.print("measuring speed ...")
    costs = arm_costs(study, recipes)
    return write_report(study, source, out, Outcome(recipes, run_dirs, evals, costs, held_back))


def check_final(study: Study, pending: list) -> None:
    """``--final`` looks at the held-back benchmarks once the choice is made: on every run's
    results, and written down (``chosen``) before anything is evaluated."""
    if not study.final_benchmarks:
        raise RecipeError(f"--final: study {study.name} holds no benchmarks back (list them under final_benchmarks)")
    if pending:
        raise RecipeError(f"--final: {len(pending)} run(s) are not finished ({', '.join(f'{a}-s{s}' for a, s in pending)}); "
                          f"finish the study (`zoo ablate STUDY`), choose on its report, then run --final")
    if not study.chosen:
        raise RecipeError("--final: record the arm you chose on the study's benchmarks first, `chosen: NAME` in the "
                          "study or --set chosen=NAME; the held-back benchmarks are looked at only after the choice")


def final_records(study: Study, run_dirs: dict, charset: str, final: bool) -> dict | None:
    """Every run's ``final.json`` (evaluated now when ``final``), or None while any run lacks one."""
    if not study.final_benchmarks:
        return None
    if final:
        specs = present_benchmarks(study.final_benchmarks, f"{study.name}: final_benchmarks", study.skipped_benchmarks)
        render_benchmarks(specs, charset)
        for label, seed in run_dirs:
            final_one(study, label, seed, specs)
    if not all((run_dir / FINAL).is_file() for run_dir in run_dirs.values()):
        return None
    return _records(study, run_dirs, FINAL)


def _records(study: Study, run_dirs: dict, name: str) -> dict:
    return {a.label: {s: json.loads((run_dirs[a.label, s] / name).read_text()) for s in study.seeds}
            for a in study.arms()}
