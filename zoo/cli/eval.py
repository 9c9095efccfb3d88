"""``zoo eval``: word accuracy of a model on a benchmark, lexicon-free and lexicon-based."""
from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
# option: default (used when neither the command line nor a recipe sets it)
DEFAULTS = {"model": None, "benchmark": None, "lexicon": "none", "protocol": "ic03-860", "decoder": "greedy",
            "beam_width": 10, "large_lexicon": "edit", "delta": 3, "untrained": False, "seed": 0, "precision": "fp32"}

EXAMPLES = """examples:
  zoo eval runs/grcnn/last.pt --benchmark ../shared/data/ic03 --lexicon none,50,full --out runs/eval
  zoo eval --recipe recipes/eval/grcnn.yaml --out runs/eval/grcnn
  zoo eval grcnn --untrained --benchmark ../shared/data/ic03 --lexicon none,50,full,50k --limit 100
  zoo eval crnn_vgg.safetensors --benchmark iiit5k.lmdb --protocol alphanumeric --lexicon none,50"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter

    p = subparsers.add_parser(
        "eval", help="word accuracy on a benchmark: lexicon-free and with 50 / Full / 50k lexicons",
        formatter_class=HelpFormatter, epilog=EXAMPLES,
        description="Evaluate a model on a benchmark folder (gt.txt + lexicon_<name>.txt) or LMDB "
                    "(lexicon-%09d keys) under a named protocol. Prints a table with the paper's "
                    "reported numbers beside the measured ones; --out also writes eval.md/csv/json, "
                    "by_length, confusions and per_image.csv. Lexicon decoding picks the word with "
                    "the highest CTC likelihood, computed exactly; ties never favour a word's "
                    "position in its lexicon.")
    p.add_argument("model", nargs="?", help="checkpoint (.pt), weights (.safetensors) or registered model name")
    p.add_argument("--recipe", metavar="YAML", help="an evaluation recipe (recipes/eval/*.yaml); command-line "
                   "options override it")
    p.add_argument("--benchmark", metavar="PATH", help="folder with gt.txt, or LMDB directory (a recipe's "
                   "relative path is read from ../shared beside the checkout)")
    p.add_argument("--lexicon", metavar="LIST", help="comma-separated settings: none, a per-image lexicon "
                   "name (50, 1k), full (every ground truth), 50k (the English vocabulary) [default: none]")
    p.add_argument("--protocol", help="ic03-860 | alphanumeric | exact [default: ic03-860]")
    p.add_argument("--decoder", choices=["greedy", "beam"], help="lexicon-free decoder [default: greedy]")
    p.add_argument("--beam-width", type=int, help="prefix beam width for --decoder beam and the trie "
                   "search [default: 10]")
    p.add_argument("--large-lexicon", choices=["edit", "trie", "exhaustive"], help="50k search: the words "
                   "within --delta edits of the lexicon-free output, scored exactly (CRNN's method), "
                   "trie-constrained beam, or every word scored exactly [default: edit]")
    p.add_argument("--delta", type=int, help="edit distance for --large-lexicon edit [default: 3]")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], help="fp32: the model as trained; bf16: the "
                   "fast path (BatchNorm folded) in bfloat16; int8: backbone statically quantized, calibrated on "
                   "256 rendered words, BiLSTM head dynamically quantized [default: fp32]")
    p.add_argument("--untrained", action="store_true", default=None,
                   help="build the registered MODEL with random (seeded) weights: exercises the pipeline only")
    p.add_argument("--seed", type=int, help="seed for --untrained weights [default: 0]")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N images (the Full lexicon still "
                   "has every label)")
    p.add_argument("--allow-missing", action="store_true", help="evaluate the images that exist when some "
                   "listed ones are missing (their count is reported)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", metavar="DIR", help="write eval.*, by_length.*, confusions.* and per_image.csv here")
    p.set_defaults(func=run)


def resolve_options(args: argparse.Namespace) -> dict:
    """Command line over recipe over defaults."""
    recipe = load_recipe(args.recipe) if args.recipe else {}
    options = {k: getattr(args, k, None) if getattr(args, k, None) is not None else recipe.get(k, default)
               for k, default in DEFAULTS.items()}
    if isinstance(options["lexicon"], (list, tuple)):
        options["lexicon"] = ",".join(str(x) for x in options["lexicon"])
    if args.benchmark is None and options["benchmark"] is not None and not Path(options["benchmark"]).is_absolute():
        options["benchmark"] = str(SHARED / options["benchmark"])
    for key in ("model", "benchmark"):
        if not options[key]:
            raise ValueError(f"no {key} given: pass {'MODEL' if key == 'model' else '--benchmark PATH'} "
                             f"or a --recipe that sets it")
    return options


def load_recipe(path: str) -> dict:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    unknown = sorted(set(data) - set(DEFAULTS) - {"description"})
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; an evaluation recipe may set "
                         f"{', '.join(['description', *DEFAULTS])}")
    return data


def load(options: dict):
    import torch

    from zoo.checkpoint import load_model
    from zoo.registry import create_model

    if options["untrained"]:
        torch.manual_seed(options["seed"])
        model = create_model(options["model"]).eval()
    else:
        model = load_model(options["model"])
    if options["precision"] == "bf16":
        from zoo.models.fast import FastRecognizer
        return FastRecognizer(model, "bf16")
    if options["precision"] == "int8":
        from zoo.models.quantize import calibration_images, quantize_int8
        return quantize_int8(model, calibration_images(model))
    return model


def run(args: argparse.Namespace) -> int:
    from zoo.checkpoint import REGISTRY_DIR
    from zoo.evaluate import evaluate, get_protocol, load_benchmark, model_log_probs
    from zoo.report import console, progress, rich_table, write_table, write_text

    options = resolve_options(args)
    protocol = get_protocol(options["protocol"])
    settings = [s.strip().lower() for s in options["lexicon"].split(",") if s.strip()]
    benchmark = load_benchmark(options["benchmark"], allow_missing=args.allow_missing)
    if args.limit:
        benchmark = benchmark.first(args.limit)
    model = load(options)
    cfg = model.config
    untrained = bool(options["untrained"])
    card = REGISTRY_DIR / f"{options['model']}.yaml"
    if not untrained and card.is_file():
        console.print(f"shipped weights registry/{options['model']}.safetensors; how they were made: {card}")
    if untrained:
        console.print(f"[bold white on red] UNTRAINED MODEL [/] {cfg.name} with random weights (seed "
                      f"{options['seed']}): the numbers below are meaningless; this run only exercises "
                      f"the evaluation pipeline.")
    with progress() as bar:
        task = bar.add_task(f"{cfg.name} on {benchmark.name}", total=len(benchmark.samples), unit="img")
        log_probs = model_log_probs(model, benchmark.samples, args.batch_size, lambda n: bar.advance(task, n))
    result = evaluate(log_probs, cfg.charset, benchmark, protocol, settings, options["decoder"],
                      options["beam_width"], options["large_lexicon"], options["delta"], cfg.reported)
    title = (f"{'UNTRAINED ' if untrained else ''}{cfg.name} ({options['precision']}) on {benchmark.name} "
             f"({protocol.label}); lexicon-free decoder: {options['decoder']}")
    console.print(rich_table(result.rows, title))
    console.print(rich_table([{"count": k, "images": v} for k, v in result.counts.items()], "Counts"))
    console.print(rich_table(result.by_length, "Lexicon-free accuracy by word length"))
    console.print(rich_table(result.confusions[:10], "Most frequent character errors (lexicon-free)"))
    for problem in result.problems[:10]:
        console.print(f"[yellow]note:[/] {problem}")
    if len(result.problems) > 10:
        console.print(f"[yellow]note:[/] ... and {len(result.problems) - 10} more (all in eval.json with --out)")
    if args.out:
        meta = {"model": options["model"], "untrained": untrained, "benchmark": str(benchmark.path),
                "protocol": protocol.label, "protocol description": protocol.description,
                "reported source": cfg.reported_source, "settings": settings, "decoder": options["decoder"],
                "precision": options["precision"], "beam width": options["beam_width"], "large lexicon": options["large_lexicon"],
                "delta": options["delta"], "counts": result.counts, "problems": result.problems}
        write_table(result.rows, args.out, "eval", title, meta=meta)
        write_table(result.by_length, args.out, "by_length", "Lexicon-free accuracy by word length")
        write_table(result.confusions, args.out, "confusions", "Most frequent character errors (lexicon-free)")
        write_text(Path(args.out) / "per_image.csv", _csv(result.per_image))
        console.print(f"wrote {args.out}/eval.md|csv|json, by_length.*, confusions.*, per_image.csv")
    return 0


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
