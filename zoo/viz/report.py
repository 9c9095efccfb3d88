"""``zoo viz rf``'s report: run the study, then write PNG figures, ``report.html``, ``report.json``
(every number) and the summary tables as Markdown/CSV/JSON."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Sequence

from zoo.report import (console, html_table, markdown_table, note, progress, provenance, rich_table, to_json,
                        write_table, write_text)
from zoo.viz import figures
from zoo.viz.inputs import ImageSet, Subject, open_image
from zoo.viz.study import (DEFAULT_ITERATIONS, ImageResult, growth_with_iterations, has_iterations, study_image,
                           summary_row, theoretical)

METHODS = {
    "gradient": "S = sum, over the frames whose best-path class is not the blank, of log p(that class); "
                "the map is |dS/dx| per input pixel, max over input channels (vanilla gradient of the full "
                "recogniser: CNN + BiLSTM head). When the best path is all blank, S sums over every frame.",
    "occlusion": "S as for the gradient method, with the best path fixed at the unoccluded image; the map is "
                 "S(x) - S(x with an 8x8 patch set to the image mean), patches slid with stride 4, each pixel "
                 "averaging the patches that cover it (positive = the pixels help the transcription).",
}
FRAME_METHOD = ("Effective receptive field of frame i: |d/dx sum_c backbone(x)[c, 0, i]|, max over input "
                "channels, on the CNN backbone alone (the BiLSTM makes every frame depend on the whole line). "
                "Column mass = that map summed over rows; its 50%/90% extent is the width of the narrowest run "
                "of columns holding 50%/90% of the mass; its effective centre is the mass's centre column. "
                "The nominal centre and theoretical span come from the layers' kernels, strides and paddings "
                "(frame i is centred on column c0 + stride * i).")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def build_report(subjects: list[Subject], images: ImageSet, out_dir: str | Path, method: str = "gradient",
                 iterations: Sequence[int] = DEFAULT_ITERATIONS, max_frames: int | None = None,
                 seed: int = 0) -> dict:
    """Study every subject on every image, write the report into ``out_dir``, return its JSON."""
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    out = Path(out_dir)
    pictures = [open_image(p) for p in images.paths]
    growth_names = list(dict.fromkeys(s.name for s in subjects if has_iterations(s.name)))
    with progress() as bar:
        results = {}
        for subject in subjects:
            task = bar.add_task(subject.label, total=len(pictures), unit="img")
            results[subject.label] = []
            for path, picture in zip(images.paths, pictures):
                results[subject.label].append(study_image(subject, picture, path, images.label(path), method, max_frames))
                bar.advance(task)
        growth = []
        if growth_names and iterations:
            task = bar.add_task("effective field vs T", total=len(growth_names) * len(iterations) * len(pictures), unit="img")
            for name in growth_names:
                growth += growth_with_iterations(name, pictures, iterations, seed, lambda: bar.advance(task))
        task = bar.add_task("figures", total=None, unit="fig")
        figure_paths = write_figures(subjects, results, growth, images, out / "figures", method,
                                     lambda: bar.advance(task))
    summary = [summary_row(s, results[s.label]) for s in subjects]
    report = {
        "meta": {**provenance(), "method": method, "max_frames": max_frames, "seed": seed,
                 "iterations": list(iterations)},
        "methods": {"saliency": METHODS[method], "frame_field": FRAME_METHOD},
        "images": {"used": [str(p) for p in images.paths], "found": images.found,
                   "left_out_by_limit": images.found - len(images.paths), "ignored_non_images": images.ignored},
        "models": {s.label: {"name": s.name, "weights": s.weights, "trained": s.trained,
                             "options": dict(s.model.config.options), "theoretical": theoretical(s),
                             "summary": row, "images": [r.as_dict() for r in results[s.label]]}
                   for s, row in zip(subjects, summary)},
        "growth_with_iterations": growth,
        "figures": {k: str(Path(v).relative_to(out)) for k, v in figure_paths.items()},
    }
    console.print(rich_table(summary, "Receptive fields (ERF = effective field of one frame, mean over frames and images)"))
    write_table(summary, out, "rf_summary", "Receptive fields per model", meta={"method": method})
    if growth:
        console.print(rich_table(growth, "Effective field of the middle frame against T (untrained, seeded)"))
        write_table(growth, out, "rf_growth", "Receptive field against the iteration count T")
    to_json(report, out / "report.json")
    write_text(out / "report.html", render_html(report, subjects))
    note(f"wrote {out / 'report.html'}, {out / 'report.json'} and {len(figure_paths)} figures in {out / 'figures'}",
         label="")
    return report


def write_figures(subjects: list[Subject], results: dict[str, list[ImageResult]], growth: list[dict],
                  images: ImageSet, fig_dir: Path, method: str, advance) -> dict[str, Path]:
    paths = {}
    rows = []
    for i, path in enumerate(images.paths):
        first = results[subjects[0].label][i]
        truth = images.label(path)
        rows.append({"label": path.name + (f"  \u2014 truth \u201c{truth}\u201d" if truth else ""),
                     "picture": figures.picture(first.input, subjects[0].model.config),
                     "cells": [(results[s.label][i].saliency.map, results[s.label][i].decoded) for s in subjects]})
    columns = [s.label + ("" if s.trained else "\n(untrained)") for s in subjects]
    paths["saliency_grid"] = figures.saliency_grid(rows, columns, fig_dir / "saliency_grid.png", method)
    advance()
    paths["theoretical"] = figures.theoretical_plot(
        {s.label: s.model.backbone.receptive_field_table() for s in subjects}, fig_dir / "rf_theoretical.png")
    advance()
    if growth:
        paths["growth"] = figures.growth_plot(growth, fig_dir / "rf_growth.png")
        advance()
    for s in subjects:
        for result in results[s.label]:
            key = f"{slug(s.label)}_{slug(result.path.stem)}"
            title = f"{s.label} on {result.path.name}: reads \u201c{result.decoded}\u201d"
            paths[f"frames_{key}"] = figures.frames_figure(result, s.model.config, fig_dir / f"frames_{key}.png", title)
            advance()
            if result.gates:
                paths[f"gates_{key}"] = figures.gates_figure(result, s.model.config, fig_dir / f"gates_{key}.png",
                                                             f"{s.label}: GRCL gates on {result.path.name}")
                advance()
    return paths


def _figure(report: dict, key: str, caption: str) -> str:
    src = report["figures"].get(key)
    if not src:
        return ""
    return f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%}figure{margin:1.5em 0}
figcaption{color:#555;font-size:0.9em}.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:0.6em 1em}
.method{background:#f6f8fa;padding:0.6em 1em;font-size:0.92em}details{margin:0.5em 0}"""


def render_html(report: dict, subjects: list[Subject]) -> str:
    meta, models = report["meta"], report["models"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Receptive-field report</title>"
             f"<style>{CSS}</style></head><body><h1>Receptive-field report</h1>",
             f"<p>commit {html.escape(meta['commit'])} &middot; torch {meta['torch']} &middot; {meta['created']} "
             f"&middot; saliency: <b>{meta['method']}</b></p>"]
    untrained = [s.label for s in subjects if not s.trained]
    if untrained:
        parts.append(f"<p class='warn'><b>Untrained models:</b> {html.escape(', '.join(untrained))} have random "
                     f"weights (registry defaults, seed {meta['seed']}). Their maps show what the architecture "
                     "lets each output see, not what a trained recogniser attends to; their transcriptions are "
                     "meaningless. Without <code>--untrained</code> a name reads with its shipped weights; "
                     "<code>--checkpoints</code> adds trained runs.</p>")
    imgs = report["images"]
    parts.append(f"<p>{len(imgs['used'])} image(s) of {imgs['found']} found"
                 + (f" ({imgs['left_out_by_limit']} left out by --limit)" if imgs["left_out_by_limit"] else "")
                 + (f"; {len(imgs['ignored_non_images'])} non-image file(s) ignored: "
                    f"{html.escape(', '.join(Path(p).name for p in imgs['ignored_non_images']))}" if imgs["ignored_non_images"] else "")
                 + ".</p>")
    parts.append("<h2>Saliency</h2>" + f"<p class='method'>{html.escape(report['methods']['saliency'])}</p>"
                 + _figure(report, "saliency_grid", "Rows: input images; columns: one saliency map per model "
                           "(each scaled to its 99th percentile)."))
    parts.append("<h2>Summary</h2>" + html_table([m["summary"] for m in models.values()]))
    parts.append("<h2>Theoretical receptive field</h2>"
                 + _figure(report, "theoretical", "Receptive field (px of width) after each spatial layer.")
                 + "".join(f"<details><summary>{html.escape(label)}: {m['theoretical']['receptive_field']} px, "
                           f"stride {m['theoretical']['horizontal_stride']} px</summary>"
                           f"{html_table(m['theoretical']['layers'])}</details>" for label, m in models.items()))
    if report["growth_with_iterations"]:
        parts.append("<h2>Effective receptive field against the iteration count T</h2>"
                     "<p>Each model rebuilt untrained with T iterations (seeded), middle frame, mean over the "
                     "images. The effective widths cannot exceed the image width.</p>"
                     + _figure(report, "growth", "Theoretical (dashed) and effective widths against T.")
                     + html_table(report["growth_with_iterations"]))
    parts.append(f"<h2>Per frame</h2><p class='method'>{html.escape(report['methods']['frame_field'])}</p>")
    for label, m in models.items():
        parts.append(f"<h3>{html.escape(label)}</h3><p>weights: {html.escape(m['weights'])}</p>")
        for image in m["images"]:
            key = f"{slug(label)}_{slug(Path(image['file']).stem)}"
            parts.append(_figure(report, f"frames_{key}", f"{Path(image['file']).name}: alignment, single-frame "
                                 "maps (dashed box: theoretical field), every frame's field, widths and centre offsets."))
            parts.append(_figure(report, f"gates_{key}", "GRCL gates per layer (rows) and iteration (columns)."))
    parts.append("<h2>Provenance</h2><pre>" + html.escape(markdown_table([meta])) + "</pre></body></html>")
    return "\n".join(parts)
