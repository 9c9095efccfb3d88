"""``zoo models``: the registered models, measured."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter

    p = subparsers.add_parser(
        "models", help="list registered models with parameters, GFLOPs, frames and receptive field",
        formatter_class=HelpFormatter,
        description="List every registered model (or those matching PATTERN) at its paper's released "
                    "configuration: parameters, GFLOPs for one 100x32 image, output frames per 100 px, "
                    "the theoretical receptive field (px of width) of one CNN output frame, the "
                    "paper's reported IC03-860 word accuracy (None / 50 / Full lexicon), and that of the "
                    "weights the zoo ships (registry/, trained here on a CPU; create_model(name, "
                    "pretrained=True) loads them). Sizes are those of the configuration the row's "
                    "accuracy belongs to: the shipped one where weights are shipped (e.g. BiLSTM-256), "
                    "else the paper's; the 'measured' column says which.",
        epilog="examples:\n  zoo models\n  zoo models 'grcnn*' --out runs/models\n  zoo models --json")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. '*rcnn*'")
    p.add_argument("--out", metavar="DIR", help="also write models.md, models.csv and models.json here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.factory import list_models, summary
    from zoo.report import console, note, refuse_tables, rich_table, write_table

    if args.out:  # refused now, not after every model is measured
        refuse_tables(args.out, ["models"])
    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no model matches {args.pattern!r}; `zoo models` lists all of them")
    rows = [summary(n) for n in names]
    title = "Registered models (GFLOPs for one 100x32 image; rf = receptive field of one CNN frame)"
    console.print(rich_table(rows, title))
    if args.out:
        paths = write_table(rows, args.out, "models", title)
        note(f"wrote {', '.join(str(p) for p in paths.values())}", label="")
    return 0
