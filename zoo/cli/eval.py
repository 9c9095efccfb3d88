"""``zoo eval``: word accuracy of models on the benchmark suite, lexicon-free and lexicon-based."""
from __future__ import annotations

import argparse
import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path



@dataclass
class EvalRecipe:
    """An evaluation recipe (``zoo eval --recipe``): the command's options as YAML keys, read and
    checked as training recipes and studies are (``zoo.train.recipe.from_dict``: unknown keys with
    their closest names, wrong types); the command line overrides each key it sets."""
    description: str = ""
    model: str | list | None = None      # registry names, checkpoints or weight files
    benchmark: str | list | None = None  # suite names or paths
    lexicon: str | list | None = None    # None: each benchmark's standard settings
    protocol: str | None = None
    decoder: str = "greedy"
    beam_width: int = 10
    large_lexicon: str = "edit"
    delta: int = 3
    untrained: bool = False
    seed: int = 0
    precision: str = "fp32"


# option: default, used when neither the command line nor a recipe sets it
DEFAULTS = {f.name: f.default for f in fields(EvalRecipe) if f.name != "description"}

EXAMPLES = """examples:
  zoo eval grcnn --benchmark all                      every suite benchmark under the data root, standard lexicons
  zoo eval grcnn crnn_vgg rcnn densenet --benchmark svt,ic13-857,ic03 --out runs/eval/suite
  zoo eval runs/grcnn/last.pt --benchmark ic03 --lexicon none,50,full,50k
  zoo eval --recipe recipes/eval/grcnn.yaml --out runs/eval/grcnn
  zoo eval grcnn --untrained --benchmark ic03 --limit 100
  zoo eval crnn_vgg.safetensors --benchmark iiit5k.lmdb --protocol alphanumeric --lexicon none,50

benchmarks (folder under the data root; protocol; standard lexicons):
  iiit5k     iiit5k/  alphanumeric, 3000 images; 50, 1k
  svt        svt/     alphanumeric, 647; 50
  ic03       ic03/    ic03-860 (alphanumeric, >= 3 characters), 860; 50, full
  ic13-857   ic13/    ic03-860 rule, 857        ic13-1015  ic13/  alphanumeric, 1015
  ic15-2077  ic15/    alphanumeric-strip, 2077  svtp  svtp/  645    cute80  cute80/  288
The data root is --data-root, else $ZOO_DATA_ROOT, else ../shared/data (relative to where you run zoo)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, at_least

    p = subparsers.add_parser(
        "eval", help="word accuracy on the benchmark suite: lexicon-free and with 50 / 1k / Full / 50k lexicons",
        formatter_class=HelpFormatter, epilog=EXAMPLES,
        description="Evaluate models on standard benchmarks by name (each with its protocol, image count "
                    "and lexicons) or on any folder (gt.txt + lexicon_<name>.txt) or LMDB (lexicon-%09d keys). "
                    "Prints a table per model and benchmark with the paper's numbers beside, then one "
                    "combined table (a row per model, a column per benchmark and setting, the weighted "
                    "total, the reported rows); --out writes suite.md/csv/json and, per model and "
                    "benchmark, eval.*, by_length.*, confusions.* and per_image.csv. Lexicon decoding "
                    "picks the word with the highest CTC likelihood, computed exactly; ties never "
                    "favour a word's position in its lexicon.")
    p.add_argument("model", nargs="*", help="checkpoints (.pt), weights (.safetensors) or registered model names")
    p.add_argument("--recipe", metavar="YAML", help="an evaluation recipe (recipes/eval/*.yaml); command-line "
                   "options override it")
    p.add_argument("--benchmark", metavar="LIST", help="comma-separated suite names (see below), all (every "
                   "one whose folder is under the data root), or paths of folders with gt.txt / LMDB directories")
    p.add_argument("--data-root", metavar="DIR", help="where named benchmarks live [default: $ZOO_DATA_ROOT, "
                   "else ../shared/data]")
    p.add_argument("--lexicon", metavar="LIST", help="comma-separated settings: none, a per-image lexicon "
                   "name (50, 1k), full (every ground truth), 50k (the English vocabulary); each applies to "
                   "the benchmarks that have it [default: each benchmark's standard settings]")
    p.add_argument("--protocol", help="for benchmarks given as paths: ic03-860 | alphanumeric | "
                   "alphanumeric-strip | exact [default: ic03-860]")
    p.add_argument("--decoder", choices=["greedy", "beam"], help="lexicon-free decoder [default: greedy]")
    p.add_argument("--beam-width", type=at_least(1), help="prefix beam width for --decoder beam and the trie "
                   "search [default: 10]")
    p.add_argument("--large-lexicon", choices=["edit", "trie", "exhaustive"], help="50k search: the words "
                   "within --delta edits of the lexicon-free output, scored exactly (CRNN's method), "
                   "trie-constrained beam, or every word scored exactly [default: edit]")
    p.add_argument("--delta", type=at_least(0), help="edit distance for --large-lexicon edit [default: 3]")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], help="fp32: the model as trained; bf16: the "
                   "fast path (BatchNorm folded) in bfloat16; int8: backbone statically quantized, calibrated on "
                   "256 rendered words, BiLSTM head dynamically quantized [default: fp32]")
    p.add_argument("--untrained", action="store_true", default=None,
                   help="build the registered MODEL with random (seeded) weights: exercises the pipeline only")
    p.add_argument("--seed", type=int, help="seed for --untrained weights [default: 0]")
    p.add_argument("--limit", type=at_least(1), metavar="N", help="only the first N images each benchmark's protocol "
                   "evaluates (the Full lexicon still has every label; no reported number stands beside a subset)")
    p.add_argument("--allow-missing", action="store_true", help="evaluate the images that exist when some "
                   "listed ones are missing (their count is reported)")
    p.add_argument("--batch-size", type=at_least(1), default=64)
    p.add_argument("--out", metavar="DIR", help="write suite.* here, and eval.*, by_length.*, confusions.*, "
                   "per_image.csv under DIR/<model>/<benchmark>/")
    p.set_defaults(func=run)


def resolve_options(args: argparse.Namespace) -> dict:
    """Command line over recipe over defaults."""
    recipe = load_recipe(args.recipe) if args.recipe else {}
    options = {k: getattr(args, k, None) if getattr(args, k, None) not in (None, []) else recipe.get(k, default)
               for k, default in DEFAULTS.items()}
    for key in ("lexicon", "model", "benchmark"):
        if isinstance(options[key], (list, tuple)):
            options[key] = ",".join(str(x) for x in options[key])
    if isinstance(options["model"], str):
        options["model"] = [m for m in options["model"].split(",") if m]
    for key in ("model", "benchmark"):
        if not options[key]:
            raise ValueError(f"no {key} given: pass {'MODEL' if key == 'model' else '--benchmark NAME'} "
                             f"or a --recipe that sets it")
    return options


def load_recipe(path: str) -> dict:
    """The keys an evaluation recipe sets (``EvalRecipe``), checked."""
    from zoo.fileio import read_utf8
    from zoo.train.recipe import from_dict, parse_yaml

    data = parse_yaml(read_utf8(path, "recipe"), path) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an evaluation recipe is a mapping of keys ({', '.join(f.name for f in fields(EvalRecipe))}), "
                         f"not a {type(data).__name__}")
    recipe = asdict(from_dict(EvalRecipe, data, ""))
    return {key: value for key, value in recipe.items() if key in data}


def load(spec: str, options: dict):
    from zoo.factory import load_model

    model = load_model(spec, untrained=bool(options["untrained"]), seed=options["seed"])
    if options["precision"] == "bf16":
        from zoo.models.fast import FastRecognizer
        return FastRecognizer(model, "bf16")
    if options["precision"] == "int8":
        from zoo.quantize import calibration_images, quantize_int8
        return quantize_int8(model, calibration_images(model))
    return model


def run(args: argparse.Namespace) -> int:
    from zoo.data.benchmarks import data_root, resolve_benchmarks
    from zoo.report import console, progress, rich_table
    from zoo.suite import combined_table, folder_samples, load_suite, reference_rows, run_suite

    options = resolve_options(args)
    items = resolve_benchmarks(options["benchmark"], data_root(args.data_root), options["protocol"])
    if args.out:  # refused now, not after the whole evaluation
        _refuse_outputs(args.out, options["model"], items)
    settings = [s.strip().lower() for s in options["lexicon"].split(",") if s.strip()] if options["lexicon"] else None
    loaded = load_suite(items, settings, args.limit or 0, args.allow_missing)
    models = {spec: load(spec, options) for spec in options["model"]}
    _say_where_weights_come_from(models, options)
    total = len(models) * sum(len(samples) for samples in folder_samples(loaded).values())
    with progress() as bar:
        task = bar.add_task(f"{len(models)} model(s) on {len(loaded)} benchmark(s)", total=total, unit="img")
        results = run_suite(models, loaded, args.batch_size, lambda n: bar.advance(task, n),
                            decoder=options["decoder"], beam_width=options["beam_width"],
                            large_method=options["large_lexicon"], delta=options["delta"])
    untrained = "UNTRAINED " if options["untrained"] else ""
    for r in results:
        console.print(rich_table(r.evaluation.rows, f"{untrained}{r.model} ({options['precision']}) on "
                                 f"{r.item.title} ({r.evaluation.protocol.label}); lexicon-free decoder: "
                                 f"{options['decoder']}"))
    if len(results) == 1:
        _print_details(results[0].evaluation)
    combined = combined_table(results, reference_rows())
    title = f"{untrained}word accuracy (%) on {', '.join(i.title for i in items)}"
    console.print(rich_table(combined, title))
    if args.out:
        _write(results, combined, title, options, args.out)
    return 0


def _say_where_weights_come_from(models: dict, options: dict) -> None:
    from zoo.checkpoint import REGISTRY_DIR
    from zoo.report import note

    for spec, model in models.items():
        card = REGISTRY_DIR / f"{spec}.yaml"
        if options["untrained"]:
            note(f"{model.config.name} with random weights (seed {options['seed']}): the numbers below are "
                 f"meaningless; this run only exercises the evaluation pipeline.", " UNTRAINED MODEL ",
                 "bold white on red")
        elif card.is_file():
            note(f"shipped weights registry/{spec}.safetensors; how they were made: {card}", label="")


def _print_details(result) -> None:
    from zoo.report import console, note, rich_table

    console.print(rich_table([{"count": k, "images": v} for k, v in result.counts.items()], "Counts"))
    console.print(rich_table(result.by_length, "Lexicon-free accuracy by word length"))
    console.print(rich_table(result.confusions[:10], "Most frequent character errors (lexicon-free)"))
    for problem in result.problems[:10]:
        note(problem)
    if len(result.problems) > 10:
        note(f"... and {len(result.problems) - 10} more (all in eval.json with --out)")


PER_IMAGE = "per_image.csv"


def _folder(out: str, model: str, item) -> Path:
    """Where a model's tables on one benchmark go."""
    return Path(out) / _safe(model) / _safe(item.spec.name if item.spec else item.path.name)


def _refuse_outputs(out: str, models: list[str], items) -> None:
    """Every table ``_write`` will write, checked as it will be: a file given as --out, a folder that
    takes no file or a table the zoo did not write is an error before any model runs."""
    from zoo.outputs import refuse_now, replaces_own
    from zoo.report import refuse_tables

    refuse_tables(out, ["suite"])
    for model in models:
        for item in items:
            refuse_tables(_folder(out, model, item), ["eval", "by_length", "confusions"])
            refuse_now(_folder(out, model, item) / PER_IMAGE, replaces_own(_beside_own_eval))


def _beside_own_eval(per_image: Path) -> bool:
    """per_image.csv is the zoo's where the eval table beside it is (CSV carries no mark of its own)."""
    from zoo.outputs import is_zoo_table

    return is_zoo_table(per_image.with_name("eval.json"))


def _write(results, combined: list[dict], title: str, options: dict, out: str) -> None:
    from zoo.report import note, write_table, write_text

    for r in results:
        ev = r.evaluation
        folder = _folder(out, r.model, r.item)
        meta = {"model": r.model, "untrained": bool(options["untrained"]), "benchmark": str(r.item.path),
                "suite name": r.item.spec.name if r.item.spec else None, "protocol": ev.protocol.label,
                "protocol description": ev.protocol.description, "settings": [row["lexicon"] for row in ev.rows],
                "decoder": options["decoder"], "precision": options["precision"], "beam width": options["beam_width"],
                "large lexicon": options["large_lexicon"], "delta": options["delta"], "counts": ev.counts,
                "problems": ev.problems}
        write_table(ev.rows, folder, "eval", f"{r.model} on {r.item.title}", meta=meta)
        write_table(ev.by_length, folder, "by_length", "Lexicon-free accuracy by word length")
        write_table(ev.confusions, folder, "confusions", "Most frequent character errors (lexicon-free)")
        write_text(folder / PER_IMAGE, _csv(ev.per_image), ours=_beside_own_eval)
    meta = {"models": list(dict.fromkeys(r.model for r in results)), "precision": options["precision"],
            "decoder": options["decoder"], "benchmarks": {r.item.title: str(r.item.path) for r in results}}
    write_table(combined, out, "suite", title, meta=meta)
    note(f"wrote {out}/suite.md|csv|json and, per model and benchmark, eval.*, by_length.*, "
         f"confusions.*, per_image.csv under {out}/<model>/<benchmark>/", label="")


def _safe(name: str) -> str:
    """A model or benchmark as one folder name (a checkpoint path's separators become '_')."""
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name).strip("._") or "model"


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
