"""A study's YAML: the training recipe every run shares, the arms compared (models, or data variants
of one model), seeds, the benchmarks runs are chosen on, and those held back until after the choice.

Every study is a list of arms, each (label, model, model options, overrides): a models study has one
arm per model (``models:``), a data study one per variant (``variants:`` with one ``model:``), and a
study with both one per (model, variant). Runs live in ``out/runs/<label>-s<seed>``. A study of
``weights: shipped`` trains nothing: each arm is the zoo's shipped weights for its model (one run,
the one behind the weights), compared on the same benchmarks with the same statistics.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from zoo.fileio import read_utf8
from zoo.report import err_console
from zoo.train.recipe import ModelSection, RecipeError, apply_overrides, from_dict, parse_yaml


@dataclass
class BenchmarkSpec:
    name: str = ""                      # a suite name (ic03, svt, ic13-857, ...): path, protocol and lexicons follow
    path: str = ""                      # or a folder / LMDB (e.g. held-out rendered words)
    protocol: str = "ic03-860"
    lexicons: list | None = None        # None: the suite benchmark's standard settings (a path: none)
    limit: int = 0                      # evaluate the first N images only (0: all)
    synth: dict | None = None           # {n, seed}: render this LMDB of held-out words when it is missing
    optional: bool = False              # absent: skip it (said loudly, recorded in the report), not an error


@dataclass
class Arm:
    """One row of a study's tables: ``model`` with ``options``, trained on the study's recipe with the
    study's overrides and then its own (a data variant's)."""
    label: str                          # the row's name and the run folders' prefix: out/runs/<label>-s<seed>
    model: str
    options: dict
    overrides: list = field(default_factory=list)
    variant: str = ""                   # the data variant it trains on ("" in a models study)


@dataclass
class Study:
    name: str = "study"
    recipe: str = "recipes/cpu/grcnn.yaml"   # the training recipe every run shares
    models: dict = field(default_factory=dict)   # name -> create_model options
    model: ModelSection | None = None   # a variants study's one model: {name, options}
    variants: dict = field(default_factory=dict)  # name -> --set overrides (a data variant), after `overrides`
    init_from: str = ""                 # every run continues from these weights: a shipped name, .pt or .safetensors
    weights: str = "trained"            # trained: every run trains here | shipped: each model's shipped weights, as they are
    reference: str = ""                 # the arm the others are compared with (default: a variants study's first)
    compare: str = "all"                # significance pairs: all (every two arms) | reference (each against it)
    seeds: list = field(default_factory=lambda: [0, 1, 2])
    overrides: list = field(default_factory=list)   # --set style, applied to every run
    benchmarks: list = field(default_factory=lambda: [{"name": "ic03"}])
    final_benchmarks: list = field(default_factory=list)  # held back: evaluated only by --final, after the choice
    chosen: str = ""                    # the arm chosen on `benchmarks`, recorded before --final looks further
    speed_batch: int = 64               # inference batch for the speed columns (training: the recipe's)
    receptive_field_images: int = 4     # images of the first benchmark the receptive-field grid studies
    bootstrap: int = 10_000             # bootstrap draws (seeds and images) for the significance table
    alpha: float = 0.05                 # family-wise error rate of each significance table (Holm)
    out: str = "runs/ablations/study"
    skipped_benchmarks: list = field(default_factory=list)  # filled by load_study: optional ones absent

    def arms(self) -> list[Arm]:
        """The study's arms in table order: its models, its variants, or every (model, variant)."""
        models = dict(self.models) if self.models else ({self.model.name: self.model.options} if self.model else {})
        if not self.variants:
            return [Arm(m, m, dict(options or {})) for m, options in models.items()]
        return [Arm(f"{m}-{v}" if self.models else v, m, dict(options or {}), list(overrides or []), v)
                for m, options in models.items() for v, overrides in self.variants.items()]

    def arm(self, label: str) -> Arm:
        arms = {a.label: a for a in self.arms()}
        if label not in arms:
            raise KeyError(f"{label!r} is not an arm of study {self.name}; its arms: {', '.join(arms)}")
        return arms[label]

    @property
    def label_column(self) -> str:
        """What the tables' first column names: the variant (data studies) or the model."""
        return "variant" if self.variants else "model"

    def reference_arm(self) -> str:
        """The arm the others are compared with: ``reference``, else a variants study's first variant
        (its baseline), else none (a models study compares every two models alike)."""
        if self.reference or not self.variants or self.models:
            return self.reference
        return self.arms()[0].label

    def pairs(self) -> list[tuple[str, str]]:
        """The (A, B) pairs of the significance tables: each arm against the reference first (A the
        arm, so the difference reads "arm - reference"), then, unless ``compare: reference``, every
        other two arms in table order."""
        labels, reference = [a.label for a in self.arms()], self.reference_arm()
        if not reference:
            return list(itertools.combinations(labels, 2))
        against = [(label, reference) for label in labels if label != reference]
        if self.compare == "reference":
            return against
        return against + [p for p in itertools.combinations(labels, 2) if reference not in p]


def load_study(path: str | Path, overrides: list[str] = ()) -> Study:
    if not Path(path).is_file():
        raise FileNotFoundError(f"study {path} does not exist; recipes/ablations/ holds the built-in ones")
    tree = parse_yaml(read_utf8(path, "study"), str(path)) or {}
    if not isinstance(tree, dict):
        raise RecipeError(f"study {path}: the top level must be a mapping of keys (name, recipe, models, seeds, "
                          f"benchmarks, ...), not a {type(tree).__name__}")
    apply_overrides(tree, overrides, example="seeds=[0,1]")
    study = from_dict(Study, tree, "")
    study.benchmarks = [suite_entry(from_dict(BenchmarkSpec, b, f"benchmarks[{i}]"), f"{path}: benchmarks[{i}]")
                        for i, b in enumerate(study.benchmarks)]
    study.final_benchmarks = [suite_entry(from_dict(BenchmarkSpec, b, f"final_benchmarks[{i}]"),
                                          f"{path}: final_benchmarks[{i}]")
                              for i, b in enumerate(study.final_benchmarks)]
    check_arms(study, str(path))
    study.recipe = study_recipe(study.recipe, Path(path))
    study.benchmarks = present_benchmarks(study.benchmarks, str(path), study.skipped_benchmarks)
    return study


def study_recipe(recipe: str, study_file: Path) -> str:
    """Where a study's ``recipe:`` is: beside the study file when it is there (a study and its own
    recipe move together), else from the directory zoo runs in, as every other path of a study is
    read (the shipped studies name recipes/cpu/grcnn.yaml from the repo root). Neither is an error
    naming both places."""
    beside = study_file.parent / recipe
    if beside.is_file():
        return str(beside)
    if Path(recipe).is_file():
        return recipe
    if Path(recipe).is_absolute():
        raise FileNotFoundError(f"{study_file}: recipe {recipe} does not exist")
    raise FileNotFoundError(f"{study_file}: recipe {recipe} is neither beside the study file ({beside}) nor "
                            f"under the directory zoo runs in ({Path.cwd() / recipe})")


def check_arms(study: Study, where: str) -> None:
    """What a study compares must be well formed before any work: arms, variants, the reference,
    the recorded choice and the weights every run starts from."""
    if not study.models and not study.model:
        raise RecipeError(f"{where}: a study needs at least one entry under 'models' (or one `model:` "
                          f"and its `variants:`)")
    if study.models and study.model:
        raise RecipeError(f"{where}: give `models:` (several) or `model:` (a variants study's one), not both")
    for name, items in study.variants.items():
        if not str(name) or any(c in str(name) for c in "/\\: "):
            raise RecipeError(f"{where}: variant name {name!r} must be a plain folder name (no '/', ':' or spaces)")
        if not isinstance(items, list) or not all(isinstance(i, str) and "=" in i for i in items):
            raise RecipeError(f"{where}: variants.{name} must be a list of KEY=VALUE overrides, "
                              f"e.g. [data.train=runs/data/x.lmdb], got {items!r}")
    if not study.seeds or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in study.seeds):
        raise RecipeError(f"{where}: seeds must be a non-empty list of whole numbers of at least 0, got {study.seeds!r}")
    from zoo.factory import list_models

    unknown = [a.model for a in study.arms() if a.model not in list_models()]
    if unknown:
        raise RecipeError(f"{where}: {', '.join(sorted(set(unknown)))}: no such registered model; `zoo models` lists "
                          f"them ({', '.join(list_models())})")
    if study.weights not in ("trained", "shipped"):
        raise RecipeError(f"{where}: weights must be trained (every run trains here) or shipped (each model's "
                          f"shipped weights, nothing trained), got {study.weights!r}")
    if study.weights == "shipped":
        check_shipped(study, where)
    labels = [a.label for a in study.arms()]
    for key in ("reference", "chosen"):
        if getattr(study, key) and getattr(study, key) not in labels:
            raise RecipeError(f"{where}: {key} {getattr(study, key)!r} is not an arm; the arms: {', '.join(labels)}")
    if study.compare not in ("all", "reference"):
        raise RecipeError(f"{where}: compare must be all or reference, got {study.compare!r}")
    if study.compare == "reference" and not study.reference_arm():
        raise RecipeError(f"{where}: compare: reference needs a `reference:` arm")
    if study.init_from:
        from zoo.factory import shipped_models, shipped_path

        weights = shipped_path(study.init_from)  # NAME@COMMIT: refused here when git has no such commit
        if not Path(study.init_from).is_file() and not (weights and weights.is_file()):
            raise FileNotFoundError(f"{where}: init_from {study.init_from!r} is neither a file (.pt, .safetensors) "
                                    f"nor a shipped model ({', '.join(shipped_models())}, or NAME@COMMIT for the "
                                    f"weights an earlier commit shipped)")


def check_shipped(study: Study, where: str) -> None:
    """A study of shipped weights compares the weights as they are: one run per model (the one they
    came from), their own architecture, nothing trained on top."""
    from zoo.factory import shipped_models

    if study.variants or study.init_from:
        raise RecipeError(f"{where}: weights: shipped trains nothing, so it takes neither variants nor init_from "
                          f"(train data variants with `weights: trained`)")
    if len(study.seeds) != 1:
        raise RecipeError(f"{where}: weights: shipped evaluates each model's one shipped run: give one seed "
                          f"(seeds: [0]), not {study.seeds}; significance is then the bootstrap over images")
    for name, options in study.models.items():
        if name not in shipped_models():
            raise RecipeError(f"{where}: no shipped weights for {name!r}; shipped: {', '.join(shipped_models())}")
        if options:
            raise RecipeError(f"{where}: models.{name}: the shipped weights fix the architecture, give no options "
                              f"(got {options}); `zoo models {name}` shows them")


def present_benchmarks(specs: list[BenchmarkSpec], where: str, skipped: list) -> list[BenchmarkSpec]:
    """The benchmarks that exist (or will be rendered); an absent optional one is appended to
    ``skipped`` and said, an absent other one is an error, and so is none left."""
    kept = []
    for spec in specs:
        if Path(spec.path).exists() or spec.synth:
            kept.append(spec)
        elif spec.optional:
            skipped.append(spec.path)
            err_console.print(f"[yellow]note:[/] benchmark {spec.path} is absent: skipped (optional in {where}); "
                          f"the report lists it as skipped")
        else:
            raise FileNotFoundError(f"{where}: benchmark {spec.path} does not exist (paths are relative to the "
                                    f"directory you run zoo from; mark it `optional: true` to skip it when absent)")
    if not kept:
        raise FileNotFoundError(f"{where}: none of the benchmarks exists ({', '.join(skipped)})")
    return kept


def suite_entry(spec: BenchmarkSpec, where: str) -> BenchmarkSpec:
    """A study benchmark with its path, protocol and lexicon settings filled in from the suite when
    it is named (under the data root, ``zoo.data.benchmarks.data_root``)."""
    from zoo.data.benchmarks import SUITE, data_root

    if bool(spec.name) == bool(spec.path):
        raise RecipeError(f"{where}: give a suite name ({', '.join(SUITE)}) or a path, one of the two")
    if spec.name:
        if spec.name not in SUITE:
            raise RecipeError(f"{where}: {spec.name!r} is not a suite benchmark; known: {', '.join(SUITE)}")
        suite = SUITE[spec.name]
        spec.path, spec.protocol = str(data_root() / suite.folder), suite.protocol
        if spec.lexicons is None:
            present = [s for s in suite.lexicons if s == "full" or (Path(spec.path) / f"lexicon_{s}.txt").is_file()]
            spec.lexicons = ["none", *present]
    spec.lexicons = spec.lexicons or ["none"]
    return spec


def resolved(spec: BenchmarkSpec):
    """The study entry as ``zoo.data.benchmarks.Resolved`` (its suite entry when named)."""
    from zoo.data.benchmarks import SUITE, Resolved

    return Resolved(Path(spec.path), spec.protocol, SUITE.get(spec.name), bool(spec.name))


def benchmark_key(spec: BenchmarkSpec) -> str:
    return (spec.name or Path(spec.path).name) + (f"[:{spec.limit}]" if spec.limit else "")


def study_tree(study: Study) -> dict:
    """The study as YAML data that ``load_study`` reads back to the same study (what ``--jobs``
    children read): a named benchmark keeps its name only, its path follows from the data root."""
    from dataclasses import asdict

    tree = asdict(study)
    for key in ("benchmarks", "final_benchmarks"):
        tree[key] = [{**b, "path": ""} if b["name"] else b for b in tree[key]]
    return tree
