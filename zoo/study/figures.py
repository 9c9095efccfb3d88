"""A study report's pictures: accuracy against cost, training curves, the trained models' receptive
fields, and each data variant's rendered training samples."""
from __future__ import annotations

import statistics
from pathlib import Path

from zoo.outputs import is_zoo_png, save_png
from zoo.report import err_console, write_text
from zoo.study.config import Study
from zoo.train.run_folder import BEST, EVAL, LOG, read_log, trained_checkpoint


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def cost_figure(rows: list[dict], setting: str, path: Path, spread: str) -> Path:
    """Accuracy (mean +- std over seeds, or one run's) against GFLOPs, parameters and inference speed."""
    from zoo.study.stats import accuracy_of

    plt = _pyplot()
    label = next(iter(rows[0]))  # the first column: model or variant
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110, sharey=True)
    for ax, cost in zip(axes, ["GFLOPs", "params (M)", "infer img/s"]):
        for row in rows:
            ax.errorbar(row[cost], *accuracy_of(row), fmt="o", capsize=4, markersize=7,
                        label=row[label])
        ax.set_xlabel(cost)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"word accuracy % ({setting})")
    axes[0].legend(loc="best", fontsize=8)  # a legend, not labels beside points: close points would overlap
    fig.suptitle(f"Accuracy against cost: {setting} ({spread})")
    fig.tight_layout()
    save_png(fig, path, flag="out")
    plt.close(fig)
    return path


def curves_figure(study: Study, run_dirs: dict, path: Path) -> Path | None:
    """Training loss of every arm, mean over seeds, on a log scale; None for shipped weights, whose
    training happened elsewhere (their cards say how)."""
    if study.weights == "shipped":
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for arm in study.arms():
        per_seed = []
        for seed in study.seeds:
            records = read_log(run_dirs[arm.label, seed] / LOG)
            per_seed.append({r["step"]: r["loss"] for r in records if r.get("loss") is not None})
        steps = sorted(set.intersection(*(set(s) for s in per_seed)))
        ax.plot(steps, [statistics.mean(s[k] for s in per_seed) for k in steps], label=arm.label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training CTC loss (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path, flag="out")
    plt.close(fig)
    return path


def receptive_field_grid(study: Study, run_dirs: dict, out: Path) -> int | None:
    """The receptive-field report of one seed's trained models (or the shipped ones) on the first
    benchmark's first ``receptive_field_images`` images (four by default): the first seed whose every
    arm still has a checkpoint on disk. Returns that seed, or None (said, not skipped silently) when
    no seed has them all."""
    from zoo.viz import build_report
    from zoo.viz.inputs import find_images, load_subjects

    for seed in study.seeds:
        if study.weights == "shipped":
            subjects = load_subjects([a.model for a in study.arms()], [])
        else:
            checkpoints = [trained_checkpoint(run_dirs[a.label, seed]) for a in study.arms()]
            if not all(checkpoints):
                continue
            subjects = load_subjects([], [str(c) for c in checkpoints])
        count = study.receptive_field_images
        images = find_images([str(image_folder(study.benchmarks[0].path, out / "inputs", count))], count)
        build_report(subjects, images, out, "gradient", iterations=(), max_frames=8)
        return seed
    err_console.print("[yellow]no receptive-field grid: no seed has a checkpoint of every model on disk "
                  f"(runs/*/{BEST}); delete one seed's {EVAL} files to train that seed again[/]")
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
        save_png(reader.image(index), scratch / f"{index:03d}.png", flag="out")
        lines.append(f"{index:03d}.png\t{reader.label(index)}\n")
    # gt.txt has no comment syntax: it is the zoo's beside the zoo's own first image
    write_text(scratch / "gt.txt", "".join(lines), ours=lambda gt: is_zoo_png(gt.with_name("001.png")))
    return scratch


SAMPLES = 24  # rendered training words shown per variant: the first ones, so variants of one seed show the same words


def sample_panels(study: Study, recipes: dict, out: Path) -> dict[str, str | None]:
    """``out/samples/<variant>.png``: the first ``SAMPLES`` words of each variant's training LMDB
    (``zoo.data.preview``), redrawn while the LMDB is on disk, kept when only the panel is (a study
    continued on a fresh checkout); None for a variant with neither. Models studies have none."""
    from zoo.data.preview import write_grid

    panels = {}
    for arm in study.arms():
        if not arm.variant or arm.variant in panels:
            continue
        train, panel = Path(recipes[arm.label].data.train), out / "samples" / f"{arm.variant}.png"
        if train.exists():
            write_grid(train, panel, n=SAMPLES)
        elif not panel.is_file():
            err_console.print(f"[yellow]no sample panel for {arm.variant}: its training data {train} is not on disk[/]")
        panels[arm.variant] = f"samples/{panel.name}" if panel.is_file() else None
    return panels
