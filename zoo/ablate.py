"""Backbone ablation studies: train every listed model on the identical recipe for several seeds,
evaluate each run on the listed benchmarks, measure speed in the same run, and report.

A study is YAML (``recipes/ablations/*.yaml``): a base training recipe shared by every model, the
models (registered names with options), seeds, overrides applied to all, and benchmarks. Runs live
in ``out/runs/<model>-s<seed>``; a finished run (its ``eval.json`` exists) is not redone, an
interrupted one resumes from its checkpoint.
"""
from __future__ import annotations

import itertools
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from zoo.checkpoint import read_checkpoint
from zoo.report import console, html_table, markdown_table, provenance, rich_table, to_json, write_table, write_text
from zoo.train.recipe import RecipeError, from_dict, load_recipe, parse_yaml


@dataclass
class BenchmarkSpec:
    name: str = ""                      # a suite name (ic03, svt, ic13-857, ...): path, protocol and lexicons follow
    path: str = ""                      # or a folder / LMDB (e.g. held-out rendered words)
    protocol: str = "ic03-860"
    lexicons: list | None = None        # None: the suite benchmark's standard settings (a path: none)
    limit: int = 0                      # evaluate the first N images only (0: all)
    synth: dict | None = None           # {n, seed}: render this LMDB of held-out words when it is missing
    optional: bool = False              # absent: skip it (said loudly, recorded in the report), not an error


@dataclass
class Study:
    name: str = "study"
    recipe: str = "recipes/cpu/grcnn.yaml"   # the training recipe every model shares
    models: dict = field(default_factory=dict)   # name -> create_model options
    seeds: list = field(default_factory=lambda: [0, 1, 2])
    overrides: list = field(default_factory=list)   # --set style, applied to every run
    benchmarks: list = field(default_factory=lambda: [{"name": "ic03"}])
    speed_batch: int = 64               # inference batch for the speed columns (training: the recipe's)
    bootstrap: int = 10_000             # bootstrap draws (seeds and images) for the significance table
    alpha: float = 0.05                 # family-wise error rate of each significance table (Holm)
    out: str = "runs/ablations/study"
    skipped_benchmarks: list = field(default_factory=list)  # filled by load_study: optional ones absent


def load_study(path: str | Path, overrides: list[str] = ()) -> Study:
    if not Path(path).is_file():
        raise FileNotFoundError(f"study {path} does not exist; recipes/ablations/ holds the built-in ones")
    tree = parse_yaml(Path(path).read_text(), str(path)) or {}
    for item in overrides:
        key, _, value = item.partition("=")
        tree[key] = parse_yaml(value, f"--set {item!r}")
    study = from_dict(Study, tree, "")
    study.benchmarks = [suite_entry(from_dict(BenchmarkSpec, b, f"benchmarks[{i}]"), f"{path}: benchmarks[{i}]")
                        for i, b in enumerate(study.benchmarks)]
    if not study.models:
        raise RecipeError(f"{path}: a study needs at least one entry under 'models'")
    kept = []
    for spec in study.benchmarks:
        if Path(spec.path).exists() or spec.synth:
            kept.append(spec)
        elif spec.optional:
            study.skipped_benchmarks.append(spec.path)
            console.print(f"[yellow]note:[/] benchmark {spec.path} is absent: skipped (optional in {path}); "
                          f"the report lists it as skipped")
        else:
            raise FileNotFoundError(f"{path}: benchmark {spec.path} does not exist (paths are relative to the "
                                    f"directory you run zoo from; mark it `optional: true` to skip it when absent)")
    if not kept:
        raise FileNotFoundError(f"{path}: none of the benchmarks exists ({', '.join(study.skipped_benchmarks)})")
    study.benchmarks = kept
    return study


def suite_entry(spec: BenchmarkSpec, where: str) -> BenchmarkSpec:
    """A study benchmark with its path, protocol and lexicon settings filled in from the suite when
    it is named (under the data root, ``zoo.data.benchmarks.data_root``)."""
    from zoo.data.benchmarks import SUITE, data_root

    if bool(spec.name) == bool(spec.path):
        raise RecipeError(f"{where}: give a suite name ({', '.join(SUITE)}) or a path, one of the two")
    if spec.name:
        if spec.name not in SUITE:
            raise RecipeError(f"{where}: {spec.name!r} is not a suite benchmark; known: {', '.join(SUITE)}")
        suite = SUITE[spec.name]
        spec.path, spec.protocol = str(data_root() / suite.folder), suite.protocol
        if spec.lexicons is None:
            present = [s for s in suite.lexicons if s == "full" or (Path(spec.path) / f"lexicon_{s}.txt").is_file()]
            spec.lexicons = ["none", *present]
    spec.lexicons = spec.lexicons or ["none"]
    return spec


def resolved(spec: BenchmarkSpec):
    """The study entry as ``zoo.data.benchmarks.Resolved`` (its suite entry when named)."""
    from zoo.data.benchmarks import SUITE, Resolved

    return Resolved(Path(spec.path), spec.protocol, SUITE.get(spec.name), bool(spec.name))


# ------------------------------------------------------------------------------------------------
# One run: train (or resume, or skip), then evaluate


def run_recipe(study: Study, model: str, seed: int, run_dir: Path):
    options = json.dumps(study.models[model] or {})
    return load_recipe(study.recipe, [*study.overrides, f"model.name={model}", f"model.options={options}",
                                      f"seed={seed}", f"out={run_dir}"])


def train_run(study: Study, model: str, seed: int, run_dir: Path) -> None:
    from zoo.train.trainer import train

    recipe = run_recipe(study, model, seed, run_dir)
    last = run_dir / "last.pt"
    resume = last.is_file() and read_checkpoint(last)["train"]["state"]["step"] < recipe.train.iterations
    if last.is_file() and not resume:
        return
    if not last.is_file() and (run_dir / "log.jsonl").is_file():
        # killed before its first checkpoint: nothing to continue; this study's own run starts over
        (run_dir / "log.jsonl").unlink()
        (run_dir / "best.pt").unlink(missing_ok=True)
    console.rule(f"[bold]{model}[/] seed {seed}" + (" (resuming)" if resume else ""))
    train(recipe, resume=resume)


def evaluate_run(study: Study, run_dir: Path) -> dict:
    from zoo.checkpoint import checkpoint_model
    from zoo.evaluate import evaluate_model

    checkpoint = trained_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} holds no best.pt or last.pt to evaluate: train the run first")
    trained = read_checkpoint(checkpoint)
    model = checkpoint_model(trained, checkpoint)
    # the record outlives the checkpoint (studies commit it, not the .pt): it carries the provenance
    results = {"checkpoint": str(checkpoint), "step": trained["train"]["state"]["step"],
               "trained": trained.get("provenance"), "evaluated": provenance(), "benchmarks": {}}
    for spec in study.benchmarks:
        _, ev = evaluate_model(model, resolved(spec), spec.lexicons, spec.limit)
        results["benchmarks"][benchmark_key(spec)] = {
            "protocol": ev.protocol.label, "rows": ev.rows, "counts": ev.counts,
            "correct": {s: [row[f"{s}: correct"] for row in ev.per_image] for s in spec.lexicons},
            "files": [row["file"] for row in ev.per_image]}
    return results


def benchmark_key(spec: BenchmarkSpec) -> str:
    return (spec.name or Path(spec.path).name) + (f"[:{spec.limit}]" if spec.limit else "")


# ------------------------------------------------------------------------------------------------
# Aggregation


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int, seed: int = 0) -> dict:
    """Bootstrap of the difference in accuracy between two models over both sources of chance.

    ``a``/``b`` are (seeds, images) 0/1 arrays of two models on the same images. Each draw resamples
    the test images (once, the same images for both models: paired) and each model's seeds
    (independently: seed i of A is no more related to seed i of B than to seed j), so a model whose
    result depends on its seed cannot win on the test images alone. With one seed per model this is
    the paired bootstrap over images. p: two-sided, (count + 1) / (resamples + 1), never 0.
    """
    rng = np.random.default_rng(seed)
    images = a.shape[1]
    counts = rng.multinomial(images, np.full(images, 1 / images), size=resamples)  # images drawn, per draw
    draws = np.arange(resamples)[:, None]

    def accuracy(x: np.ndarray) -> np.ndarray:  # (resamples,): mean over resampled seeds and images
        per_seed = counts @ x.T / images
        return per_seed[draws, rng.integers(0, len(x), (resamples, len(x)))].mean(1)

    means = accuracy(a) - accuracy(b)
    tail = min((means <= 0).sum(), (means >= 0).sum())
    p = min(1.0, 2 * (tail + 1) / (resamples + 1))
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference (pts)": round(100 * (a.mean() - b.mean()), 2), "95% CI low": round(100 * low, 2),
            "95% CI high": round(100 * high, 2), "p": round(float(p), 4)}


def model_costs(study: Study, model: str, train_batch: int, bf16: bool) -> dict:
    """Parameters, GFLOPs and images/s (inference at ``speed_batch``, training at the recipe's batch
    and precision) of the study's configuration of ``model``, measured now on this machine."""
    from zoo.bench import TrainingStep, images, inference_call, interleaved_medians
    from zoo.models.profile import count_parameters, gflops
    from zoo.registry import create_model

    net = create_model(model, **(study.models[model] or {}))
    config = net.config
    infer = interleaved_medians({"m": inference_call(net.eval(), images(study.speed_batch, in_chans=config.in_chans))}, 3)
    # timed as `zoo train` runs: channels_last, bf16 autocast when the recipe says so
    step = TrainingStep(net, images(train_batch, in_chans=config.in_chans), net.num_classes, bf16=bf16,
                        channels_last=True)
    trained = interleaved_medians({"m": step}, 3)
    return {"params (M)": round(count_parameters(net) / 1e6, 2), "GFLOPs": round(gflops(net), 2),
            "train img/s": round(train_batch / trained["m"], 1),
            "infer img/s": round(study.speed_batch / infer["m"], 1)}


def accuracy_tables(study: Study, evals: dict, costs: dict) -> dict[str, list[dict]]:
    from zoo.data.benchmarks import paper_numbers, setting_title
    from zoo.registry import get_config

    tables = {}
    for spec in study.benchmarks:
        key = benchmark_key(spec)
        for setting in spec.lexicons:
            rows = []
            for model in study.models:
                correct = [evals[model][s]["benchmarks"][key]["correct"][setting] for s in study.seeds]
                accs = [100 * float(np.mean(c)) for c in correct]
                reported = paper_numbers(get_config(model).reported, resolved(spec),
                                         len(correct[0])).get(setting_title(setting))
                rows.append({"model": model, "accuracy % (mean)": round(statistics.mean(accs), 2),
                             "std": round(statistics.stdev(accs), 2) if len(accs) > 1 else 0.0,
                             "per seed": " ".join(f"{a:.1f}" for a in accs), "paper": reported, **costs[model]})
            tables[f"{key} {setting}"] = rows
    return tables


def significance_tables(study: Study, evals: dict) -> dict[str, list[dict]]:
    tables = {}
    for spec in study.benchmarks:
        key = benchmark_key(spec)
        for setting in spec.lexicons:
            def correct(model):
                return np.array([evals[model][s]["benchmarks"][key]["correct"][setting] for s in study.seeds], float)
            rows = [{"A": a, "B": b, **paired_bootstrap(correct(a), correct(b), study.bootstrap)}
                    for a, b in itertools.combinations(study.models, 2)]
            tables[f"{key} {setting}"] = with_verdicts(rows, study.alpha)
    return tables


def with_verdicts(rows: list[dict], alpha: float) -> list[dict]:
    """Add which model of each pair is better, or that the data cannot tell, keeping the chance of any
    false "better" in the table at ``alpha``: Holm's step-down over the table's p-values (every pair
    of k models is tested at once, so p < alpha alone would find a difference somewhere too often)."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["p"])
    real = set()
    for rank, i in enumerate(order):
        if rows[i]["p"] > alpha / (len(rows) - rank):
            break
        real.add(i)
    return [{**row, "verdict": (f"{row['A'] if row['difference (pts)'] > 0 else row['B']} better" if i in real
                                else "no real difference")} for i, row in enumerate(rows)]


def summary_table(accuracy: dict[str, list[dict]]) -> list[dict]:
    """One row per model: mean +- std over seeds in every benchmark setting, then the costs."""
    tables = list(accuracy.values())
    costs = ["params (M)", "GFLOPs", "train img/s", "infer img/s"]
    return [{"model": rows[0]["model"],
             **{name: f"{r['accuracy % (mean)']:.2f} ± {r['std']:.2f}" for name, r in zip(accuracy, rows)},
             **{c: rows[0][c] for c in costs}} for rows in zip(*tables)]


# ------------------------------------------------------------------------------------------------
# Figures and the report


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def cost_figure(rows: list[dict], setting: str, path: Path) -> Path:
    """Accuracy (mean +- std over seeds) against GFLOPs, parameters and inference speed."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110, sharey=True)
    for ax, cost in zip(axes, ["GFLOPs", "params (M)", "infer img/s"]):
        for row in rows:
            ax.errorbar(row[cost], row["accuracy % (mean)"], yerr=row["std"], fmt="o", capsize=4, markersize=7,
                        label=row["model"])
        ax.set_xlabel(cost)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"word accuracy % ({setting})")
    axes[0].legend(loc="best", fontsize=8)  # a legend, not labels beside points: close points would overlap
    fig.suptitle(f"Accuracy against cost: {setting} (mean and std over seeds)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def curves_figure(study: Study, run_dirs: dict, path: Path) -> Path:
    """Training loss of every model, mean over seeds, on a log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for model in study.models:
        per_seed = []
        for seed in study.seeds:
            log = run_dirs[model, seed] / "log.jsonl"
            records = [json.loads(line) for line in log.read_text().splitlines()]
            per_seed.append({r["step"]: r["loss"] for r in records if r.get("loss") is not None})
        steps = sorted(set.intersection(*(set(s) for s in per_seed)))
        ax.plot(steps, [statistics.mean(s[k] for s in per_seed) for k in steps], label=model, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training CTC loss (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def trained_checkpoint(run_dir: Path) -> Path | None:
    """The run's best checkpoint, else its last, else None (a finished run's record may be all that is
    left of it: studies commit eval.json and log.jsonl, not checkpoints)."""
    return next((c for c in (run_dir / "best.pt", run_dir / "last.pt") if c.is_file()), None)


def receptive_field_grid(study: Study, run_dirs: dict, out: Path) -> int | None:
    """The receptive-field report of one seed's trained models on four benchmark images: the first seed
    whose every model still has a checkpoint on disk. Returns that seed, or None (said, not skipped
    silently) when no seed has them all."""
    from zoo.viz import build_report
    from zoo.viz.inputs import find_images, load_subjects

    for seed in study.seeds:
        checkpoints = [trained_checkpoint(run_dirs[m, seed]) for m in study.models]
        if all(checkpoints):
            images = find_images([str(image_folder(study.benchmarks[0].path, out / "inputs", 4))], 4)
            build_report(load_subjects([], [str(c) for c in checkpoints]), images, out, "gradient",
                         iterations=(), max_frames=8)
            return seed
    console.print("[yellow]no receptive-field grid: no seed has a checkpoint of every model on disk "
                  "(runs/*/best.pt); delete one seed's eval.json files to train that seed again[/]")
    return None


def image_folder(benchmark: str, scratch: Path, count: int) -> Path:
    """A folder of the benchmark's images: the benchmark itself, or an LMDB's first ``count``
    images (with gt.txt) written to ``scratch``."""
    if not (Path(benchmark) / "data.mdb").is_file():
        return Path(benchmark)
    from zoo.data.lmdb import LmdbReader

    reader = LmdbReader(benchmark)
    scratch.mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(1, min(count, len(reader)) + 1):  # the public layout counts from 1
        reader.image(index).save(scratch / f"{index:03d}.png")
        lines.append(f"{index:03d}.png\t{reader.label(index)}\n")
    write_text(scratch / "gt.txt", "".join(lines))
    return scratch


def run_study(study: Study, source: str = "", jobs: int = 1) -> Path:
    """Train and evaluate every run that is not finished, ``jobs`` at a time, then report.

    With ``jobs`` > 1 each run is a child process (``zoo ablate OUT/study.yaml --only MODEL:SEED``)
    given cores / jobs threads: on a small CPU several one-thread runs finish sooner than the same
    runs one after another on every thread (per-step overheads do not parallelise)."""
    out = Path(study.out)
    recipe = run_recipe(study, next(iter(study.models)), study.seeds[0], out)  # shared by every run but the model
    render_benchmarks(study, recipe.data.charset)
    run_dirs = {(m, s): out / "runs" / f"{m}-s{s}" for m in study.models for s in study.seeds}
    pending = sorted((key for key, run_dir in run_dirs.items() if not (run_dir / "eval.json").is_file()),
                     key=lambda key: (study.seeds.index(key[1]), list(study.models).index(key[0])))
    if jobs > 1 and len(pending) > 1:
        run_children(study, pending, jobs)
    for model, seed in pending:
        run_one(study, model, seed)
    evals = {m: {s: json.loads((run_dirs[m, s] / "eval.json").read_text()) for s in study.seeds} for m in study.models}
    console.print("measuring speed ...")
    costs = {m: model_costs(study, m, recipe.train.batch_size, recipe.train.bf16) for m in study.models}
    return write_report(study, source, out, recipe, run_dirs, evals, costs)


def render_benchmarks(study: Study, charset: str) -> None:
    """Render the benchmarks that say how (``synth``) and are missing: held-out words, never trained on."""
    from zoo.data.charset import Charset
    from zoo.train.recipe import SynthSection
    from zoo.train.trainer import ensure_lmdb

    for spec in study.benchmarks:
        if spec.synth:
            ensure_lmdb(spec.path, from_dict(SynthSection, spec.synth, "benchmarks.synth"), Charset.resolve(charset),
                        "benchmark")


def run_one(study: Study, model: str, seed: int) -> Path:
    """Train (or resume) one run and evaluate it; its ``eval.json`` marks it finished."""
    run_dir = Path(study.out) / "runs" / f"{model}-s{seed}"
    done = run_dir / "eval.json"
    if not done.is_file():
        train_run(study, model, seed, run_dir)
        console.print(f"evaluating {model} seed {seed} ...")
        to_json(evaluate_run(study, run_dir), done)
    return done


def study_status(study: Study) -> list[dict]:
    """One row per run: finished (with its accuracies), in progress (last logged step) or not started,
    and whether a checkpoint is on disk (needed to resume it or to draw its receptive fields)."""
    iterations = run_recipe(study, next(iter(study.models)), study.seeds[0], Path(study.out)).train.iterations
    rows = []
    for seed in study.seeds:
        for model in study.models:
            run_dir = Path(study.out) / "runs" / f"{model}-s{seed}"
            log = run_dir / "log.jsonl"
            steps = [json.loads(line).get("step", 0) for line in log.read_text().splitlines()] if log.is_file() else []
            row = {"run": run_dir.name, "state": "not started", "step": max(steps, default=0),
                   "checkpoint on disk": trained_checkpoint(run_dir) is not None}
            if (run_dir / "eval.json").is_file():
                record = json.loads((run_dir / "eval.json").read_text())
                row.update(state="finished", step=record.get("step", row["step"]))
                for key, bench in record["benchmarks"].items():
                    row.update({f"{key} {r['lexicon']}": r["accuracy (%)"] for r in bench["rows"]})
            elif steps:
                row["state"] = f"training ({row['step']} of {iterations} logged)"
            rows.append(row)
    return rows


def run_children(study: Study, runs: list[tuple[str, int]], jobs: int) -> None:
    """Run ``runs`` as child processes, ``jobs`` at a time; each logs to OUT/runs/<run>.log."""
    import os
    import subprocess
    import sys

    import yaml

    from zoo.report import progress
    from zoo.train.trainer import stop_requests

    out = Path(study.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    study_file = write_text(out / "study.yaml", yaml.safe_dump(asdict(study), sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}
    queue, running, failed = list(runs), {}, []
    with progress() as bar, stop_requests() as received:
        task = bar.add_task(f"{study.name}: runs, {jobs} at a time", total=len(runs), unit="run")
        while queue or running:
            if received:
                stop_children(running, received[0])
            while queue and len(running) < jobs:
                model, seed = queue.pop(0)
                log = out / "runs" / f"{model}-s{seed}.log"
                command = [sys.executable, "-m", "zoo", "ablate", str(study_file), "--only", f"{model}:{seed}"]
                with open(log, "a", encoding="utf-8") as stream:
                    # a session of its own: signals reach a run only through stop_children, once
                    child = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env,
                                             start_new_session=True)
                running[child] = log
                bar.console.print(f"started {model} seed {seed} (log: {log})")
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


def stop_children(running: dict, reason: str) -> None:
    """Ask every running run to stop (each saves the step it reached), wait for them, and stop."""
    import signal

    from zoo.train.trainer import Interrupted

    for child in running:
        child.send_signal(signal.SIGTERM)
    for child in running:
        child.wait()
    raise Interrupted(f"study stopped by {reason}: {len(running)} running run(s) saved the step they reached "
                      f"({', '.join(str(log) for log in running.values())}); finished runs are kept: run the "
                      f"same `zoo ablate` command again to continue")


def write_report(study: Study, source: str, out: Path, recipe, run_dirs: dict, evals: dict, costs: dict) -> Path:
    accuracy = accuracy_tables(study, evals, costs)
    significance = significance_tables(study, evals)
    figures = {"curves": curves_figure(study, run_dirs, out / "curves.png").name}
    for name, rows in accuracy.items():
        figures[f"cost {name}"] = cost_figure(rows, name, out / f"cost_{name.replace(' ', '_')}.png").name
    field_seed = receptive_field_grid(study, run_dirs, out / "receptive_fields")
    meta = {"study": study.name, "source": source, "seeds": study.seeds, "recipe": study.recipe,
            "overrides": study.overrides, "train data": recipe.data.train, "iterations": recipe.train.iterations,
            "batch": recipe.train.batch_size, "alpha": study.alpha, "skipped benchmarks": study.skipped_benchmarks,
            **provenance()}
    summary = summary_table(accuracy)
    for name, rows in accuracy.items():
        console.print(rich_table(rows, f"{study.name}: {name} word accuracy (%)"))
        write_table(rows, out / "tables", f"accuracy_{name.replace(' ', '_')}", name, meta=meta)
    for name, rows in significance.items():
        console.print(rich_table(rows, f"{name}: bootstrap over seeds and images (A - B)"))
        write_table(rows, out / "tables", f"significance_{name.replace(' ', '_')}", name, meta=meta)
    console.print(rich_table(summary, f"{study.name}: word accuracy (%), mean ± std over {len(study.seeds)} seeds"))
    write_table(summary, out / "tables", "summary", "summary", meta=meta)
    report = {"meta": meta, "summary": summary, "accuracy": accuracy, "significance": significance,
              "figures": figures,
              "receptive_fields": {"seed": field_seed,
                                   "report": None if field_seed is None else "receptive_fields/report.html"},
              "runs": {f"{m}-s{s}": evals[m][s]["checkpoint"] for m, s in run_dirs}}
    to_json(report, out / "report.json")
    write_text(out / "report.md", markdown_report(report))
    write_text(out / "report.html", html_report(report))
    console.print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return out / "report.md"


def receptive_field_note(fields: dict, html: bool = False) -> str:
    if fields["seed"] is None:
        return ("Not drawn: no seed had a checkpoint of every model on disk when this report was written "
                "(checkpoints are not committed).")
    link = (f"<a href='{fields['report']}'>report</a>" if html else f"[report]({fields['report']})")
    return f"The seed-{fields['seed']} models: {link} (saliency grid, per-frame fields, GRCNN gates)."


def markdown_report(report: dict) -> str:
    meta = report["meta"]
    lines = [f"# Ablation: {meta['study']}", "",
             f"Every model trained with the identical recipe (`{meta['recipe']}`, overrides {meta['overrides']}), "
             f"{meta['iterations']} iterations at batch {meta['batch']} on `{meta['train data']}`, seeds "
             f"{meta['seeds']}. Accuracy: mean and standard deviation over seeds; `paper`: the paper's reported "
             f"number (trained on millions of MJSynth images for 300k iterations, not comparable in scale).", "",
             "## Summary", "", "Word accuracy (%), mean ± std over seeds, per benchmark and lexicon setting:", "",
             markdown_table(report["summary"]), ""]
    for name, rows in report["accuracy"].items():
        lines += [f"## {name}", "", markdown_table(rows), f"![cost]({report['figures'][f'cost {name}']})", ""]
        lines += [f"Bootstrap over seeds and test images, images paired (A - B, points; p two-sided; verdict: "
                  f"Holm-corrected at {meta['alpha']} over the table's pairs):", "",
                  markdown_table(report["significance"][name]), ""]
    lines += ["## Training curves", "", f"![curves]({report['figures']['curves']})", "",
              "## Receptive fields of the trained models", "", receptive_field_note(report["receptive_fields"]), "",
              "## Provenance", ""] + [f"- {k}: {v}" for k, v in meta.items()]
    return "\n".join(lines) + "\n"


def html_report(report: dict) -> str:
    import html

    parts = [f"<h1>Ablation: {html.escape(report['meta']['study'])}</h1>", "<h2>Summary</h2>",
             "<p>Word accuracy (%), mean ± std over seeds</p>", html_table(report["summary"])]
    for name, rows in report["accuracy"].items():
        parts += [f"<h2>{html.escape(name)}</h2>", html_table(rows),
                  f"<img src='{report['figures'][f'cost {name}']}' style='max-width:100%'>",
                  f"<p>Bootstrap over seeds and test images, images paired (A - B, points; verdict "
                  f"Holm-corrected at {report['meta']['alpha']})</p>", html_table(report["significance"][name])]
    parts += ["<h2>Training curves</h2>", f"<img src='{report['figures']['curves']}' style='max-width:100%'>",
              f"<h2>Receptive fields</h2><p>{receptive_field_note(report['receptive_fields'], html=True)}</p>",
              "<h2>Provenance</h2>", html_table([report["meta"]])]
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(parts)}</body></html>"
