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
    set: exactly the trainer's step."""
    model: nn.Module
    batch: torch.Tensor
    num_classes: int
    label_length: int = 5
    seed: int = 0
    bf16: bool = False
    channels_last: bool = False

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

    def __call__(self) -> float:
        loss = ctc_training_loss(self.model, self.batch, self.targets, self.target_lengths, self.bf16)
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


def training_paths(model: nn.Module, batch: torch.Tensor, reference=None) -> dict[str, TrainingStep]:
    """A training step of the plain reference (if any) and of the zoo model (NCHW, channels_last,
    bf16 autocast, and both as the trainer runs), from the same weights."""
    import copy

    steps = {}
    if reference is not None and model.config.name in reference.BUILDERS:
        steps["reference"] = TrainingStep(reference.from_zoo(model), batch, model.num_classes)
    # bf16 autocast (train.bf16): other numbers (~1% on the loss), 2-3x the speed on AMX/AVX512-BF16 CPUs
    for name, bf16, channels_last in [("zoo", False, False), ("zoo channels_last", False, True),
                                      ("zoo bf16", True, False), ("zoo bf16 channels_last", True, True)]:
        steps[name] = TrainingStep(copy.deepcopy(model), batch, model.num_classes, bf16=bf16,
                                   channels_last=channels_last)
    return steps


def model_rows(name: str, batches: list[int], train_batch: int, repeats: int, peak: dict[str, float],
               reference=None, onnx_dir: str | None = None, on_call: Callable[[], None] | None = None) -> list[dict]:
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
        steps = training_paths(model, images(train_batch, config.height, WIDTH, config.in_chans), reference)
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
        reference=None, onnx: bool = False) -> list[dict]:
    """``model_rows`` for every model, with the progress bar (one tick per timed call)."""
    import tempfile

    from zoo.report import progress

    def calls(name: str) -> int:  # timed and warm-up calls of one model: the bar's share of it
        referenced = reference is not None and name in reference.BUILDERS
        inference = 4 + onnx + referenced  # zoo, fast fp32, fast bf16, int8 (+ onnx, reference)
        training = (4 + referenced) if train_batch else 0  # the four of training_paths (+ reference)
        return (len(batches) * inference + training) * (repeats + 1)

    rows: list[dict] = []
    with progress() as bar, tempfile.TemporaryDirectory() as tmp:
        task = bar.add_task("bench", total=sum(map(calls, names)), unit="call")
        for name in names:
            bar.update(task, description=f"bench {name}")
            rows += model_rows(name, batches, train_batch, repeats, peak, reference, tmp if onnx else None,
                               on_call=lambda: bar.advance(task))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{c: row.get(c) for c in columns} for row in rows]
