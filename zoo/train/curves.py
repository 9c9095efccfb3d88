"""The PNG of a run's training loss and validation accuracies (rendered and real words), read from its
log.jsonl."""
from __future__ import annotations

from pathlib import Path

from zoo.train.run_folder import read_log


def plot_curves(log_path: str | Path, png_path: str | Path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.outputs import save_png

    records = read_log(log_path)
    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    val = {"held-out rendered words": [(r["step"], 100 * r["val_accuracy"]) for r in records if "val_accuracy" in r]}
    for r in records:
        for name, accuracy in r.get("real_val_accuracy", {}).items():
            val.setdefault(f"real: {name}", []).append((r["step"], 100 * accuracy))
    fig, loss_ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if train:
        loss_ax.plot(*zip(*train), color="tab:blue", linewidth=1, label="training CTC loss")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("CTC loss", color="tab:blue")
    loss_ax.set_yscale("log")
    loss_ax.grid(alpha=0.3)
    val = {name: points for name, points in val.items() if points}
    if val:
        acc_ax = loss_ax.twinx()
        for (name, points), color in zip(val.items(), ("tab:orange", "tab:green", "tab:red", "tab:purple")):
            acc_ax.plot(*zip(*points), "o-", color=color, markersize=3, label=name)
        acc_ax.set_ylabel("validation word accuracy (%)")
        acc_ax.set_ylim(0, 100)
        acc_ax.legend(loc="center right", fontsize=8)
    loss_ax.set_title(f"{title}: training loss and validation word accuracy".strip(": "))
    fig.tight_layout()
    save_png(fig, png_path, flag="out")
    plt.close(fig)
    return Path(png_path)
