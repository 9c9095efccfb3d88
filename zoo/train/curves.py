"""The PNG of a run's training loss and validation accuracy, read from its log.jsonl."""
from __future__ import annotations

import json
from pathlib import Path


def plot_curves(log_path: str | Path, png_path: str | Path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.fileio import atomic_path

    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    val = [(r["step"], 100 * r["val_accuracy"]) for r in records if "val_accuracy" in r]
    fig, loss_ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if train:
        loss_ax.plot(*zip(*train), color="tab:blue", linewidth=1, label="training CTC loss")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("CTC loss", color="tab:blue")
    loss_ax.set_yscale("log")
    loss_ax.grid(alpha=0.3)
    if val:
        acc_ax = loss_ax.twinx()
        acc_ax.plot(*zip(*val), "o-", color="tab:orange", label="validation word accuracy")
        acc_ax.set_ylabel("validation word accuracy (%)", color="tab:orange")
        acc_ax.set_ylim(0, 100)
    loss_ax.set_title(f"{title}: training loss and held-out word accuracy".strip(": "))
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(png_path)
