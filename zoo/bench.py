"""Fair speed measurements: training and inference images/s, latency, and the fraction of this
machine's measured peak that a model achieves.

Fairness rules every function here follows: a fixed number of threads (``set_threads``), warm-up
calls before timing, the median of several repeats, and, when paths are compared, their timed
calls interleaved round-robin (``interleaved_medians``) so that a load spike from another process
hits every path alike. Ratios measured in one run are the trustworthy numbers on a shared machine.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from zoo.train.loss import ctc_training_loss

WIDTH = 100  # the images/s and GFLOPs of every model are for 100x32 images


def set_threads(threads: int) -> None:
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def load_average() -> str:
    """The 1/5/15-minute load averages (what `uptime` prints): how busy the machine was."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def interleaved_medians(calls: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                        on_call: Callable[[], None] | None = None) -> dict[str, float]:
    """Median seconds of each call: ``warmup`` untimed rounds, then ``repeats`` timed rounds, each
    round calling every entry once in turn."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(warmup + repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            if round_ >= warmup:
                times[name].append(elapsed)
            if on_call:
                on_call()
    return {name: statistics.median(t) for name, t in times.items()}


def images(batch: int, height: int = 32, width: int = WIDTH, in_chans: int = 1, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, in_chans, height, width, generator=generator) * 2 - 1


def inference_call(model: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return model(batch)
    return call


@dataclass
class TrainingStep:
    """One optimiser step on a fixed synthetic batch: forward, CTC loss, backward, Adadelta step
    (the optimiser of the CRNN and GRCNN papers). Labels: 5 random non-blank classes per image.
    ``bf16``: the forward under bf16 autocast and the CTC loss in fp32, as ``train.bf16`` trains (the
    loss is the trainer's own, ``zoo.train.loss``). ``channels_last``: weights and batch in the layout
    oneDNN's convolutions prefer, as `zoo train` keeps them (the model is converted in place). Both
    set: exactly the trainer's step. ``compiled``: the forward and backward through ``torch.compile``
    (inductor), compiled on the first call."""
    model: nn.Module
    batch: torch.Tensor
    num_classes: int
    label_length: int = 5
    seed: int = 0
    bf16: bool = False
    channels_last: bool = False
    compiled: bool = False

    def __post_init__(self) -> None:
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
            self.batch = self.batch.contiguous(memory_format=torch.channels_last)
        generator = torch.Generator().manual_seed(self.seed)
        n = self.batch.shape[0]
        self.targets = torch.randint(1, self.num_classes, (n, self.label_length), generator=generator)
        self.target_lengths = torch.full((n,), self.label_length)
        self.optimizer = torch.optim.Adadelta(self.model.parameters(), lr=1.0)
        self.model.train()
        # the compiled module shares the model's parameters, so the optimiser steps the same weights
        self.net = torch.compile(self.model) if self.compiled else self.model

    def __call__(self) -> float:
        loss = ctc_training_loss(self.net, self.batch, self.targets, self.target_lengths, self.bf16)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


def measure_peak(repeats: int = 5) -> dict[str, float]:
    """This machine's fp32 GFLOP/s at the current thread count for a large 3x3 convolution
    (256 -> 256 channels on 64 x 8 x 26: GRCNN's widest layer at batch 64) and a 2048^3 matmul."""
    x = torch.randn(64, 256, 8, 26).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3).contiguous(memory_format=torch.channels_last)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    conv_flops = 2 * x.shape[0] * 256 * 256 * 9 * x.shape[2] * x.shape[3]
    matmul_flops = 2 * 2048 ** 3
    with torch.no_grad():
        seconds = interleaved_medians({"conv": lambda: F.conv2d(x, w, padding=1), "matmul": lambda: a @ b},
                                      repeats, warmup=2)
    return {"conv GFLOP/s": conv_flops / seconds["conv"] / 1e9, "matmul GFLOP/s": matmul_flops / seconds["matmul"] / 1e9}


def find_reference():
    """The plain reference networks (``zoo.models.reference``): part of the package, so every
    install has them."""
    from zoo.models import reference

    return reference


def inference_paths(model: nn.Module, reference=None, onnx_dir: str | None = None) -> dict[str, Callable]:
    """Every inference path of one eval-mode zoo model, all with the same weights."""
    from zoo.export import OnnxRuntimeModule, export_onnx
    from zoo.models.fast import FastRecognizer
    from zoo.quantize import quantize_int8

    paths: dict[str, Callable] = {}
    if reference is not None and model.config.name in reference.BUILDERS:
        paths["reference"] = reference.from_zoo(model).eval()
    paths["zoo"] = model
    paths["fast fp32"] = FastRecognizer(model, "fp32")
    paths["fast bf16"] = FastRecognizer(model, "bf16")
    # int8 in ONNX Runtime (zoo eval --precision int8 calibrates on rendered words; speed does not
    # depend on which images)
    paths["int8"] = quantize_int8(model, images(32, seed=1))
    if onnx_dir is not None:  # the fast path through zoo.export's exporter (checked there), in ONNX Runtime
        path = Path(onnx_dir) / f"{model.config.name}.onnx"
        export_onnx(paths["fast fp32"], path)
        paths["onnx fp32"] = OnnxRuntimeModule(path.read_bytes())
    return paths


# training path -> (bf16, channels_last). bf16 autocast (train.bf16): other numbers (~1% on the loss),
# 2-3x the speed on AMX/AVX512-BF16 CPUs
TRAINING_PATHS = {"zoo": (False, False), "zoo channels_last": (False, True), "zoo bf16": (True, False),
                  "zoo bf16 channels_last": (True, True)}
COMPILED = "zoo bf16 channels_last compiled"


def training_paths(model: nn.Module, batch: torch.Tensor, reference=None, compile: bool = False,
                   names: tuple[str, ...] = tuple(TRAINING_PATHS)) -> dict[str, TrainingStep]:
    """A training step of the plain reference (if any) and of the zoo model (``names`` of
    ``TRAINING_PATHS``; ``compile``: also the trainer's step through torch.compile), from the same
    weights. ``model`` is left as it is (each path trains a copy)."""
    import copy

    steps = {}
    if reference is not None and model.config.name in reference.BUILDERS:
        steps["reference"] = TrainingStep(reference.from_zoo(model), batch, model.num_classes)
    for name in names:
        bf16, channels_last = TRAINING_PATHS[name]
        steps[name] = TrainingStep(copy.deepcopy(model), batch, model.num_classes, bf16=bf16,
                                   channels_last=channels_last)
    if compile:  # inductor compiles on the first call, a warm-up round's (minutes on a 2-core CPU)
        steps[COMPILED] = TrainingStep(copy.deepcopy(model), batch, model.num_classes, bf16=True,
                                       channels_last=True, compiled=True)
    return steps


def model_rows(name: str, batches: list[int], train_batch: int, repeats: int, peak: dict[str, float],
               reference=None, onnx_dir: str | None = None, on_call: Callable[[], None] | None = None,
               compile: bool = False) -> list[dict]:
    """One row per path of model ``name`` (random weights, seeded): speeds, ratios to the
    reference (or to the zoo model when there is none), GFLOP/s and fraction of the conv peak."""
    from zoo.models.profile import gflops
    from zoo.factory import create_model

    torch.manual_seed(0)
    model = create_model(name).eval()
    config = model.config
    gflop = gflops(model, config.height, WIDTH, config.in_chans)
    paths = inference_paths(model, reference, onnx_dir)
    small, large = batches[0], batches[-1]
    inputs = {b: images(b, config.height, WIDTH, config.in_chans) for b in batches}
    with torch.no_grad():
        expected = model(inputs[large])
        difference = {p: (f(inputs[large]) - expected).abs().max().item() for p, f in paths.items()}
    seconds = {b: interleaved_medians({p: inference_call(f, inputs[b]) for p, f in paths.items()}, repeats,
                                      on_call=on_call) for b in batches}
    train_seconds = {}
    if train_batch:
        steps = training_paths(model, images(train_batch, config.height, WIDTH, config.in_chans), reference,
                               compile)
        train_seconds = interleaved_medians(steps, repeats, on_call=on_call)
    base = "reference" if "reference" in paths else "zoo"
    rows = []
    for path in list(paths) + [p for p in train_seconds if p not in paths]:
        row = {"model": name, "path": path, "GFLOPs": round(gflop, 3)}
        if path in train_seconds:
            row[f"train img/s (b{train_batch})"] = train_batch / train_seconds[path]
            row["train x ref"] = train_seconds[base] / train_seconds[path]
        if path in paths:
            rate = large / seconds[large][path]
            row.update({f"infer img/s (b{large})": rate, "infer x ref": seconds[large][base] / seconds[large][path],
                        f"latency ms (b{small})": 1e3 * seconds[small][path],
                        "latency x ref": seconds[small][base] / seconds[small][path],
                        "GFLOP/s": rate * gflop, "% conv peak": 100 * rate * gflop / peak["conv GFLOP/s"],
                        "max abs logit diff": difference[path]})
        rows.append(row)
    return rows


def run(names: list[str], batches: list[int], train_batch: int, repeats: int, peak: dict[str, float],
        reference=None, onnx: bool = False, compile: bool = False) -> list[dict]:
    """``model_rows`` for every model, with the progress bar (one tick per timed call)."""
    import tempfile

    from zoo.report import progress

    def calls(name: str) -> int:  # timed and warm-up calls of one model: the bar's share of it
        referenced = reference is not None and name in reference.BUILDERS
        inference = 4 + onnx + referenced  # zoo, fast fp32, fast bf16, int8 (+ onnx, reference)
        training = (4 + referenced + compile) if train_batch else 0  # training_paths' four (+ reference, compiled)
        return (len(batches) * inference + training) * (repeats + 1)

    rows: list[dict] = []
    with progress() as bar, tempfile.TemporaryDirectory() as tmp:
        task = bar.add_task("bench", total=sum(map(calls, names)), unit="call")
        for name in names:
            bar.update(task, description=f"bench {name}")
            rows += model_rows(name, batches, train_batch, repeats, peak, reference, tmp if onnx else None,
                               on_call=lambda: bar.advance(task), compile=compile)
    return same_columns(rows)


def same_columns(rows: list[dict]) -> list[dict]:
    """Every row with every column (None where a path has no value), in first-seen order."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{c: row.get(c) for c in columns} for row in rows]


# -- end to end: `zoo train`'s own steps, data loading included -------------------------------------

# What the bench changes in a recipe before the user's overrides: no validation data (validating is
# run's periodic work, never timed, and the real words would be read for nothing) and no rendering of
# a missing training LMDB (400k words take hours: the trainer's error names the file instead)
BENCH_OVERRIDES = ("data.val=''", "data.real_val=[]", "train.select_on=rendered", "data.train_synth=null")


def parse_variant(text: str) -> tuple[list[str], int | None]:
    """A --variant: recipe overrides KEY=VALUE separated by spaces (shell quoting keeps a value with
    spaces whole), and ``threads=N``, torch's threads while that variant trains. (overrides, threads)"""
    import shlex

    overrides, threads = [], None
    for item in shlex.split(text):
        key, _, value = item.partition("=")
        if key.strip() != "threads":
            overrides.append(item)
        elif value.strip().isdigit() and int(value) >= 1:
            threads = int(value)
        else:
            raise ValueError(f"--variant {text!r}: threads takes a whole number of at least 1, got {value!r}")
    return overrides, threads


class TrainerSteps:
    """``steps -> images``: the next ``steps`` iterations of `zoo train` on ``recipe``
    (``Trainer.train_steps``: its DataLoader with the recipe's data.workers, dataset, augmentation and
    collate; its scheduler, bf16 / channels_last step with gradient clipping, EMA), with torch's
    threads at ``threads`` meanwhile (None: as they are). The Trainer writes its folder to recipe.out."""

    def __init__(self, recipe, threads: int | None = None):
        from zoo.train.trainer import Trainer

        self.trainer, self.threads = Trainer(recipe), threads
        # untimed steps before each timed window: the batches its loader prefetched while other paths
        # ran (DataLoader's prefetch_factor: 2 per worker) are used up, and the other paths' loaders have
        # refilled theirs and wait, so a window times a run's steady state, not a head start
        self.settle = 2 * recipe.data.workers + 2

    def __call__(self, steps: int) -> int:
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads or previous)
        try:
            return self.trainer.train_steps(steps)
        finally:
            torch.set_num_threads(previous)


def repeated(step: TrainingStep) -> Callable[[int], int]:
    """``steps -> images`` for a step on its fixed batch."""
    def advance(steps: int) -> int:
        for _ in range(steps):
            step()
        return steps * step.batch.shape[0]
    return advance


def windowed_rates(paths: dict[str, Callable[[int], int]], steps: int, repeats: int, settle: dict[str, int],
                   warmup: int = 1, on_call: Callable[[], None] | None = None) -> dict[str, float]:
    """Median images/s of each path (``advance(k)`` trains k steps, returns the images): ``warmup``
    untimed rounds, then ``repeats`` timed ones, each running every path in turn for ``settle[name]``
    untimed steps and then ``steps`` timed ones (``interleaved_medians``, in windows of steps)."""
    if repeats < 1 or steps < 1:
        raise ValueError(f"repeats and steps must be >= 1, got {repeats} and {steps}")
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(warmup + repeats):
        for name, advance in paths.items():
            advance(settle.get(name, 0))
            start = time.perf_counter()
            trained = advance(steps)
            if round_ >= warmup:
                rates[name].append(trained / (time.perf_counter() - start))
            if on_call:
                on_call()
    return {name: statistics.median(r) for name, r in rates.items()}


def recipe_trainers(recipe: str, overrides: list[str], variants: list[str],
                    scratch: str) -> dict[str, TrainerSteps]:
    """One ``TrainerSteps`` per variant (one of the recipe as it is when there is none), named
    "zoo train VARIANT", each training into its own folder under ``scratch``."""
    from zoo.train.recipe import load_recipe

    trainers: dict[str, TrainerSteps] = {}
    for i, variant in enumerate(variants or [""]):
        items, threads = parse_variant(variant)
        name = f"zoo train {variant}".strip()
        if name in trainers:
            raise ValueError(f"--variant {variant!r} is given twice")
        built = load_recipe(recipe, [*BENCH_OVERRIDES, *overrides, *items, f"out={Path(scratch) / str(i)}"])
        trainers[name] = TrainerSteps(built, threads)
    return trainers


def recipe_rows(trainers: dict[str, TrainerSteps], steps: int, repeats: int, reference=None,
                compile: bool = False, on_call: Callable[[], None] | None = None) -> list[dict]:
    """The rows of `zoo bench --train-recipe`: the plain reference's fp32 step and the trainer's step
    alone (``TrainingStep`` on a fixed synthetic batch of the recipe's shape, from the first trainer's
    model at step 0; ``compile``: also compiled), then every trainer's steps end to end, all timed in
    interleaved windows of ``steps`` (``windowed_rates``); x ref: against the reference's step."""
    from zoo.models.profile import gflops

    first = next(iter(trainers.values())).trainer
    model, recipe, p = first.model, first.recipe, first.preprocess
    batch = images(recipe.train.batch_size, p.height, p.width, p.in_chans)
    own = "zoo bf16 channels_last" if recipe.train.bf16 else "zoo channels_last"  # the trainer's layout
    alone = training_paths(model, batch, reference, compile, names=(own,))
    # the trainers first: their loaders fork their workers before inductor starts compiling
    paths = {**trainers, **{name: repeated(step) for name, step in alone.items()}}
    settle = {**{name: t.settle for name, t in trainers.items()}, **{name: 2 for name in alone}}
    rates = windowed_rates(paths, steps, repeats, settle, on_call=on_call)
    base = "reference" if "reference" in rates else own
    gflop = gflops(model, p.height, p.width, p.in_chans)
    rows = []
    for name in [*alone, *trainers]:
        row = {"model": model.config.name, "path": name, "GFLOPs": round(gflop, 3),
               f"train img/s (b{recipe.train.batch_size})": rates[name], "train x ref": rates[name] / rates[base]}
        if name in trainers:
            row.update({"data.workers": trainers[name].trainer.recipe.data.workers,
                        "threads": trainers[name].threads or torch.get_num_threads()})
        rows.append(row)
    return same_columns(rows)


def run_recipe(recipe: str, overrides: list[str], variants: list[str], steps: int, repeats: int,
               reference=None, compile: bool = False) -> list[dict]:
    """``recipe_rows`` with the trainers' folders in a scratch folder and the progress bar (one tick
    per window)."""
    import tempfile

    from zoo.report import progress

    with tempfile.TemporaryDirectory() as scratch:
        trainers = recipe_trainers(recipe, overrides, variants, scratch)
        name = next(iter(trainers.values())).trainer.model.config.name
        referenced = reference is not None and name in reference.BUILDERS
        with progress() as bar:
            task = bar.add_task(f"bench {name}", total=(len(trainers) + 1 + compile + referenced) * (repeats + 1),
                                unit="window")
            rows = recipe_rows(trainers, steps, repeats, reference, compile, on_call=lambda: bar.advance(task))
        del trainers  # their loaders' worker processes end before the scratch folder goes
    return rows
