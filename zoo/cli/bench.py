"""``zoo bench``: training and inference speed of registered models, fairly measured."""
from __future__ import annotations

import argparse


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
        epilog="examples:\n  zoo bench grcnn rcnn crnn_vgg --threads 2 --out runs/bench\n"
               "  zoo bench grcnn --batch 1,64 --repeats 7 --onnx\n  zoo bench --no-train   (every model, inference only)")
    p.add_argument("models", nargs="*", help="registered model names (default: all)")
    p.add_argument("--batch", default="1,64", help="comma-separated inference batch sizes: latency at the "
                   "smallest, images/s at the largest")
    p.add_argument("--train-batch", type=at_least(1), default=32, help="training batch size")
    p.add_argument("--threads", type=at_least(1), default=2, help="torch threads (set explicitly: numbers depend on it)")
    p.add_argument("--repeats", type=at_least(1), default=5, help="timed repeats per path (the median is reported)")
    p.add_argument("--no-train", dest="train", action="store_false", help="skip the training measurement")
    p.add_argument("--onnx", action="store_true", help="also export the fp32 fast path (zoo export's exporter "
                   "and check) and time it in ONNX Runtime")
    p.add_argument("--out", metavar="DIR", help="also write bench.md, bench.csv and bench.json here")
    p.set_defaults(func=run)


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

    names = args.models or list_models()
    batches = parse_batches(args.batch)
    bench.set_threads(args.threads)
    reference = bench.find_reference()
    note(f"threads {args.threads}, load average before: {bench.load_average()}", label="")
    peak = bench.measure_peak(args.repeats)
    note(", ".join(f"{k} {v:.1f}" for k, v in peak.items()), label="")
    rows = bench.run(names, batches, args.train_batch if args.train else 0, args.repeats, peak,
                     reference=reference, onnx=args.onnx)
    title = (f"Speed on 100x32 images, {args.threads} threads (median of {args.repeats}, paths interleaved; "
             "x ref = ratio to the plain reference measured in the same run)")
    console.print(rich_table(rows, title))
    load = bench.load_average()
    note(f"load average after: {load}", label="")
    if args.out:
        meta = {**{k: round(v, 1) for k, v in peak.items()}, "load average after (1/5/15 min)": load,
                "batches": batches, "train batch": args.train_batch if args.train else None,
                "repeats": args.repeats}
        paths = write_table(rows, args.out, "bench", title, meta=meta)
        note(f"wrote {', '.join(str(p) for p in paths.values())}", label="")
    return 0
