"""How the signal and the gradient cross each backbone at initialisation: why RCNN stays on the CTC
plateau longest (docs/results/README.md).

For each model (the study's configuration, BiLSTM-256 head, seed 0, training mode) on one batch
of 16 random 100x32 images with 5 random labels each:

- activation std after every stage of the backbone's ``features`` (a stage that normalises brings
  it back to ~1; one that does not lets it shrink layer after layer);
- the CTC loss gradient of the first and the last convolution, relative to their weights
  (|grad| / |w|): how much of the update reaches the bottom of the network.

    python benchmarks/init_signal.py [--out docs/results/init_signal]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoo.bench import TrainingStep, images  # noqa: E402
from zoo.factory import create_model  # noqa: E402
from zoo.report import console, rich_table, write_table  # noqa: E402
from zoo.train.loss import ctc_training_loss  # noqa: E402

MODELS = ["crnn_vgg", "rcnn", "grcnn", "densenet"]


def stage_stds(model, batch: torch.Tensor) -> list[tuple[str, float]]:
    """Activation std after each module of ``model.backbone.features`` (ReLUs and pools omitted)."""
    out, x = [], batch
    with torch.no_grad():
        for layer in model.backbone.features:
            x = layer(x)
            if not isinstance(layer, (torch.nn.ReLU, torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
                out.append((type(layer).__name__, x.std().item()))
    return out


def relative_gradients(model, batch: torch.Tensor) -> tuple[float, float]:
    """|grad| / |w| of the first and last convolution of the backbone after one CTC backward."""
    step = TrainingStep(model, batch, model.num_classes)  # its seeded random labels
    ctc_training_loss(model, batch, step.targets, step.target_lengths).backward()  # the trainer's loss, fp32
    convs = [p for p in model.backbone.parameters() if p.dim() == 4]
    return tuple((p.grad.norm() / p.norm()).item() for p in (convs[0], convs[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/init_signal")
    args = parser.parse_args()
    batch = images(16)
    rows = []
    for name in MODELS:
        torch.manual_seed(0)
        model = create_model(name, hidden_size=256).train()
        stds = stage_stds(model, batch)
        first, last = relative_gradients(model, batch)
        rows.append({"model": name, "activation std after each stage": " > ".join(f"{n} {s:.2f}" for n, s in stds),
                     "grad/w first conv": f"{first:.2e}",
                     "grad/w last conv": f"{last:.2e}", "first / last": round(first / last, 2)})
    console.print(rich_table(rows, "signal and gradient at initialisation"))
    write_table(rows, Path(args.out), "init_signal", "Signal and gradient at initialisation (batch 16, seed 0)")


if __name__ == "__main__":
    main()
