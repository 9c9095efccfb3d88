"""``zoo bench``: training and inference speed of registered models, fairly measured."""
from __future__ import annotations

import argparse

EXAMPLES = """examples:
  zoo bench grcnn rcnn crnn_vgg --threads 2 --out runs/bench
  zoo bench grcnn --batch 1,64 --repeats 7 --onnx
  zoo bench --no-train   (every model, inference only)
  zoo bench --train-recipe recipes/cpu/grcnn.yaml --train-data runs/data/synth-scene-train-400k.lmdb \\
      --variant data.workers=0 --variant data.workers=1 --variant data.workers=2 --repeats 3
  zoo bench --train-recipe recipes/cpu/grcnn.yaml --set data.train=my.lmdb \\
      --variant "data.workers=0 threads=2" --variant "data.workers=1 threads=1" --compile"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, at_least

    p = subparsers.add_parser(
        "bench", help="measure training/inference images/s, latency and achieved fraction of peak",
        formatter_class=HelpFormatter,
        description="Measure each model's speed on 100x32 synthetic images at a fixed thread count, "
                    "after warm-up, as the median of repeats with all paths interleaved: training "
                    "images/s (forward + CTC + backward + Adadelta step), inference images/s at the "
                    "largest --batch and latency at the smallest, for the plain reference (zoo.models."
                    "reference), the zoo model, the optimised "
                    "inference path (zoo.models.fast, fp32 and bf16), int8 (zoo.quantize, in ONNX "
                    "Runtime) and, with --onnx, the fp32 fast path exported to ONNX. Also "
                    "GFLOPs per image and the achieved fraction of this machine's measured conv peak.",
        epilog=EXAMPLES)
    p.add_argument("models", nargs="*", help="registered model names (default: all); with --train-recipe, the "
                   "recipe's model or none")
    p.add_argument("--batch", default="1,64", help="comma-separated inference batch sizes: latency at the "
                   "smallest, images/s at the largest")
    p.add_argument("--train-batch", type=at_least(1), help="batch size of the synthetic training step (default "
                   "32; with --train-recipe the recipe's train.batch_size: --set train.batch_size=N)")
    p.add_argument("--threads", type=at_least(1), default=2, help="torch threads (set explicitly: numbers depend on it)")
    p.add_argument("--repeats", type=at_least(1), default=5, help="timed repeats per path (the median is reported)")
    p.add_argument("--no-train", dest="train", action="store_false", help="skip the training measurement")
    p.add_argument("--onnx", action="store_true", help="also export the fp32 fast path (zoo export's exporter "
                   "and check) and time it in ONNX Runtime")
    p.add_argument("--compile", action="store_true", help="also time the trainer's step (bf16, channels_last) "
                   "with the model through torch.compile (inductor: compiled in the warm-up round, minutes on a CPU)")
    add_end_to_end(p)
    p.add_argument("--out", metavar="DIR", help="also write bench.md, bench.csv and bench.json here")
    p.set_defaults(func=run)


def add_end_to_end(p: argparse.ArgumentParser) -> None:
    from zoo.cli import add_overrides, at_least

    g = p.add_argument_group(
        "end to end (zoo train's own steps, data loading included)",
        "With --train-recipe the bench times training only: windows of --train-steps iterations of\n"
        "`zoo train` (its DataLoader with the recipe's data.workers, dataset, augmentation and collate;\n"
        "its scheduler, bf16/channels_last step, gradient clipping and EMA; no validation or checkpoints),\n"
        "interleaved with windows of the plain reference's fp32 step and of the trainer's step alone on a\n"
        "fixed synthetic batch, both of the same model; every window after a few untimed steps. x ref is\n"
        "against the reference's step: what `zoo train` gains over a plain fp32 loop, data included.")
    g.add_argument("--train-recipe", metavar="RECIPE", help="time `zoo train RECIPE`'s iterations end to end")
    g.add_argument("--train-data", metavar="LMDB", help="the recipe's data.train (a missing one is an error, "
                   "never rendered)")
    add_overrides(g, "override a recipe value for every end-to-end path, as `zoo train --set`, repeatable "
                  "(none by default)")
    g.add_argument("--variant", dest="variants", action="append", default=[], metavar="'KEY=VALUE ...'",
                   help="one end-to-end path per --variant, repeatable: space-separated recipe overrides on top "
                        "of --set, and threads=N for torch's threads in that path's steps (default: one path, "
                        "the recipe as it is)")
    g.add_argument("--train-steps", type=at_least(1), default=10, metavar="N",
                   help="timed iterations per window (the median of --repeats windows is reported)")


def parse_batches(text: str) -> list[int]:
    try:
        batches = sorted({int(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise ValueError(f"--batch takes comma-separated integers like 1,64, got {text!r}") from None
    if not batches or batches[0] < 1:
        raise ValueError(f"--batch needs positive batch sizes, got {text!r}")
    return batches


def run(args: argparse.Namespace) -> int:
    from zoo import bench
    from zoo.factory import list_models
    from zoo.report import console, note, rich_table, write_table

    if args.train_recipe:
        return run_recipe(args)
    if args.train_data or args.overrides or args.variants:
        raise ValueError("--train-data, --set and --variant change a recipe: give it with --train-recipe")
    names = args.models or list_models()
    batches = parse_batches(args.batch)
    bench.set_threads(args.threads)
    reference = bench.find_reference()
    note(f"threads {args.threads}, load average before: {bench.load_average()}", label="")
    peak = bench.measure_peak(args.repeats)
    note(", ".join(f"{k} {v:.1f}" for k, v in peak.items()), label="")
    train_batch = (args.train_batch or 32) if args.train else 0
    rows = bench.run(names, batches, train_batch, args.repeats, peak, reference=reference, onnx=args.onnx,
                     compile=args.compile)
    title = (f"Speed on 100x32 images, {args.threads} threads (median of {args.repeats}, paths interleaved; "
             "x ref = ratio to the plain reference measured in the same run)")
    console.print(rich_table(rows, title))
    load = bench.load_average()
    note(f"load average after: {load}", label="")
    if args.out:
        meta = {**{k: round(v, 1) for k, v in peak.items()}, "load average after (1/5/15 min)": load,
                "batches": batches, "train batch": train_batch or None,
                "repeats": args.repeats}
        paths = write_table(rows, args.out, "bench", title, meta=meta)
        note(f"wrote {', '.join(str(p) for p in paths.values())}", label="")
    return 0


def run_recipe(args: argparse.Namespace) -> int:
    """`zoo bench --train-recipe`: the end-to-end table."""
    from zoo import bench
    from zoo.report import console, note, rich_table, write_table
    from zoo.train.recipe import load_recipe

    if args.train_batch or not args.train or args.onnx:
        raise ValueError("--train-recipe times training only, at the recipe's batch size: drop --train-batch, "
                         "--no-train and --onnx (--set train.batch_size=N changes the batch)")
    overrides = ([f"data.train={args.train_data}"] if args.train_data else []) + args.overrides
    model = load_recipe(args.train_recipe, overrides).model.name
    if args.models and args.models != [model]:
        raise ValueError(f"--train-recipe {args.train_recipe} trains {model}, not {' '.join(args.models)}: "
                         f"give its model or none")
    bench.set_threads(args.threads)
    note(f"threads {args.threads}, load average before: {bench.load_average()}", label="")
    rows = bench.run_recipe(args.train_recipe, overrides, args.variants, args.train_steps, args.repeats,
                            reference=bench.find_reference(), compile=args.compile)
    title = (f"`zoo train {args.train_recipe}` end to end, {args.threads} threads (median of {args.repeats} "
             f"windows of {args.train_steps} steps, paths interleaved; x ref = ratio to the plain reference's "
             "fp32 step measured in the same run)")
    console.print(rich_table(rows, title))
    load = bench.load_average()
    note(f"load average after: {load}", label="")
    if args.out:
        meta = {"recipe": args.train_recipe, "overrides": overrides, "variants": args.variants,
                "steps per window": args.train_steps, "repeats": args.repeats,
                "load average after (1/5/15 min)": load}
        paths = write_table(rows, args.out, "bench", title, meta=meta)
        note(f"wrote {', '.join(str(p) for p in paths.values())}", label="")
    return 0
