"""The ``zoo`` command: one verb per module in this package, each with ``register(subparsers)``.

A verb module parses, calls the library, and prints; the work itself lives in the library.
Results go to stdout, progress and messages to stderr (``zoo.report``). Exit codes: 0 done,
1 a failure (one line on stderr, never a traceback), 2 a usage error (argparse's), 130 / 143
stopped by SIGINT (Ctrl-C) / SIGTERM.
"""
from __future__ import annotations

import os

# libgomp's threads spin at every barrier by default. Beside any other busy process a spinning thread
# keeps the core its partner needs, and a batch-1 forward took 2,000 ms instead of 45 next to a
# training job (docs/performance.md, "On a shared machine"). PASSIVE threads sleep instead. libgomp
# reads this once, when torch loads it: so here, before anything imports torch (zoo/__init__ and
# zoo.registry do not), in the module both entry points (the `zoo` script, python -m zoo) import
# first. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from contextlib import contextmanager, nullcontext  # noqa: E402

from zoo import __version__  # noqa: E402

# Each name is a module zoo.cli.<name> with register(subparsers) -> sets args.func.
VERBS = ["models", "train", "data", "eval", "predict", "viz", "export", "ship", "bench", "ablate"]
# The verbs that print a table of results get --json (paths of subcommands).
JSON_VERBS = [("models",), ("eval",), ("predict",), ("bench",), ("data", "verify")]
FAILURES = (KeyError, TypeError, ValueError, OSError, FloatingPointError, RuntimeError)

EPILOG = """examples:
  zoo models                      every registered backbone: params, GFLOPs, frames, receptive field
  zoo models '*rcnn*' --out runs/models   only the recurrent ones, also written as Markdown/CSV/JSON
  zoo models --json               the same rows as JSON on stdout

Run `zoo VERB --help` for a verb's options. Exit codes: 0 done, 1 failed, 2 usage error,
130 / 143 stopped by SIGINT / SIGTERM."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' layout and shows an option's default where it tells something: not when
    the help already states it, when there is none (None), or for on/off flags."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                                   argparse._StoreConstAction, argparse._CountAction))
        if action.default is None or flag or "default" in text.lower() or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def at_least(minimum: int):
    """An argparse type: an integer of at least ``minimum``. A count below it is a usage error naming
    the option and the value (``--limit -3`` evaluated 7 of 10 images: a Python slice from the end)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def add_overrides(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str) -> None:
    """``--set KEY=VALUE``, repeatable, into ``args.overrides``: the one spelling of a YAML override
    (dotted keys reach inside) for every verb that reads a recipe or a study; ``help`` says what it
    overrides there."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description="grcnn-zoo: compare scene-text recognition backbones (CRNN-VGG, RCNN, "
        "GRCNN, DenseNet) behind one BiLSTM-CTC head.", epilog=EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"grcnn-zoo {__version__}")
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"zoo.cli.{verb}").register(subparsers)
    for path in JSON_VERBS:
        _subparser(parser, path).add_argument(
            "--json", action="store_true", help="print the result table's rows as JSON on stdout, and nothing "
            "else there (progress and notes stay on stderr): {\"title\": ..., \"rows\": [{column: value}, ...]}")
    return parser


def _subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a verb. A failure it raises is printed as one line on stderr (exit code 1); argparse's
    usage errors exit 2; SIGINT and SIGTERM stop it with one line and 130 / 143, as a shell reports a
    process those signals ended (a training run first saves the step it reached)."""
    args = build_parser().parse_args(argv)
    from zoo.report import json_results, json_text

    tables = None
    try:
        with _sigterm_interrupts(), (json_results() if getattr(args, "json", False) else nullcontext()) as tables:
            code = args.func(args) or 0
    except KeyboardInterrupt as err:
        message = str(err) or f"stopped by {getattr(err, 'signal_name', 'SIGINT')}"
        return _print_error("interrupted", message, _signal_code(err))
    except FAILURES as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        if _is_interruption(err):
            return _print_error("interrupted", message, _signal_code(err))
        if tables:  # a verb that failed after its result table (verify's findings): stdout still has it
            print(json_text(tables[-1]))
        return _print_error("error", message, 1)
    if tables is not None and code == 0:
        print(json_text(tables[-1] if tables else None))
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that outputs being written are cleaned up as for Ctrl-C."""
    signal_name = "SIGTERM"


@contextmanager
def _sigterm_interrupts():
    """While a verb runs, SIGTERM raises ``Terminated`` (training installs its own handlers inside,
    which save the step first). Only the main thread can install handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_interruption(err: BaseException) -> bool:
    """A training run or study that stopped on a signal after saving (``zoo.train.stopping.Interrupted``)."""
    stopping = sys.modules.get("zoo.train.stopping")
    return stopping is not None and isinstance(err, getattr(stopping, "Interrupted", ()))


def _signal_code(err: BaseException) -> int:
    """128 + the number of the signal that stopped the verb, as a shell reports it (Ctrl-C: SIGINT)."""
    return 128 + signal.Signals[getattr(err, "signal_name", "SIGINT")].value


def _print_error(label: str, message: str, code: int) -> int:
    from rich.markup import escape

    from zoo.report import err_console
    # soft_wrap: a message is one line however narrow the terminal; escape: paths like [x] are text
    err_console.print(f"[bold red]{label}:[/] {escape(message)}", soft_wrap=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
