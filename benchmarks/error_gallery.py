"""What the errors that remain look like: a PNG of the words a model misreads lexicon-free, each image
with "truth -> prediction", read from the per_image.csv files that `zoo eval --out DIR` writes.

    zoo eval grcnn --benchmark all --out runs/eval/grcnn
    python benchmarks/error_gallery.py runs/eval/grcnn/grcnn --data-root ../shared/data --per-benchmark 16 \
        --out docs/results/long/errors.png

The first N errors of each benchmark in file order (no choosing), so the sheet shows the errors as
they come; the caption also counts them.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image

from zoo.data.benchmarks import SUITE, data_root
from zoo.data.preview import labelled_grid
from zoo.data.transforms import read_image
from zoo.fileio import atomic_path
from zoo.report import console


def errors(folder: Path, images: Path, count: int) -> tuple[list[tuple[Image.Image, str]], int, int]:
    rows = list(csv.DictReader((folder / "per_image.csv").open(encoding="utf-8")))
    wrong = [r for r in rows if r["none: correct"] == "0"]
    cells = [(read_image(images / r["file"]), f"{r['ground truth']} -> {r['none: choice'] or '(empty)'}")
             for r in wrong[:count]]
    return cells, len(wrong), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="DIR/<model> of `zoo eval --out DIR`: one folder per benchmark")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--per-benchmark", type=int, default=16)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root, cells = data_root(args.data_root), []
    folders = sorted(p for p in Path(args.model_dir).iterdir() if (p / "per_image.csv").is_file())
    present = {f.name for f in folders}
    for folder in folders:
        spec = SUITE.get(folder.name)
        if spec and spec.subset_of in present:  # IC13-857's errors are among IC13-1015's
            continue
        images = root / spec.folder if spec else Path(folder.name)
        found, wrong, total = errors(folder, images, args.per_benchmark)
        console.print(f"{folder.name}: {wrong} of {total} misread lexicon-free; showing the first {len(found)}")
        cells += [(image, f"{folder.name}: {caption}") for image, caption in found]
    with atomic_path(args.out) as tmp:
        labelled_grid(cells, columns=3).save(tmp, "PNG")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
