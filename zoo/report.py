"""One way to show results: a rich table on the terminal, the same rows as Markdown, CSV and JSON
files, and the provenance (commit, versions, machine) that every result records."""
from __future__ import annotations

import csv
import functools
import html
import io
import json
import platform
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from zoo.fileio import atomic_path, check_folder_takes_files
from zoo.outputs import (is_zoo_json, is_zoo_table, is_zoo_text, marked_text, refuse_now, refuse_writing_into_input,
                         replaces_own)



def _console(stderr: bool) -> Console:
    made = Console(stderr=stderr)
    # logs and pipes: wide enough that tables are not folded into columns of "…"
    return made if made.is_terminal else Console(stderr=stderr, width=200)


# Results (tables) go to stdout; progress bars, notes, warnings and errors to stderr, so that
# `zoo predict x.png > readings.txt` or `zoo models --json | jq` get the results and nothing else.
console = _console(stderr=False)
err_console = _console(stderr=True)

MIN_RATE_SECONDS = 1.0  # a rate over less time is noise: two updates 0.2 ms apart read as 489,329 img/s


def rate(task) -> float | None:
    """Items per second of a rich task: rich's recent-window speed once that window spans
    ``MIN_RATE_SECONDS``, else the average since the start once the task has run that long, else None."""
    samples = list(getattr(task, "_progress", ()))
    if len(samples) >= 2 and samples[-1].timestamp - samples[0].timestamp >= MIN_RATE_SECONDS:
        return task.speed
    elapsed = task.elapsed
    return task.completed / elapsed if elapsed and elapsed >= MIN_RATE_SECONDS else None


class RateColumn(ProgressColumn):
    """Items per second, with the unit a task names (``progress.add_task(..., unit="img")``)."""

    def render(self, task) -> Text:
        unit = task.fields.get("unit", "it")
        speed = rate(task)
        return Text(f"{speed:,.1f} {unit}/s" if speed else f"- {unit}/s", style="cyan")


def progress(transient: bool = False) -> Progress:
    """The progress bar every long job uses: description, bar, n/total, rate, elapsed, ETA; on stderr."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=err_console, transient=transient,
    )


def note(message: str, label: str = "note", style: str = "yellow") -> None:
    """A note, warning or status line ("wrote ..."): stderr, never mixed into the results. The message
    is text, not markup (paths may hold brackets)."""
    text = escape(message)
    err_console.print(f"[{style}]{label}:[/] {text}" if label else text, soft_wrap=True)


_json_tables: list[dict] | None = None  # while a verb runs with --json: the tables it showed


@contextmanager
def json_results() -> Iterator[list[dict]]:
    """``--json``: tables are recorded instead of drawn (``rich_table``) and whatever else goes to
    ``console`` is sent to stderr, so stdout is left for the JSON the caller prints at the end."""
    global _json_tables
    _json_tables = []
    console.file = sys.stderr
    try:
        yield _json_tables
    finally:
        _json_tables = None
        console.file = None  # back to following sys.stdout


def json_text(value: Any) -> str:
    """JSON of result rows: numpy and torch scalars as numbers, anything else unknown as text."""
    return json.dumps(value, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def table_columns(rows: Sequence[dict]) -> list[str]:
    """Every key of the rows, in the order they first appear: rows may differ (`zoo ablate --status`:
    only a finished run has accuracies), and a column the first row lacks is still a column."""
    return list(dict.fromkeys(key for row in rows for key in row))


def rich_table(rows: Sequence[dict], title: str | None = None, columns: Sequence[str] | None = None):
    """The rows as a rich Table; under ``json_results`` they are recorded and nothing is drawn."""
    columns = list(columns or table_columns(rows))
    if _json_tables is not None:
        _json_tables.append({"title": title, "rows": [{c: r.get(c) for c in columns} for r in rows]})
        return Group()
    table = Table(title=title)
    for col in columns:
        numeric = any(isinstance(r.get(col), (int, float)) for r in rows)
        table.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_fmt(row.get(c)) for c in columns))
    return table


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    columns = list(columns or table_columns(rows))
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def html_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    columns = table_columns(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


TABLE_FORMATS = ("md", "csv", "json")  # the JSON last: entered last, it is renamed into place first
REPLACES_TABLES = replaces_own(is_zoo_table)  # a table replaces only a table the zoo wrote


def table_paths(out_dir: str | Path, stem: str) -> dict[str, Path]:
    return {ext: Path(out_dir) / f"{stem}.{ext}" for ext in TABLE_FORMATS}


def write_table(rows: Sequence[dict], out_dir: str | Path, stem: str, title: str | None = None,
                columns: Sequence[str] | None = None, meta: dict | None = None) -> dict[str, Path]:
    """Write ``rows`` as ``stem.md``, ``stem.csv`` and ``stem.json`` (with ``meta`` and provenance).

    They replace only a table the zoo wrote (``zoo.outputs.is_zoo_table``: the three are the zoo's
    when the JSON is), all three checked before any is written. The JSON is renamed into place
    first, so a write stopped between the renames leaves the Markdown and CSV beside a JSON that
    still marks them as the zoo's."""
    columns = list(columns or table_columns(rows))
    meta = {**provenance(), **(meta or {})}
    md = (f"# {title}\n\n" if title else "") + markdown_table(rows, columns)
    md += "\n" + "\n".join(f"- {k}: {v}" for k, v in meta.items()) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    payload = {"title": title, "meta": meta, "rows": list(rows)}
    texts = {"md": md, "csv": buf.getvalue(), "json": json.dumps(payload, indent=2, default=str)}
    paths = table_paths(out_dir, stem)
    with ExitStack() as stack:  # each atomic_path checks its target on entering: all before any write
        temporaries = {ext: stack.enter_context(atomic_path(path, REPLACES_TABLES)) for ext, path in paths.items()}
        for ext, tmp in temporaries.items():
            tmp.write_text(texts[ext], encoding="utf-8")
    return paths


def refuse_tables(out_dir: str | Path, stems: Sequence[str], inputs: Sequence[str | Path] = ()) -> None:
    """Raise now, before a long job, where writing its tables ``stems`` into ``out_dir`` at the end
    would fail: ``out_dir`` is or is inside one of ``inputs``, takes no file, or holds one of those
    tables that the zoo did not write."""
    refuse_writing_into_input(out_dir, inputs)
    check_folder_takes_files(out_dir)
    for stem in stems:
        for path in table_paths(out_dir, stem).values():
            refuse_now(path, REPLACES_TABLES)


def write_text(path: str | Path, text: str, ours: Callable[[Path], bool] = is_zoo_text,
               inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``text`` atomically, replacing only what ``ours`` recognises as the zoo's, never one of
    ``inputs``. Markdown, HTML and YAML get the first-line comment (``zoo.outputs.marked_text``) by
    which the default ``ours`` knows them again; a format without comments names its own ``ours``."""
    with atomic_path(path, replaces_own(ours, inputs)) as tmp:
        tmp.write_text(marked_text(path, text), encoding="utf-8")
    return Path(path)


@functools.lru_cache(maxsize=None)
def git_commit(cwd: str | Path | None = None) -> str:
    """The commit of the checkout the package runs from, with '+dirty' for uncommitted changes: read
    once per process, since the code a process runs is what it imported, whatever is committed later
    (a long run's checkpoints recorded the commits made while it trained)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def provenance() -> dict[str, Any]:
    import torch

    from zoo.version import __version__
    # str(): torch.__version__ is a TorchVersion, and checkpoints that record this hold plain data only
    return {
        "zoo_version": __version__, "commit": git_commit(), "torch": str(torch.__version__),
        "python": platform.python_version(), "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": torch.get_num_threads(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def to_json(obj: dict, path: str | Path) -> Path:
    """Write ``obj``, which records its provenance (``zoo.outputs.is_zoo_json``), as JSON; it replaces
    only JSON the zoo wrote."""
    return write_text(path, json.dumps(obj, indent=2, default=str), ours=is_zoo_json)
