"""``zoo predict``: read the word in each image with a shipped model or a checkpoint."""
from __future__ import annotations

import argparse

EXAMPLES = """examples:
  zoo predict word1.png word2.jpg                       the shipped grcnn (or the shipped model there is)
  zoo predict ../shared/data/ic03 --model crnn_vgg      every image in a folder
  zoo predict photo.jpg --model runs/cpu/grcnn/best.pt --lexicon words.txt --out runs/predict"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, at_least

    p = subparsers.add_parser(
        "predict", help="read the word in each image (cropped word images)", formatter_class=HelpFormatter,
        epilog=EXAMPLES,
        description="Read one word per image with a shipped model (its registry name: `zoo models` lists "
                    "them, registry/*.yaml describes how each was trained) or a checkpoint. Prints a table "
                    "of file, reading and its probability; with --lexicon, also the lexicon word of highest "
                    "CTC likelihood. --out writes predictions.md/csv/json.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders of images")
    p.add_argument("--model", help="shipped model name, checkpoint (.pt) or weights (.safetensors) "
                   "[default: grcnn when shipped, else the first shipped model]")
    p.add_argument("--lexicon", metavar="FILE", help="one word per line: also pick the most likely of these words")
    p.add_argument("--decoder", choices=["greedy", "beam"], default="greedy", help="lexicon-free decoder")
    p.add_argument("--beam-width", type=at_least(1), default=10)
    p.add_argument("--batch-size", type=at_least(1), default=64)
    p.add_argument("--out", metavar="DIR", help="also write predictions.md/csv/json here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.checkpoint import REGISTRY_DIR
    from zoo.data.charset import Charset
    from zoo.factory import load_model, shipped_models
    from zoo.predict import image_files, read_lexicon, read_words
    from zoo.report import console, note, progress, refuse_tables, rich_table, write_table

    if args.out:  # refused now, not after every image is read
        refuse_tables(args.out, ["predictions"])
    files = image_files(args.images)
    if args.model is None:
        shipped = shipped_models()
        if not shipped:
            raise FileNotFoundError(f"no shipped model in {REGISTRY_DIR} (set $ZOO_WEIGHTS to the folder that "
                                    f"holds them), or pass --model CHECKPOINT (a `zoo train` best.pt) or a "
                                    f".safetensors file")
        args.model = shipped[0]
    model = load_model(args.model)
    # read here, before any image is: a bad lexicon fails at once, and the title counts its words
    lexicon = read_lexicon(args.lexicon, Charset.from_config(model.config)) if args.lexicon else None
    with progress(transient=True) as bar:
        task = bar.add_task(f"{model.config.name} reading", total=len(files), unit="img")
        readings = read_words(model, files, lexicon, args.decoder, args.beam_width, args.batch_size,
                              lambda n: bar.advance(task, n))
    rows = [r.as_dict() for r in readings]
    source = f"shipped, card registry/{args.model}.yaml" if args.model in shipped_models() else args.model
    title = f"{model.config.name} ({source}), {args.decoder} decoding" + (
        f", lexicon {args.lexicon} ({len(lexicon)} words)" if lexicon else "")
    console.print(rich_table(rows, title))
    if args.out:
        write_table(rows, args.out, "predictions", title, meta={"model": args.model, "decoder": args.decoder,
                                                                "lexicon": args.lexicon})
        note(f"wrote {args.out}/predictions.md|csv|json", label="")
    return 0
