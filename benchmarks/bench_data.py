"""Data throughput: the renderer (target 500 img/s on 2 cores) and LMDB read + decode + resize
(target 2000 img/s on 2 cores).

    python benchmarks/bench_data.py --n 8000 --workers 2 --out runs/bench

Renders --n samples into a temporary LMDB, then reads it back through ``LmdbDataset`` and a
DataLoader (the training path: decode, resize to 100x32, normalise, collate, CTC targets), and the
same for IC03 (larger images) when ../shared/data/ic03 is present. The machine's load average is
recorded with the numbers: other jobs on the same cores slow every wall-clock figure here, so each
stage also reports images per CPU-second (this process and its workers, from getrusage) and the
projection for two idle cores (2 x that: both stages are parallel over samples).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoo.data.charset import Charset  # noqa: E402
from zoo.data.dataset import CtcCollate, LmdbDataset  # noqa: E402
from zoo.data.importers import import_dataset  # noqa: E402
from zoo.data.synth import synthesize, usable_fonts  # noqa: E402
from zoo.data.synth.render import Renderer  # noqa: E402
from zoo.data.transforms import Preprocess  # noqa: E402
from zoo.report import console, progress, rich_table, write_table  # noqa: E402

IC03 = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ic03"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (render and loader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def row(stage: str, workers: int, images: int, wall: float, cpu: float) -> dict:
    per_cpu = images / max(cpu, 1e-9)
    return {"stage": stage, "workers": workers, "images": images, "wall img/s": round(images / wall, 1),
            "img per CPU-s": round(per_cpu, 1), "2 idle cores (projected)": round(2 * per_cpu, 1)}


def render_warm(n: int) -> tuple[int, float, float]:
    """One process, after ``n`` warm-up samples have filled the glyph cache: the renderer's own cost
    per image, without startup or worker communication."""
    charset = Charset.named("alnum36")
    renderer = Renderer(charset, usable_fonts(charset), seed=0)
    for index in range(n):
        renderer(index)
    cpu, start = time.process_time(), time.perf_counter()
    for index in range(n, 2 * n):
        renderer(index)
    return n, time.perf_counter() - start, time.process_time() - cpu


def read(path: Path, workers: int, epochs: int = 2, batch_size: int = 256) -> tuple[int, float, float]:
    """Images, wall seconds and CPU seconds of ``epochs`` passes of the training loader."""
    charset = Charset.named("alnum36")
    dataset = LmdbDataset(path, Preprocess(), charset, frames=26)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=CtcCollate(charset))
    cpu, start, count = cpu_seconds(), time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            count += len(batch)
    return count, time.perf_counter() - start, cpu_seconds() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8000, help="samples to render")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/bench", help="where bench_data.md/csv/json go")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        synth_path = Path(tmp) / "synth.lmdb"
        cpu = cpu_seconds()
        with progress() as bar:
            report = synthesize(args.n, synth_path, seed=0, workers=args.workers, progress=bar)
        rows.append({**row("render (zoo data synth)", args.workers, args.n, report.seconds, cpu_seconds() - cpu),
                     "steady wall img/s": round(report.steady_rate, 1), "target": 500})
        rows.append({**row("render, one process, glyph cache warm", 1, *render_warm(args.n // 4)), "target": 500})
        for workers in (0, args.workers):
            rows.append({**row("read+decode+resize, rendered 32 px LMDB", workers, *read(synth_path, workers)),
                         "target": 2000})
        if (IC03 / "gt.txt").is_file():
            ic03_path = Path(tmp) / "ic03.lmdb"
            import_dataset(IC03, ic03_path)
            rows.append({**row("read+decode+resize, IC03 (~300x80 px JPEG)", args.workers,
                               *read(ic03_path, args.workers, epochs=3)), "target": 2000})
    meta = {"cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "fonts": report.fonts, "font_families": report.font_families}
    title = ("Data throughput (wall img/s under the load below; img per CPU-second; steady = second half of "
             "the render, after startup and glyph-cache warm-up)")
    console.print(f"load average before {load_before}, after {meta['load_average_after']} on {os.cpu_count()} cores")
    columns = ["stage", "workers", "images", "wall img/s", "steady wall img/s", "img per CPU-s",
               "2 idle cores (projected)", "target"]
    console.print(rich_table(rows, title, columns))
    write_table(rows, args.out, "bench_data", title, columns, meta=meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
