"""A study's report: ``report.{md,html,json}``, ``tables/`` and the figures, from every run's record.

Models studies: one row per model. Data studies: one row per variant of one model, each continuing
from the same weights, with a panel of its rendered training words; the held-back test benchmarks
appear only once ``zoo ablate STUDY --final`` has evaluated them, after the choice."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from zoo.report import console, err_console, html_table, markdown_table, provenance, rich_table, to_json, write_table, write_text
from zoo.study.config import Study, benchmark_key
from zoo.study.figures import cost_figure, curves_figure, receptive_field_grid, sample_panels
from zoo.study.stats import accuracy_tables, resampled, significance_tables, spread, summary_table


@dataclass
class Outcome:
    """What a report is written from: each arm's recipe, the run folders and records, the costs."""
    recipes: dict                       # label -> the arm's recipe (first seed)
    run_dirs: dict                      # (label, seed) -> run folder
    evals: dict                         # label -> seed -> eval.json record
    costs: dict                         # label -> cost columns
    final: dict | None = None           # label -> seed -> final.json record, once --final evaluated them


def study_meta(study: Study, source: str, outcome: Outcome) -> dict:
    """The report's provenance; a data study also names its model, starting weights and variants."""
    recipes = list(outcome.recipes.values())
    recipe = recipes[0]
    iterations = {label: r.train.iterations for label, r in outcome.recipes.items()}
    meta = {"study": study.name, "source": source, "seeds": study.seeds, "recipe": study.recipe,
            "overrides": study.overrides, "train data": recipe.data.train,
            "iterations": recipe.train.iterations if len(set(iterations.values())) == 1 else iterations,
            "batch": recipe.train.batch_size, "alpha": study.alpha, "skipped benchmarks": study.skipped_benchmarks,
            "weights": study.weights}
    if study.weights == "shipped":
        meta["weights"] = {label: per_seed[study.seeds[0]]["weights"] for label, per_seed in outcome.evals.items()}
        for key in ("recipe", "overrides", "train data", "iterations"):  # nothing trained: the cards say how
            meta.pop(key)
    if study.variants:
        meta["train data"] = {a.variant: outcome.recipes[a.label].data.train for a in study.arms()}
        meta["variants"] = study.variants
        meta["model"] = ", ".join(sorted({f"{r.model.name} {r.model.options}" for r in recipes}))
        meta["reference"] = study.reference_arm()
    if study.init_from:
        meta["init_from"] = study.init_from
    if study.final_benchmarks:
        meta["held-back benchmarks"] = [benchmark_key(s) for s in study.final_benchmarks]
        meta["chosen"] = study.chosen
    return {**meta, **provenance()}


def _slug(name: str) -> str:
    """A table's name as a file name: "ic03[:100] none" -> "ic03-first100_none" (no brackets or colons)."""
    return name.replace("[:", "-first").replace("]", "").replace(" ", "_")


def publish_tables(study: Study, out: Path, meta: dict, accuracy: dict, significance: dict, prefix: str = "") -> None:
    """Print each table and write it under ``out/tables`` (md, csv, json)."""
    for name, rows in accuracy.items():
        console.print(rich_table(rows, f"{study.name}: {name} word accuracy (%)"))
        write_table(rows, out / "tables", f"{prefix}accuracy_{_slug(name)}", name, meta=meta)
    for name, rows in significance.items():
        console.print(rich_table(rows, f"{name}: bootstrap over {resampled(study.seeds)} (A - B)"))
        write_table(rows, out / "tables", f"{prefix}significance_{_slug(name)}", name, meta=meta)


def final_section(study: Study, out: Path, meta: dict, outcome: Outcome) -> dict:
    """The held-back benchmarks: their tables once --final has evaluated every run, else a note."""
    section = {"benchmarks": meta["held-back benchmarks"], "evaluated": outcome.final is not None,
               "chosen": study.chosen}
    if outcome.final is None:
        return section
    records = [r for per_seed in outcome.final.values() for r in per_seed.values()]
    specs = [s for s in study.final_benchmarks if all(benchmark_key(s) in r["benchmarks"] for r in records)]
    section["chosen"] = records[0].get("chosen before", study.chosen)
    section["accuracy"] = accuracy_tables(study, outcome.final, outcome.costs, specs)
    section["significance"] = significance_tables(study, outcome.final, specs)
    publish_tables(study, out, meta, section["accuracy"], section["significance"], prefix="final_")
    return section


def write_report(study: Study, source: str, out: Path, outcome: Outcome) -> Path:
    accuracy = accuracy_tables(study, outcome.evals, outcome.costs)
    significance = significance_tables(study, outcome.evals)
    curves = curves_figure(study, outcome.run_dirs, out / "curves.png")
    figures = {"curves": curves and curves.name}
    if not (study.variants and not study.models):  # a variants study's arms share one model: one cost
        for name, rows in accuracy.items():
            figures[f"cost {name}"] = cost_figure(rows, name, out / f"cost_{_slug(name)}.png", spread(study.seeds)).name
    field_seed = receptive_field_grid(study, outcome.run_dirs, out / "receptive_fields")
    meta = study_meta(study, source, outcome)
    summary = summary_table(accuracy)
    publish_tables(study, out, meta, accuracy, significance)
    console.print(rich_table(summary, f"{study.name}: word accuracy (%), {spread(study.seeds)}"))
    write_table(summary, out / "tables", "summary", "summary", meta=meta)
    report = {"meta": meta, "summary": summary, "accuracy": accuracy, "significance": significance,
              "figures": figures,
              "receptive_fields": {"seed": field_seed,
                                   "report": None if field_seed is None else "receptive_fields/report.html"},
              "runs": {f"{label}-s{s}": outcome.evals[label][s]["checkpoint"] for label, s in outcome.run_dirs}}
    if study.variants:
        report["samples"] = sample_panels(study, outcome.recipes, out)
    if study.final_benchmarks:
        report["final"] = final_section(study, out, meta, outcome)
    to_json(report, out / "report.json")
    write_text(out / "report.md", markdown_report(report))
    write_text(out / "report.html", html_report(report))
    err_console.print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return out / "report.md"


# ------------------------------------------------------------------------------------------------
# Markdown and HTML


def receptive_field_note(fields: dict, html: bool = False) -> str:
    if fields["seed"] is None:
        return ("Not drawn: no seed had a checkpoint of every model on disk when this report was written "
                "(checkpoints are not committed).")
    link = (f"<a href='{fields['report']}'>report</a>" if html else f"[report]({fields['report']})")
    return f"The seed-{fields['seed']} models: {link} (saliency grid, per-frame fields, GRCNN gates)."


def title(meta: dict) -> str:
    kind = "Comparison of the shipped models" if isinstance(meta["weights"], dict) else "Ablation"
    return f"{kind}: {meta['study']}"


def intro(meta: dict) -> str:
    if isinstance(meta["weights"], dict):
        return ("The zoo's shipped weights of every model (registry/NAME.safetensors, files and sha256 under "
                "Provenance), evaluated as they are: nothing was trained for this report; each model's card "
                "(registry/NAME.yaml) says how its weights were made. One run per model, so significance is the "
                "paired bootstrap over test images. Costs (parameters, GFLOPs, images/s) are measured now on "
                "this machine; `paper`: the paper's reported number (trained on millions of MJSynth images).")
    if "variants" not in meta:
        return (f"Every model trained with the identical recipe (`{meta['recipe']}`, overrides {meta['overrides']}), "
                f"{meta['iterations']} iterations at batch {meta['batch']} on `{meta['train data']}`, seeds "
                f"{meta['seeds']}. Accuracy: mean and standard deviation over seeds; `paper`: the paper's reported "
                f"number (trained on millions of MJSynth images for 300k iterations, not comparable in scale).")
    start = f"continuing from the same weights (`{meta['init_from']}`)" if meta.get("init_from") else "from scratch"
    held = ""
    if meta.get("held-back benchmarks"):
        held = (f" The variant is chosen on the benchmarks below; the test benchmarks "
                f"({', '.join(meta['held-back benchmarks'])}) are held back until the choice is recorded "
                f"(last section).")
    return (f"Every variant trains {meta['model']} {start} with the identical recipe (`{meta['recipe']}`, "
            f"overrides {meta['overrides']}) for the same budget, {meta['iterations']} iterations at batch "
            f"{meta['batch']}, seeds {meta['seeds']}; the variants differ only in their own overrides (below). "
            f"Accuracy: mean and standard deviation over seeds; significance: each variant against "
            f"`{meta['reference']}` first.{held}")


NOT_TRAINED_HERE = "None: nothing was trained for this report; each model's card (registry/NAME.yaml) says how its weights were made."


def curves_markdown(curves: str | None) -> str:
    return f"![curves]({curves})" if curves else NOT_TRAINED_HERE


def variant_rows(report: dict) -> list[dict]:
    meta = report["meta"]
    return [{"variant": name, "overrides": "; ".join(items), "train data": meta["train data"].get(name)}
            for name, items in meta["variants"].items()]


def final_note(final: dict) -> str:
    names = ", ".join(final["benchmarks"])
    if not final["evaluated"]:
        return (f"{names}: not evaluated yet. A variant is chosen on the benchmarks above first; then "
                f"`zoo ablate STUDY --set chosen=NAME --final` records the choice and evaluates every run on "
                f"these, once.")
    return (f"Evaluated by `zoo ablate STUDY --final` after **{final['chosen']}** had been chosen on the "
            f"benchmarks above; {names} played no part in that choice.")


def markdown_report(report: dict) -> str:
    meta = report["meta"]
    lines = [f"# {title(meta)}", "", intro(meta), ""]
    if "variants" in meta:
        lines += ["## Variants", "", markdown_table(variant_rows(report)), ""]
    lines += ["## Summary", "", f"Word accuracy (%), {spread(meta['seeds'])}, per benchmark and lexicon setting:", "",
              markdown_table(report["summary"]), ""]
    lines += markdown_sections(report["accuracy"], report["significance"], report["figures"], meta["alpha"], resampled(meta["seeds"]))
    if "samples" in report:
        lines += ["## Rendered training samples", "", "The first words of each variant's training data:", ""]
        for name, panel in report["samples"].items():
            lines += [f"### {name}", "", f"![{name}]({panel})" if panel else "Not drawn: its LMDB was not on disk.", ""]
    if "final" in report:
        final = report["final"]
        lines += ["## Held-back test benchmarks (after the choice)", "", final_note(final), ""]
        if final["evaluated"]:
            lines += markdown_sections(final["accuracy"], final["significance"], {}, meta["alpha"], resampled(meta["seeds"]), "###")
    lines += ["## Training curves", "", curves_markdown(report['figures']['curves']), "",
              "## Receptive fields of the trained models", "", receptive_field_note(report["receptive_fields"]), "",
              "## Provenance", ""] + [f"- {k}: {v}" for k, v in meta.items()]
    return "\n".join(lines) + "\n"


def markdown_sections(accuracy: dict, significance: dict, figures: dict, alpha: float, drawn: str,
                      heading: str = "##") -> list[str]:
    lines = []
    for name, rows in accuracy.items():
        lines += [f"{heading} {name}", "", markdown_table(rows)]
        lines += [f"![cost]({figures[f'cost {name}']})"] if f"cost {name}" in figures else []
        lines += ["", f"Bootstrap over {drawn}, images paired (A - B, points; p two-sided; verdict: "
                      f"Holm-corrected at {alpha} over the table's pairs):", "",
                  markdown_table(significance[name]), ""]
    return lines


def html_sections(accuracy: dict, significance: dict, figures: dict, alpha: float, drawn: str,
                  heading: str = "h2") -> list[str]:
    parts = []
    for name, rows in accuracy.items():
        parts += [f"<{heading}>{html.escape(name)}</{heading}>", html_table(rows)]
        if f"cost {name}" in figures:
            parts.append(f"<img src='{figures[f'cost {name}']}' style='max-width:100%'>")
        parts += [f"<p>Bootstrap over {drawn}, images paired (A - B, points; verdict "
                  f"Holm-corrected at {alpha})</p>", html_table(significance[name])]
    return parts


def html_report(report: dict) -> str:
    meta = report["meta"]
    parts = [f"<h1>{html.escape(title(meta))}</h1>", f"<p>{html.escape(intro(meta))}</p>"]
    if "variants" in meta:
        parts += ["<h2>Variants</h2>", html_table(variant_rows(report))]
    parts += ["<h2>Summary</h2>", f"<p>Word accuracy (%), {spread(meta['seeds'])}</p>", html_table(report["summary"])]
    parts += html_sections(report["accuracy"], report["significance"], report["figures"], meta["alpha"], resampled(meta["seeds"]))
    if "samples" in report:
        parts.append("<h2>Rendered training samples</h2>")
        for name, panel in report["samples"].items():
            parts += [f"<h3>{html.escape(name)}</h3>",
                      f"<img src='{panel}' style='max-width:100%'>" if panel else "<p>Not drawn: no LMDB on disk.</p>"]
    if "final" in report:
        final = report["final"]
        parts += ["<h2>Held-back test benchmarks (after the choice)</h2>", f"<p>{html.escape(final_note(final))}</p>"]
        if final["evaluated"]:
            parts += html_sections(final["accuracy"], final["significance"], {}, meta["alpha"], resampled(meta["seeds"]), "h3")
    curves = report["figures"]["curves"]
    parts += ["<h2>Training curves</h2>", f"<img src='{curves}' style='max-width:100%'>" if curves
              else f"<p>{html.escape(NOT_TRAINED_HERE)}</p>",
              f"<h2>Receptive fields</h2><p>{receptive_field_note(report['receptive_fields'], html=True)}</p>",
              "<h2>Provenance</h2>", html_table([meta])]
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(parts)}</body></html>"
