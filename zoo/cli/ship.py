"""``zoo ship``: publish a trained run into registry/ (fp16 weights + model card)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter

    p = subparsers.add_parser(
        "ship", help="publish a trained checkpoint into registry/ as fp16 safetensors + model card",
        formatter_class=HelpFormatter,
        epilog="examples:\n  zoo ship runs/cpu/grcnn/best.pt --name grcnn               # measured on --benchmark all\n"
               "  zoo ship runs/cpu/grcnn/best.pt --name grcnn --benchmark ic03,svt\n"
               "  zoo eval grcnn --benchmark all   # then by name",
        description="Write registry/NAME.safetensors (fp16, refused at 20 MB or more) from a `zoo train` "
                    "checkpoint, evaluate that file on the benchmark suite (each benchmark with its standard "
                    "lexicons), and write "
                    "registry/NAME.yaml: recipe, data, steps, seed, training commit and machine, the "
                    "measured accuracy beside the paper's. `zoo eval NAME` and `zoo predict --model NAME` "
                    "then load it by name.")
    p.add_argument("checkpoint", help="best.pt or last.pt of a `zoo train` run")
    p.add_argument("--name", required=True, help="registry name: a registered model (`zoo models`)")
    p.add_argument("--benchmark", default="all", metavar="LIST", help="suite names, all (every one under the data "
                   "root) or paths, as in `zoo eval`")
    p.add_argument("--data-root", metavar="DIR", help="where named benchmarks live [default: $ZOO_DATA_ROOT, "
                   "else ../shared/data]")
    p.add_argument("--registry", default=None, help="registry folder [default: where shipped weights are "
                   "read from: $ZOO_WEIGHTS, else the checkout's registry/]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.factory import list_models
    from zoo.report import console, note, rich_table
    from zoo.ship import ship

    if args.name not in list_models():
        raise ValueError(f"--name {args.name!r} is not a registered model; `zoo models` lists them")
    card = ship(args.checkpoint, args.name, args.benchmark, root=args.data_root,
                **({"registry": args.registry} if args.registry else {}))
    rows = [{"benchmark": title, "lexicon": k, "accuracy (%)": v, "paper (%)": entry["paper (%)"][k]}
            for title, entry in card["evaluation"]["benchmarks"].items() for k, v in entry["word accuracy (%)"].items()]
    console.print(rich_table(rows, f"registry/{card['file']} ({card['megabytes']} MB), measured on the shipped file"))
    note(f"wrote {card['file']} and {args.name}.yaml", label="")
    return 0
