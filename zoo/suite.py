"""The benchmark suite: several models over several benchmarks, and the one combined table papers print.

Each benchmark's images are read and preprocessed once for all models that share a preprocessing.
The combined table has a row per model and a column per benchmark and lexicon setting, then the
lexicon-free total weighted by images over the benchmarks present (a standard subset, IC13-857,
counts once: inside its superset when both are present), and below, the reported rows: the CRNN and
GRCNN papers, Baek et al. 2019's re-trained models and Tesseract, each only beside a whole standard set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from zoo.data.benchmarks import REFERENCE_ROWS, Benchmark, Resolved, get_protocol, load_resolved, paper_numbers
from zoo.evaluate import Evaluation, evaluate, model_log_probs, pad_with_blanks

ALWAYS_AVAILABLE = ("none", "full", "50k")


@dataclass
class SuiteResult:
    model: str                      # the label of the model's row
    item: Resolved
    benchmark: Benchmark
    evaluation: Evaluation


def load_suite(items: Sequence[Resolved], settings: Sequence[str] | None, limit: int = 0,
               allow_missing: bool = False) -> list[tuple[Resolved, Benchmark, list[str]]]:
    """Every benchmark loaded (counts checked) with its lexicon settings, before any model runs: a
    setting no benchmark has is an error now, not after the forward passes."""
    loaded = []
    for item in items:
        benchmark = load_resolved(item, allow_missing)
        benchmark = benchmark.first(limit, get_protocol(item.protocol)) if limit else benchmark
        if settings is None:
            chosen = item.spec.settings(benchmark) if item.spec else ["none"]
        else:
            chosen = [s for s in settings if s in ALWAYS_AVAILABLE or s in benchmark.lexicon_names]
        loaded.append((item, benchmark, ["none", *[s for s in chosen if s != "none"]]))
    for setting in settings or ():
        if not any(setting in chosen for _, _, chosen in loaded):
            names = sorted({n for _, b, _ in loaded for n in b.lexicon_names})
            raise ValueError(f"--lexicon {setting}: no benchmark of this run has it; available: "
                             f"{', '.join([*ALWAYS_AVAILABLE, *names])} (a per-image lexicon comes from "
                             f"lexicon_<name>.txt)")
    return loaded


def run_suite(models: dict[str, object], loaded: list[tuple[Resolved, Benchmark, list[str]]],
              batch_size: int = 64, on_batch: Callable[[int], None] | None = None, **decoding) -> list[SuiteResult]:
    """Each model on each loaded benchmark (``decoding``: evaluate's decoder options). Benchmarks of
    one folder (IC13-857 and IC13-1015) share one forward pass per image, and an image no protocol
    of the run evaluates is never run through a model."""
    results = []
    for path, samples in folder_samples(loaded).items():
        row = {name: i for i, name in enumerate(samples)}
        cache: dict = {}
        for label, model in models.items():
            log_probs = with_blank_row(model_log_probs(model, list(samples.values()), batch_size, on_batch, cache)
                                       if samples else torch.zeros(0, 1, model.config.num_classes))
            for item, benchmark, settings in [entry for entry in loaded if entry[0].path == path]:
                paper = paper_numbers(model.config.reported, item, len(benchmark.samples))
                rows = [row.get(s.name, -1) for s in benchmark.samples]  # -1: the blank row (not evaluated)
                evaluation = evaluate(log_probs[rows], model.config.charset, benchmark, get_protocol(item.protocol),
                                      settings, paper=paper, **decoding)
                results.append(SuiteResult(label, item, benchmark, evaluation))
    return results


def folder_samples(loaded: list[tuple[Resolved, Benchmark, list[str]]]) -> dict:
    """Per folder, the union of the samples its benchmarks' protocols evaluate, by name, in order:
    what the models must read."""
    folders: dict = {}
    for item, benchmark, _ in loaded:
        protocol = get_protocol(item.protocol)
        kept = folders.setdefault(item.path, {})  # a folder whose protocol keeps nothing is still evaluated: an error
        for sample in benchmark.samples:
            if protocol.exclusion(sample.label) is None:
                kept.setdefault(sample.name, sample)
    return folders


def with_blank_row(log_probs: torch.Tensor) -> torch.Tensor:
    """``log_probs`` with one more image, certainly blank, last: what an image that is not evaluated
    gets (``evaluate`` counts it as filtered by the protocol and never decodes it). A zero-frame
    output padded with blanks by ``pad_with_blanks``, as shorter outputs are."""
    return pad_with_blanks([*log_probs, log_probs.new_zeros(0, log_probs.shape[-1])])


def combined_table(results: Sequence[SuiteResult], reference: dict[str, dict] | None = None) -> list[dict]:
    """A row per model (then per reference), a column per benchmark and setting, and the weighted
    lexicon-free total. ``reference``: row name -> {suite title: {setting title: accuracy}}."""
    columns, whole, images, in_total = {}, {}, {}, {}
    names = {r.item.spec.name for r in results if r.item.spec}
    for r in results:
        for row in r.evaluation.rows:
            columns.setdefault(f"{r.item.title} {row['lexicon']}", (r.item.title, row["lexicon"]))
        whole[r.item.title] = r.item.spec is not None and r.evaluation.counts["evaluated"] == r.item.spec.count
        images[r.item.title] = r.evaluation.counts["evaluated"]
        in_total[r.item.title] = not (r.item.spec and r.item.spec.subset_of in names)
    counted = [t for t, kept in in_total.items() if kept]
    total_column = f"total None ({sum(images[t] for t in counted)} images)"
    rows = []
    for model in dict.fromkeys(r.model for r in results):
        accuracy = {(r.item.title, row["lexicon"]): row["accuracy (%)"]
                    for r in results if r.model == model for row in r.evaluation.rows}
        rows.append({"model": model, **{c: accuracy.get(key) for c, key in columns.items()},
                     total_column: _weighted(accuracy, images, counted)})
    for name, reported in (reference or {}).items():
        accuracy = {(t, s): reported.get(t, {}).get(s) for t, s in columns.values() if whole[t]}
        if any(v is not None for v in accuracy.values()):
            total = _weighted(accuracy, images, counted) if all(whole[t] for t in counted) else None
            rows.append({"model": f"reported: {name}", **{c: accuracy.get(key) for c, key in columns.items()},
                         total_column: total})
    return rows


def _weighted(accuracy: dict, images: dict, titles: list[str]) -> float | None:
    values = [accuracy.get((t, "None")) for t in titles]
    if any(v is None for v in values):
        return None
    return round(sum(v * images[t] for v, t in zip(values, titles)) / sum(images[t] for t in titles), 2)


def reference_rows() -> dict[str, dict]:
    """The papers' own numbers (ModelConfig.reported of crnn_vgg and grcnn), then REFERENCE_ROWS."""
    from zoo.factory import get_config

    papers = {get_config(m).paper: get_config(m).reported for m in ("crnn_vgg", "grcnn")}
    return {**papers, **REFERENCE_ROWS}

