"""A run folder's layout (what ``zoo train`` writes into ``out``, and a study beside it) and the one
reader of its ``log.jsonl``; the trainer, studies, figures and ``zoo ship`` all go through here."""
from __future__ import annotations

import json
from pathlib import Path

from zoo.fileio import LOCK_NAME, check_folder_takes_files
from zoo.outputs import is_zoo_png
from zoo.train.recipe import SAVED_RECIPE_HEADER, RecipeError

LAST = "last.pt"        # the full training state, every checkpoint_every steps and at the end
BEST = "best.pt"        # the checkpoint best on validation (train.select_on)
LOG = "log.jsonl"       # a line per logged step and per validation
RECIPE = "recipe.yaml"  # the resolved recipe, its first line SAVED_RECIPE_HEADER
CURVES = "curves.png"   # loss and validation accuracies, drawn from the log
LOCK = LOCK_NAME        # held by the running `zoo train` (zoo.fileio.exclusive)
EVAL = "eval.json"      # a study's evaluation of the run: it marks the run finished
FINAL = "final.json"    # a study's evaluation on the held-back benchmarks, after the choice

# what a run (or a study, for its runs) writes into out, but for its recipe copy (told by its first line)
RUN_FILES = (LAST, BEST, LOG, CURVES, LOCK, EVAL, FINAL)


def is_run_file(path: Path) -> bool:
    """Whether ``path`` in a run folder is the run's own: what a run (or a study, for its runs) writes,
    its recipe copy (recognised by its first line) and curves (by the zoo's PNG mark), or a temporary
    a killed write left behind."""
    if path.name == RECIPE:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline() == SAVED_RECIPE_HEADER
    if path.name == CURVES:  # a user's figure of that name is no run's: refused before training, not after
        return is_zoo_png(path)
    return path.name in RUN_FILES or path.name.startswith(".tmp-")


def check_start(resume: bool, init_from: str | None, allow_recipe_change: bool) -> None:
    """The ways of starting a run that contradict each other."""
    if resume and init_from:
        raise RecipeError("--resume continues a run; --init-from starts a new one from weights: choose one")
    if allow_recipe_change and not resume:
        raise RecipeError("--allow-recipe-change applies to --resume only")


def refuse_before_start(out: Path, resume: bool, init_from: str | None, allow_recipe_change: bool) -> None:
    """What refuses a run at ``out``, said before anything is made there (the folder, its lock): a
    refused run must leave the user's folder (or LMDB) as it was. Checked again under the lock."""
    check_start(resume, init_from, allow_recipe_change)
    try:
        check_folder_takes_files(out)
    except OSError as err:
        raise RecipeError(f"out: {err} (out must be a folder the zoo can create and write in, e.g. "
                          f"--set out=runs/another)") from None
    if resume and not (out / LAST).is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {out / LAST}; start without --resume")
    if not resume:
        refuse_existing_run(out)


def refuse_existing_run(out: Path) -> None:
    """A new run's ``out`` must not hold a run (starting anew would replace its checkpoints and empty
    its log) nor anything the zoo did not write there (a user's recipe.yaml, a data set)."""
    held = [name for name in (LAST, BEST, LOG) if (out / name).is_file() and (out / name).stat().st_size]
    if held:
        raise RecipeError(f"out {out} already holds a run ({', '.join(held)}); starting anew would replace "
                          f"it: continue it with --resume, or choose a new out (--set out=runs/another)")
    foreign = sorted(p.name for p in out.iterdir() if not is_run_file(p)) if out.is_dir() else []
    if foreign:
        raise RecipeError(f"out {out} holds files `zoo train` did not write ({', '.join(foreign[:5])}"
                          f"{', ...' if len(foreign) > 5 else ''}); a run would write over them: choose a new "
                          f"or empty out (--set out=runs/another)")


def trained_checkpoint(run_dir: Path) -> Path | None:
    """The run's best checkpoint, else its last, else None (a finished run's record may be all that is
    left of it: studies commit eval.json and log.jsonl, not checkpoints)."""
    return next((c for c in (run_dir / BEST, run_dir / LAST) if c.is_file()), None)


def _log_lines(log: Path) -> list[str]:
    return [line for line in Path(log).read_text().splitlines() if line.strip()]


def read_log(log: str | Path) -> list[dict]:
    """Every record of a ``log.jsonl``, in order: steps (``loss``, ``lr``, ...) and validations."""
    return [json.loads(line) for line in _log_lines(log)]


def start_log(out: Path) -> Path:
    """A new run's empty ``log.jsonl``, its folder made: the file ``append_log`` then extends."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / LOG
    log.write_text("")
    return log


def append_log(log: Path, record: dict) -> None:
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_log(log: Path, step: int) -> None:
    """Drop the lines past ``step`` (a resumed run's checkpoint): those steps run again. The lines
    kept are kept as written."""
    lines = _log_lines(log) if log.exists() else []
    log.write_text("".join(line + "\n" for line in lines if json.loads(line)["step"] <= step))
