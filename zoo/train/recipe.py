"""YAML recipes: ``_base_`` inheritance, ``--set a.b=value`` overrides, and validation before any work.

A recipe is a tree of dataclasses; the YAML may only name their fields. An unknown key, a value of
the wrong type or out of range (``BOUNDS``) is an error naming the key (and its closest valid
names), every problem of a recipe in one error. Scales (CPU minutes vs the
paper's GPU schedule) differ by values only: a CPU recipe sets ``_base_`` to the paper recipe and
overrides what it must.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zoo.fileio import read_utf8
from zoo.hints import did_you_mean
from zoo.train.recipe_checks import optimizer_args_problems, schedule_problems, synth_problems


class RecipeError(ValueError):
    """A recipe that cannot run: the message names the key or path and the fix."""


@dataclass
class ModelSection:
    name: str = "grcnn"
    options: dict = field(default_factory=dict)  # create_model overrides, e.g. {recurrent_steps: 3}


@dataclass
class SynthSection:
    """How to render a missing LMDB with the project's word renderer (``zoo data synth``)."""
    n: int = 0
    seed: int = 0
    preset: str = "baseline"           # renderer settings: baseline | scene (zoo.data.synth.render.PRESETS)
    font_filter: bool = True           # False: every font that covers the words (an ablation arm)
    fonts: str = "all"                 # all: pip's and the system's (zoo data fonts --install) | pip: pip's only
    settings: dict = field(default_factory=dict)  # RenderConfig fields over the preset, e.g. {p_photo: 0.3}


@dataclass
class DataSection:
    train: str = ""                    # an LMDB in the public layout (MJSynth, or rendered here)
    val: str = ""                      # held-out rendered words: never a benchmark's test set
    train_synth: SynthSection | None = None  # render ``train`` when it is missing
    val_synth: SynthSection | None = None
    val_samples: int = 0               # validate on the first N samples (0 = all)
    real_val: list[str] = field(default_factory=list)  # folders of real words (gt.txt): validation only, never trained on
    real_val_samples: int = 0          # the first N words of each real_val folder (0 = all)
    charset: str = "alnum36"           # alnum36 | alnum62 | printable94 | a charset file's path
    width_policy: str | None = None    # None: the model's config (fixed / keep_ratio)
    label_policy: str = "drop"         # drop (counted) | error
    augment: bool = False
    workers: int = 2


@dataclass
class TrainSection:
    iterations: int = 300_000
    batch_size: int = 192              # global: split over the processes of a torchrun job
    optimizer: str = "adadelta"        # any timm optimizer name: adadelta, adam, adamw, sgd, ...
    lr: float = 1.0
    weight_decay: float = 0.0
    optimizer_args: dict = field(default_factory=lambda: {"rho": 0.95})
    scheduler: str = "none"            # none | cosine | step | plateau (timm schedulers)
    warmup_iterations: int = 0
    min_lr: float = 0.0
    decay_iterations: int = 0          # step scheduler: decay every N iterations
    decay_rate: float = 0.1
    grad_clip: float = 5.0             # max gradient norm; 0 disables
    ema_decay: float = 0.0             # 0 disables the EMA of weights (timm ModelEmaV3)
    bf16: bool = False                 # bf16 autocast (CPU or GPU); the CTC loss stays fp32
    sync_bn: bool = True               # torchrun on GPUs: SyncBatchNorm (CPU/gloo has none: per-process BN)
    freeze_bn: bool = False            # BatchNorm uses its running statistics (fine-tuning)
    max_bad_batches: int = 20          # stop after this many non-finite losses in a row
    log_every: int = 20
    val_every: int = 1000
    select_on: str = "rendered"        # which validation picks best.pt: rendered (data.val) | real (mean over data.real_val)
    checkpoint_every: int = 500


# The values that make sense, (low, high, whether low itself is allowed): a frequency of 0 steps, a
# negative count, a learning rate of 0 or infinity, an EMA decay of 2 are refused at load time, not
# after hours of NaN. Every float must also be finite.
INF = float("inf")
BOUNDS = {
    "train.iterations": (1, INF, True), "train.batch_size": (1, INF, True), "train.log_every": (1, INF, True),
    "train.val_every": (1, INF, True), "train.checkpoint_every": (1, INF, True),
    "train.lr": (0, INF, False), "train.weight_decay": (0, INF, True), "train.min_lr": (0, INF, True),
    "train.warmup_iterations": (0, INF, True), "train.decay_iterations": (0, INF, True),
    "train.decay_rate": (0, INF, False), "train.grad_clip": (0, INF, True), "train.ema_decay": (0, 1, True),
    "train.max_bad_batches": (0, INF, True), "data.val_samples": (0, INF, True), "data.workers": (0, INF, True),
    "data.real_val_samples": (0, INF, True), "seed": (0, 2**32 - 1, True),
    # a study's own keys (zoo.study.config.Study is read by the same _build)
    "speed_batch": (1, INF, True), "bootstrap": (1, INF, True), "receptive_field_images": (1, INF, True),
}


def out_of_bounds(name: str, value: Any) -> str | None:
    """Why ``value`` is no value for the recipe key ``name``, or None when it is one."""
    if isinstance(value, float) and value != value or value in (INF, -INF):
        return f"recipe key {name!r} must be a finite number, got {value!r}"
    if name not in BOUNDS:
        return None
    low, high, low_allowed = BOUNDS[name]
    if value < low or (value == low and not low_allowed) or value > high or (name == "train.ema_decay" and value == 1):
        lower = f"at least {low}" if low_allowed else f"above {low}"
        upper = "" if high == INF else (" and below 1" if name == "train.ema_decay" else f" and at most {high}")
        return f"recipe key {name!r} must be {lower}{upper}, got {value!r}"
    return None

# What a resumed run may change and still continue the same run (``recipe_changes``): extending
# it, how often it logs, validates and saves, data loader processes (samples are seeded by index,
# not by worker), where the recipe was read from and where the run folder is.
RESUMABLE_CHANGES = ("train.iterations", "train.log_every", "train.val_every", "train.checkpoint_every",
                     "data.workers", "source", "out")


@dataclass
class Recipe:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    seed: int = 0
    out: str = "runs/default"
    source: str = ""                   # the YAML file this recipe was loaded from

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------
# Loading: YAML with _base_, overrides, then typed construction


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read ``path`` (resolving ``_base_``), apply ``overrides`` ("a.b=value", YAML values)."""
    tree = _read_with_bases(Path(path), seen=())
    apply_overrides(tree, overrides)
    recipe = from_dict(Recipe, tree, "")
    recipe.source = str(path)
    return recipe


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> dict:
    if not path.is_file():
        raise RecipeError(f"recipe {path} does not exist" + (f" (a _base_ of {seen[-1]})" if seen else ""))
    if path.resolve() in seen:
        raise RecipeError(f"recipe {path}: _base_ cycle through {', '.join(map(str, seen))}")
    tree = parse_yaml(read_utf8(path, "recipe"), str(path)) or {}
    if not isinstance(tree, dict):
        raise RecipeError(f"recipe {path}: the top level must be a mapping, got {type(tree).__name__}")
    bases = tree.pop("_base_", [])
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        _deep_merge(merged, _read_with_bases(path.parent / base, seen + (path.resolve(),)))
    return _deep_merge(merged, tree)


def _deep_merge(into: dict, update: dict) -> dict:
    """``update`` merged into ``into``, mapping by mapping; a mapping with ``_delete_: true`` replaces
    the base's instead (MMCV's convention: e.g. AdamW's optimizer_args instead of Adadelta's rho)."""
    for key, value in update.items():
        if isinstance(value, dict) and value.get("_delete_"):
            into[key] = {k: v for k, v in value.items() if k != "_delete_"}
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def apply_overrides(tree: dict, overrides: list[str] | tuple[str, ...], example: str = "train.iterations=2000") -> None:
    """``--set`` items applied to a YAML tree in order, a recipe's or a study's: "KEY=VALUE", KEY dotted
    into sections (``train.lr``), VALUE in YAML. ``example`` is the item an error shows."""
    for item in overrides:
        _apply_override(tree, item, example)


def _apply_override(tree: dict, item: str, example: str) -> None:
    if "=" not in item:
        raise RecipeError(f"--set {item!r}: expected KEY=VALUE, e.g. {example}")
    key, raw = item.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise RecipeError(f"--set {item!r}: {part!r} is not a section")
    value = parse_yaml(raw, f"--set {item!r}")
    if isinstance(value, dict):  # an override replaces a mapping whole: _delete_ asks for what it does anyway
        value = {k: v for k, v in value.items() if k != "_delete_"}
    node[leaf] = value


def parse_yaml(text: str, where: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        # one line: PyYAML's message spans several, with the offending line and a caret under it
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise RecipeError(f"{where}: not valid YAML{at} ({problem}). Quote values holding ': ', e.g. "
                          f"\"a={{n: 1}}\"") from None


def from_dict(cls: type, data: Any, where: str) -> Any:
    """The dataclass ``cls`` from the mapping ``data``; every problem in it is listed in one RecipeError."""
    problems: list[str] = []
    built = _build(cls, data, where, problems)
    if len(problems) == 1:
        raise RecipeError(problems[0])
    if problems:
        raise RecipeError(f"{len(problems)} problems in the recipe:\n" + "\n".join(f"  - {p}" for p in problems))
    return built


def _build(cls: type, data: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        problems.append(f"recipe key {where or 'top level'!r} must be a mapping, got {data!r}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            problems.append(f"unknown recipe key {name!r}.{did_you_mean(key, fields)} Valid keys here: {', '.join(fields)}.")
            continue
        try:
            values[key] = _convert(hints[key], value, name, problems)
        except RecipeError as err:
            problems.append(str(err))
            continue
        if (problem := out_of_bounds(name, values[key])) is not None:
            problems.append(problem)
    if cls is SynthSection:
        problems.extend(synth_problems(values, where))
    if cls is TrainSection:
        problems.extend(schedule_problems(values))
        args = values.get("optimizer_args", TrainSection().optimizer_args)
        # Adadelta's defaults are known to work, and no arguments are nothing to check: then timm (and
        # torch, seconds) is not imported by a verb that only reads recipes (`zoo ablate --status`)
        if ("optimizer" in values or "optimizer_args" in values) and args:
            problems.extend(optimizer_args_problems(values.get("optimizer", TrainSection.optimizer), args))
    return cls(**values)


def _convert(hint: Any, value: Any, name: str, problems: list[str]) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        kinds = [h for h in options if h is not type(None)]
        if len(kinds) > 1:  # e.g. str | list: a value of any of them, as written
            if any(isinstance(value, typing.get_origin(h) or h) for h in kinds):
                return value
            raise RecipeError(f"recipe key {name!r} must be {' or '.join(h.__name__ for h in kinds)}, "
                              f"got {value!r} ({type(value).__name__})")
        hint = kinds[0]
        origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, name, problems)
    expected = origin or hint
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str):
        # YAML 1.1 reads 1e-3 (no dot) as text; it is the float the user wrote
        try:
            return float(value)
        except ValueError:
            pass
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise RecipeError(f"recipe key {name!r} must be {getattr(expected, '__name__', expected)}, "
                          f"got {value!r} ({type(value).__name__})")
    if expected is list and typing.get_args(hint) == (str,):
        wrong = next((i for i, item in enumerate(value) if not isinstance(item, str)), None)
        if wrong is not None:  # [1, 2]: YAML read the names as numbers, and os.fspath() failed at training
            raise RecipeError(f"recipe key {name!r} takes {LIST_ITEMS.get(name, 'a list of text')}, got {value!r}: "
                              f"item {wrong + 1} is {value[wrong]!r} ({type(value[wrong]).__name__}); quote a "
                              f"name YAML reads as a number or a date: [\"{value[wrong]}\"]")
    return value


LIST_ITEMS = {"data.real_val": "paths: a list of folders of real words, each holding a gt.txt"}


def recipe_changes(before: dict, after: dict) -> list[str]:
    """"key: old -> new" for every value that differs between two ``Recipe.as_dict()`` trees, but
    for ``RESUMABLE_CHANGES``. A key that ``before`` lacks (a recipe saved before the key existed)
    counts as its default, the value that run trained with."""
    defaults = _flatten(_every_default(Recipe))
    old, new = _flatten(before), _flatten(after)
    absent = "(absent)"
    changes = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key, defaults.get(key, absent)), new.get(key, absent)
        if key not in RESUMABLE_CHANGES and was != now:
            changes.append(f"{key}: {was!r} -> {now!r}")
    return changes


def _every_default(cls: type) -> dict:
    """The defaults of ``cls`` as a tree, optional sections (``train_synth: None``) filled in with
    theirs: what a run saved before a section's field existed trained with."""
    hints = typing.get_type_hints(cls)
    tree = {}
    for f in dataclasses.fields(cls):
        section = next((h for h in typing.get_args(hints[f.name]) or (hints[f.name],) if dataclasses.is_dataclass(h)),
                       None)
        tree[f.name] = _every_default(section) if section else dataclasses.asdict(cls())[f.name]
    return tree


def _flatten(tree: dict, prefix: str = "") -> dict:
    """{"a.b": value} for every leaf (an empty mapping has none); tuples as lists, as YAML has them."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


SAVED_RECIPE_HEADER = "# the resolved recipe of this run, written by `zoo train` (grcnn-zoo)\n"


def save_recipe(recipe: Recipe, path: str | Path) -> Path:
    """The resolved recipe, with a first line that tells a run's own copy from a user's file."""
    from zoo.report import write_text
    return write_text(path, SAVED_RECIPE_HEADER + yaml.safe_dump(recipe.as_dict(), sort_keys=False))
