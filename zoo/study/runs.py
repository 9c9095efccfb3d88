"""One run of a study, (arm, seed): its recipe, training (or resuming, or skipping), evaluation on
the study's benchmarks (``eval.json``, which marks it finished) and, after the choice, on the
held-back ones (``final.json``); and every run's state for ``--status``. In a study of shipped
weights a run is the shipped file: nothing trains, and its record names the file and its sha256, so
a re-shipped model is evaluated again instead of reported from the old file's record."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from zoo.checkpoint import read_checkpoint
from zoo.report import err_console, provenance, to_json
from zoo.study.config import Arm, BenchmarkSpec, Study, benchmark_key, resolved
from zoo.train.recipe import RecipeError, from_dict, load_recipe
from zoo.train.run_folder import BEST, EVAL, FINAL, LAST, LOG, read_log, trained_checkpoint


def _arm(study: Study, arm: Arm | str) -> Arm:
    return study.arm(arm) if isinstance(arm, str) else arm


def run_path(study: Study, label: str, seed: int) -> Path:
    return Path(study.out) / "runs" / f"{label}-s{seed}"


def run_recipe(study: Study, arm: Arm | str, seed: int, run_dir: Path):
    """The study's recipe with its overrides, the arm's model, the arm's own overrides, seed and folder."""
    arm = _arm(study, arm)
    options = json.dumps(shipped_options(arm.model) if study.weights == "shipped" else arm.options or {})
    return load_recipe(study.recipe, [*study.overrides, f"model.name={arm.model}", f"model.options={options}",
                                      *arm.overrides, f"seed={seed}", f"out={run_dir}"])


def shipped_options(name: str) -> dict:
    """The options the shipped ``name`` was built with (its hidden size, ...): what its costs are measured on."""
    from zoo.checkpoint import shipped_spec

    return shipped_spec(name)["options"]


def shipped_weights(name: str) -> dict:
    from zoo.checkpoint import REGISTRY_DIR

    path = REGISTRY_DIR / f"{name}.safetensors"
    return {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def is_finished(study: Study, label: str, seed: int) -> bool:
    """The run's ``eval.json`` exists and, for shipped weights, was measured on the file shipped now."""
    done = run_path(study, label, seed) / EVAL
    if not done.is_file():
        return False
    if study.weights != "shipped":
        return True
    recorded = json.loads(done.read_text()).get("weights", {}).get("sha256")
    return recorded == shipped_weights(study.arm(label).model)["sha256"]


def train_run(study: Study, arm: Arm | str, seed: int, run_dir: Path) -> None:
    """Train the run, continuing from the study's ``init_from`` weights when it names them; resume
    it when its last checkpoint is short of the recipe's iterations; leave it when it is not."""
    from zoo.train.trainer import train

    arm = _arm(study, arm)
    recipe = run_recipe(study, arm, seed, run_dir)
    last = run_dir / LAST
    resume = last.is_file() and read_checkpoint(last)["train"]["state"]["step"] < recipe.train.iterations
    if last.is_file() and not resume:
        return
    if not last.is_file() and (run_dir / LOG).is_file():
        # killed before its first checkpoint: nothing to continue; this study's own run starts over
        (run_dir / LOG).unlink()
        (run_dir / BEST).unlink(missing_ok=True)
    err_console.rule(f"[bold]{arm.label}[/] seed {seed}" + (" (resuming)" if resume else ""))
    # a resumed run's checkpoint carries the lineage of the weights it started from
    train(recipe, resume=resume, init_from=None if resume else (study.init_from or None))


def check_init(study: Study, recipes: list) -> None:
    """Every run continues from the same weights, all of them: a charset that differs from the
    recipe's would re-initialise the classifier (what ``zoo train --init-from`` does), which is no
    continuation, so a study refuses it before training anything."""
    if not study.init_from:
        return
    from zoo.factory import load_model
    from zoo.data.charset import Charset

    charset = load_model(study.init_from).config.charset
    for recipe in recipes:
        wanted = Charset.resolve(recipe.data.charset).chars
        if charset != wanted:
            raise RecipeError(f"init_from {study.init_from}: its charset {charset!r} differs from {recipe.out}'s "
                              f"data.charset {recipe.data.charset} ({wanted!r}); every run of a study continues "
                              f"from all of the weights: use the charset the weights were trained with")


def run_model(study: Study, label: str, seed: int) -> tuple:
    """The run's model and what its record says of it: the trained checkpoint (its step and
    provenance), or the shipped file (its sha256)."""
    from zoo.factory import checkpoint_model, load_model

    if study.weights == "shipped":
        weights = shipped_weights(study.arm(label).model)
        return load_model(study.arm(label).model), {"checkpoint": f"shipped: {weights['file']}", "weights": weights}
    run_dir = run_path(study, label, seed)
    checkpoint = trained_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} holds no {BEST} or {LAST} to evaluate: train the run first")
    trained = read_checkpoint(checkpoint)
    # the record outlives the checkpoint (studies commit it, not the .pt): it carries the provenance
    return checkpoint_model(trained, checkpoint), {"checkpoint": str(checkpoint), "step": trained["train"]["state"]["step"],
                                                   "trained": trained.get("provenance")}


def evaluate_run(study: Study, label: str, seed: int, specs: list[BenchmarkSpec] | None = None) -> dict:
    """The run's model (trained checkpoint or shipped weights) on ``specs`` (the study's benchmarks unless given)."""
    from zoo.evaluate import evaluate_model

    model, record = run_model(study, label, seed)
    results = {**record, "evaluated": provenance(), "benchmarks": {}}
    for spec in study.benchmarks if specs is None else specs:
        _, ev = evaluate_model(model, resolved(spec), spec.lexicons, spec.limit)
        results["benchmarks"][benchmark_key(spec)] = {
            "protocol": ev.protocol.label, "rows": ev.rows, "counts": ev.counts,
            "correct": {s: [row[f"{s}: correct"] for row in ev.per_image] for s in spec.lexicons},
            "files": [row["file"] for row in ev.per_image]}
    return results


def render_benchmarks(specs: list[BenchmarkSpec], charset: str) -> None:
    """Render the benchmarks that say how (``synth``) and are missing: held-out words, never trained on."""
    from zoo.data.charset import Charset
    from zoo.train.recipe import SynthSection
    from zoo.train.data import ensure_lmdb

    for spec in specs:
        if spec.synth:
            ensure_lmdb(spec.path, from_dict(SynthSection, spec.synth, "benchmarks.synth"), Charset.resolve(charset),
                        "benchmark")


def run_one(study: Study, arm: Arm | str, seed: int) -> Path:
    """Train (or resume) one run and evaluate it; its ``eval.json`` marks it finished."""
    arm = _arm(study, arm)
    run_dir = run_path(study, arm.label, seed)
    done = run_dir / EVAL
    if not is_finished(study, arm.label, seed):
        if study.weights == "trained":
            train_run(study, arm, seed, run_dir)
        err_console.print(f"evaluating {arm.label} " + ("(shipped weights)" if study.weights == "shipped" else f"seed {seed}")
                      + " ...")
        # a run of its own (--only, or a --jobs child) renders what run_study would have rendered first
        render_benchmarks(study.benchmarks, run_recipe(study, arm, seed, Path(study.out)).data.charset)
        to_json(evaluate_run(study, arm.label, seed), done)
    return done


def final_one(study: Study, label: str, seed: int, specs: list[BenchmarkSpec]) -> Path:
    """One finished run on the held-back benchmarks, once: its ``final.json`` records them and the
    arm chosen before they were looked at."""
    run_dir = run_path(study, label, seed)
    done = run_dir / FINAL
    if not done.is_file():
        err_console.print(f"evaluating {label} seed {seed} on the held-back benchmarks ...")
        to_json({**evaluate_run(study, label, seed, specs), "chosen before": study.chosen}, done)
    return done


def study_status(study: Study) -> list[dict]:
    """One row per run: finished (with its accuracies), in progress (last logged step) or not started,
    and whether a checkpoint is on disk (needed to resume it or to draw its receptive fields)."""
    arms = study.arms()
    iterations = run_recipe(study, arms[0], study.seeds[0], Path(study.out)).train.iterations
    rows = []
    for seed in study.seeds:
        for arm in arms:
            run_dir = run_path(study, arm.label, seed)
            log = run_dir / LOG
            steps = [record.get("step", 0) for record in read_log(log)] if log.is_file() else []
            row = {"run": run_dir.name, "state": "not started", "step": max(steps, default=0),
                   "checkpoint on disk": trained_checkpoint(run_dir) is not None}
            if is_finished(study, arm.label, seed):
                record = json.loads((run_dir / EVAL).read_text())
                row.update(state="finished", step=record.get("step", row["step"]))
                for key, bench in record["benchmarks"].items():
                    row.update({f"{key} {r['lexicon']}": r["accuracy (%)"] for r in bench["rows"]})
            elif steps:
                row["state"] = f"training ({row['step']} of {iterations} logged)"
            rows.append(row)
    return rows
