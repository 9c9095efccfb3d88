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
    """Run a verb; an error it raises is printed as one message (exit code 2), an interrupt that stops
    it at once as one line (exit code 130, as a shell reports Ctrl-C), never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (KeyError, TypeError, ValueError, FileNotFoundError, FileExistsError, IsADirectoryError,
            FloatingPointError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        return _print_error("error", message, 2)
    except KeyboardInterrupt as err:
        return _print_error("interrupted", str(err) or "stopped at once", 130)


def _print_error(label: str, message: str, code: int) -> int:
    from rich.markup import escape

    from zoo.report import console
    # soft_wrap: a message is one line however narrow the terminal; escape: paths like [x] are text
    console.print(f"[bold red]{label}:[/] {escape(message)}", soft_wrap=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
