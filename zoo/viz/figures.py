"""The report's figures (matplotlib, Agg backend: no display needed). Every function takes
measurements from ``zoo.viz.study`` and writes one PNG."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from zoo.outputs import save_png  # noqa: E402

DPI = 130
SALIENCY_CMAP = "magma"
PALETTE = plt.get_cmap("tab10").colors
plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
                     "axes.spines.right": False, "figure.facecolor": "white"})


def save(fig, path: Path) -> Path:
    save_png(fig, path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def picture(x: torch.Tensor, config) -> np.ndarray:
    """The preprocessed image (C, H, W), un-normalised to [0, 1] for display (H, W) or (H, W, 3)."""
    mean = torch.tensor(config.mean).view(-1, 1, 1)
    std = torch.tensor(config.std).view(-1, 1, 1)
    image = (x * std + mean).clamp(0, 1)
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()


def scaled(values: torch.Tensor | np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Non-negative part divided by its ``percentile``, clipped to [0, 1] (a few extreme
    gradients would otherwise leave the rest of the map black)."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    top = np.percentile(values, percentile)
    return np.clip(values / top, 0, 1) if top > 0 else values


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _show(ax, image: np.ndarray, **kwargs) -> None:
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, aspect="auto", interpolation="nearest",
              vmin=0, vmax=1, **kwargs)


COLUMN_INCHES = 2.1  # width of one column of the saliency grid


def saliency_grid(rows: list[dict], columns: list[str], path: Path, method: str) -> Path:
    """The paper-style grid. ``rows``: {"label", "picture", "cells": [(map, decoded) per column]}."""
    return save(grid_figure(rows, columns, method), path)


def grid_figure(rows: list[dict], columns: list[str], method: str):
    # constrained layout makes room for the (wrapped, multi-line) column titles, the row labels
    # and the suptitle, so none of them overlaps another or an image
    fig = plt.figure(figsize=(COLUMN_INCHES * (len(columns) + 1), 0.95 * len(rows) + 0.9), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, hspace=0.08, wspace=0.02)
    axes = fig.subplots(len(rows), len(columns) + 1, squeeze=False)
    for ax, title in zip(axes[0], ["input", *columns]):
        ax.set_title(wrap_title(title), fontweight="bold")
    for row, ax_row in zip(rows, axes):
        _show(ax_row[0], row["picture"])
        _bare(ax_row[0])
        ax_row[0].set_xlabel(row["label"], fontsize=8)
        for ax, (saliency_map, decoded) in zip(ax_row[1:], row["cells"]):
            _overlay(ax, row["picture"], saliency_map)
            _bare(ax)
            ax.set_xlabel(f"reads \u201c{decoded}\u201d", fontsize=8)
    fig.suptitle(f"Which pixels drive the transcription ({method} saliency; bright = more)", fontweight="bold")
    return fig


def wrap_title(title: str, inches: float = COLUMN_INCHES) -> str:
    """``title`` in lines that fit one column: model labels carry run paths
    ("grcnn (runs/cpu/grcnn_long/best.pt)") that are wider than the column, so paths may break after
    a "/" as well as at spaces."""
    points = matplotlib.font_manager.FontProperties(size=plt.rcParams["axes.titlesize"]).get_size_in_points()
    width = max(8, int(inches * 72 / (0.68 * points)))  # characters of bold text that fit
    lines = []
    for line in title.split("\n"):
        wrapped = textwrap.wrap(line.replace("/", "/ "), width, break_long_words=True) or [""]
        lines += [part.replace("/ ", "/") for part in wrapped]
    return "\n".join(lines)


def frames_figure(result, config, path: Path, title: str) -> Path:
    """One model on one image: the CTC alignment, single-frame maps, every studied frame's
    effective field against its theoretical span, and the 50%/90% extents and centre offsets."""
    fields = result.fields
    image = picture(result.input, config)
    width = image.shape[1]
    fig = plt.figure(figsize=(9, 8.2))
    grid = fig.add_gridspec(4, 3, height_ratios=[1.1, 1.0, 2.2, 1.5], hspace=0.6, wspace=0.25)
    alignment_overlay(fig.add_subplot(grid[0, :]), image, result.segments, fields, config)
    for k, i in enumerate(_examples(len(fields))):
        ax = fig.add_subplot(grid[1, k])
        _single_frame(ax, image, result.frame_maps[i], fields[i])
    _field_matrix(fig.add_subplot(grid[2, :]), fields, width)
    _extent_plot(fig.add_subplot(grid[3, :2]), fields)
    _offset_plot(fig.add_subplot(grid[3, 2]), fields)
    fig.suptitle(title, y=0.98, fontweight="bold")
    return save(fig, path)


def _examples(count: int) -> list[int]:
    return sorted({round(count * q) for q in (0.2, 0.5, 0.8)} & set(range(count)))[:3] or [0]


def alignment_overlay(ax, image: np.ndarray, segments, fields, config) -> None:
    """The image with each emitted character over the frames that emit it (greedy CTC path)."""
    stride = config.horizontal_stride
    centre0 = fields[0].nominal_centre - fields[0].frame * stride
    _show(ax, image)
    height = image.shape[0]
    for n, seg in enumerate(s for s in segments if s.char is not None):
        left = centre0 + seg.first * stride - stride / 2
        right = centre0 + seg.last * stride + stride / 2
        colour = PALETTE[n % len(PALETTE)]
        ax.add_patch(Rectangle((left, -0.5), right - left, height, color=colour, alpha=0.28, lw=0))
        ax.text((left + right) / 2, -1.5, seg.char, ha="center", va="bottom", fontsize=11,
                fontweight="bold", color=colour, clip_on=False)
    frames = np.arange(segments[-1].last + 1)
    ax.plot(centre0 + frames * stride, np.full(len(frames), height - 1.5), "|", color="white", ms=5, mew=1)
    _bare(ax)
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xlabel("CTC best path: shaded frames emit the letter above them; ticks mark every frame's "
                  "nominal centre", fontsize=8)


def _overlay(ax, image: np.ndarray, values) -> None:
    """A map over the image (stretched to the image's extent), the image faintly visible below."""
    extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
    ax.imshow(image, cmap="gray", aspect="auto", vmin=0, vmax=1, extent=extent)
    values = scaled(values)
    ax.imshow(values, cmap=SALIENCY_CMAP, aspect="auto", alpha=0.15 + 0.85 * values, vmin=0, vmax=1,
              extent=extent, interpolation="nearest")


def _single_frame(ax, image: np.ndarray, frame_map: torch.Tensor, field) -> None:
    _overlay(ax, image, frame_map)
    start, end = field.theoretical_span
    height, width = frame_map.shape
    ax.add_patch(Rectangle((start - 0.5, -0.5), end - start + 1, height, fill=False, ec="#4fc3f7", lw=1.5,
                           ls="--", clip_on=True))
    ax.axvline(field.nominal_centre, color="#4fc3f7", lw=1)
    ax.set_xlim(-0.5, width - 0.5)
    _bare(ax)
    ax.set_title(f"frame {field.frame}", fontsize=9)
    ax.set_xlabel(f"50%: {field.extents['extent50']} px, 90%: {field.extents['extent90']} px", fontsize=8)


def _field_matrix(ax, fields, width: int) -> None:
    matrix = np.stack([f.profile / f.profile.max() if f.profile.max() > 0 else f.profile for f in fields])
    rows = np.arange(len(fields))
    ax.imshow(matrix, cmap=SALIENCY_CMAP, aspect="auto", interpolation="nearest", vmin=0, vmax=1,
              extent=(-0.5, width - 0.5, len(fields) - 0.5, -0.5))
    spans = np.array([f.theoretical_span for f in fields])
    ax.plot(spans[:, 0], rows, color="#4fc3f7", lw=1.2, ls="--", label="theoretical field (edges)")
    ax.plot(spans[:, 1], rows, color="#4fc3f7", lw=1.2, ls="--")
    ax.plot([f.nominal_centre for f in fields], rows, color="white", lw=1, label="nominal centre")
    effective = [(f.effective_centre, r) for f, r in zip(fields, rows) if f.effective_centre is not None]
    if effective:
        ax.plot(*zip(*effective), "o", color="#7CFC00", ms=3, label="effective centre (mass)")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(len(fields) - 0.5, -0.5)
    ax.set_yticks(rows if len(fields) <= 12 else rows[:: max(1, len(fields) // 8)])
    ax.set_yticklabels([fields[r].frame for r in ax.get_yticks().astype(int)])
    ax.set_ylabel("output frame")
    ax.set_xlabel("input column (px)")
    ax.set_title("Effective receptive field of each frame: gradient mass per input column (row max = 1)")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)


def _extent_plot(ax, fields) -> None:
    frames = [f.frame for f in fields]
    for key, style, label in (("extent90", "-o", "90% of mass"), ("extent50", "-s", "50% of mass")):
        ax.plot(frames, [f.extents[key] if f.extents[key] is not None else np.nan for f in fields], style,
                ms=3, label=label)
    ax.set_xlabel("output frame")
    ax.set_ylabel("width (px)")
    ax.set_title("Effective field width", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)


def _offset_plot(ax, fields) -> None:
    pairs = [(f.frame, f.offset) for f in fields if f.offset is not None]
    if pairs:
        ax.bar(*zip(*pairs), color="#607d8b", width=0.8)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("output frame")
    ax.set_ylabel("px")
    ax.set_title("Centre: effective \u2212 nominal", fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def theoretical_plot(tables: dict[str, list[dict]], path: Path, input_width: int = 100) -> Path:
    """Receptive field after each spatial layer, one line per model."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for n, (rf, labels) in enumerate(_same_values(
            {label: tuple(r["receptive_field"] for r in rows) for label, rows in tables.items()}).items()):
        ax.plot(np.arange(1, len(rf) + 1), rf, "-o", color=PALETTE[n % len(PALETTE)], lw=2, ms=4,
                label=f"{', '.join(labels)}: {rf[-1]} px")
    ax.axhline(input_width, color="grey", ls=":", lw=1)
    ax.text(1, input_width, f" {input_width} px: a whole training image", va="bottom", color="grey", fontsize=8)
    ax.set_xlabel("spatial layer (convolutions, pools, recurrent and dense blocks, in order)")
    ax.set_ylabel("receptive field of one unit (px of width)")
    ax.set_title("Theoretical receptive field, layer by layer")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


def _same_values(series: dict[str, tuple]) -> dict[tuple, list[str]]:
    """Group labels whose series are identical, so one line carries all their names."""
    groups: dict[tuple, list[str]] = {}
    for label, values in series.items():
        groups.setdefault(values, []).append(label)
    return groups


def growth_plot(rows: list[dict], path: Path) -> Path:
    """Theoretical field and effective 50%/90% widths against the iteration count T."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for n, name in enumerate(dict.fromkeys(r["model"] for r in rows)):
        mine = [r for r in rows if r["model"] == name]
        t = [r["iterations"] for r in mine]
        colour = PALETTE[n % len(PALETTE)]
        ax.plot(t, [r["ERF 90% (px)"] for r in mine], "-o", color=colour, lw=2, ms=4, label=f"{name}: effective, 90% mass")
        ax.plot(t, [r["ERF 50% (px)"] for r in mine], ":s", color=colour, lw=1.5, ms=3, label=f"{name}: effective, 50% mass")
    theory = _same_values({name: tuple((r["iterations"], r["theoretical RF (px)"]) for r in rows if r["model"] == name)
                           for name in dict.fromkeys(r["model"] for r in rows)})
    for points, names in theory.items():
        ax.plot(*zip(*points), "--", color="grey", lw=1.2, label=f"{', '.join(names)}: theoretical")
    ax.set_xlabel("iterations T of every recurrent layer")
    ax.set_ylabel("px of width (middle frame)")
    ax.set_yscale("log")
    ax.set_title("Receptive field against T (untrained, seeded models)")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3, which="both")
    return save(fig, path)


def gates_figure(result, config, path: Path, title: str) -> Path:
    """GRCL gates: rows = layers, columns = iterations; each map is the channel-mean gate on the
    layer's grid, stretched over the image."""
    image = picture(result.input, config)
    layers = list(result.gates.items())
    steps = max(maps.shape[0] for _, maps in layers)
    fig, axes = plt.subplots(len(layers) + 1, steps, squeeze=False, figsize=(1.9 * steps + 0.8, 0.8 * (len(layers) + 1) + 0.9),
                             gridspec_kw={"hspace": 0.5, "wspace": 0.05})
    for ax in axes[0]:
        ax.axis("off")
    _show(axes[0][0], image)
    for row, ((name, maps), ax_row) in enumerate(zip(layers, axes[1:])):
        low, high = float(maps.min()), float(maps.max())
        for t, ax in enumerate(ax_row):
            if t >= maps.shape[0]:
                ax.axis("off")
                continue
            shown = ax.imshow(maps[t].numpy(), cmap="viridis", aspect="auto", vmin=low, vmax=high, interpolation="nearest")
            _bare(ax)
            if row == 0:
                ax.set_title(f"t = {t + 1}", fontsize=9)
        ax_row[0].set_ylabel(f"GRCL {name.replace('backbone.features.', '#')}\n{tuple(maps.shape[1:])} grid",
                             rotation=0, ha="right", va="center", fontsize=8)
        fig.colorbar(shown, ax=list(ax_row), fraction=0.02, pad=0.01, format="%.4f").ax.tick_params(labelsize=7)
    fig.suptitle(f"{title}\nchannel-mean gate G(t) per layer (rows) and iteration (columns); "
                 "each row has its own colour scale", fontsize=10, y=1.0, va="bottom")
    return save(fig, path)
