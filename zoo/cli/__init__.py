"""The ``zoo`` command: one verb per module in this package, each with ``register(subparsers)``.

A verb module parses, calls the library, and prints; the work itself lives in the library.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from zoo import __version__

# Each name is a module zoo.cli.<name> with register(subparsers) -> sets args.func.
VERBS = ["models", "train", "data", "eval", "predict", "viz", "export", "ship", "bench", "ablate"]

EPILOG = """examples:
  zoo models                      every registered backbone: params, GFLOPs, frames, receptive field
  zoo models '*rcnn*' --out runs/models   only the recurrent ones, also written as Markdown/CSV/JSON

Run `zoo VERB --help` for a verb's options."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' layout and shows every option's default."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description="grcnn-zoo: compare scene-text recognition backbones (CRNN-VGG, RCNN, "
        "GRCNN, DenseNet) behind one BiLSTM-CTC head.", epilog=EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"grcnn-zoo {__version__}")
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"zoo.cli.{verb}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (KeyError, TypeError, ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as err:
        from zoo.report import console
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        console.print(f"[bold red]error:[/] {message}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
