"""Time of the benchmark suite (issue 16's target: the four shipped models on every shared
benchmark, about 2,600 images, in under 2 minutes on a 2-core machine), end to end as `zoo eval
grcnn crnn_vgg rcnn densenet --benchmark all` runs it: loading the images, preprocessing (once per
folder and preprocessing), the forward passes (once per image of a folder, whatever subsets of it
are evaluated) and decoding with every standard lexicon. Run it on a quiet machine.

    python benchmarks/bench_suite.py [--data-root ../shared/data] [--threads 2] [--out docs/results/bench]
"""
from __future__ import annotations

import argparse
import time

import torch

from zoo.data.benchmarks import data_root, resolve_benchmarks
from zoo.factory import load_model, shipped_models
from zoo.report import console, provenance, rich_table, write_table
from zoo.suite import folder_samples, load_suite, run_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write suite_speed.md/csv/json here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    loaded = load_suite(resolve_benchmarks("all", data_root(args.data_root)), None)
    images = sum(len(s) for s in folder_samples(loaded).values())
    models = {name: load_model(name) for name in shipped_models()}
    loading = time.perf_counter() - started
    results = run_suite(models, loaded)
    wall = time.perf_counter() - started
    rows = [{"models": len(models), "benchmarks": len(loaded), "images per model": images,
             "load (s)": round(loading, 1), "total (s)": round(wall, 1),
             "model-images/s": round(len(models) * images / wall, 1), "evaluations": len(results)}]
    title = (f"The suite ({', '.join(i.title for i, _, _ in loaded)}), the shipped models "
             f"({', '.join(models)}), {args.threads} threads")
    console.print(rich_table(rows, title))
    if args.out:
        write_table(rows, args.out, "suite_speed", title, meta=provenance())


if __name__ == "__main__":
    main()
