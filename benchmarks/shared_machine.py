"""Batch-1 reading latency on a shared machine: the zoo's old thread defaults against the new ones.

Run it beside another busy process (a `zoo train`, say): that process is what makes OpenMP's
spinning threads collapse. Each variant runs in a fresh process (OMP_WAIT_POLICY is read once,
when torch loads libgomp) and the variants take turns, round after round, so that a change in the
other load falls on all of them alike.

- per read: one process per variant and round loads the shipped model, reads the image once
  untimed, then ``--reads`` times (``model.read``, what `zoo predict` runs), median reported;
- end to end: the wall time of the command ``zoo predict IMAGE --model grcnn`` (startup included).

    python benchmarks/shared_machine.py --rounds 3 --reads 6 --out docs/results/shared_machine

Variants: ``old`` (OMP_WAIT_POLICY unset: libgomp's spinning default, 2 threads, what zoo ran with
before), ``passive`` (OMP_WAIT_POLICY=PASSIVE, 2 threads: the CLI's default now), ``1 thread``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"old (spinning, 2 threads)": (None, 2), "passive, 2 threads": ("PASSIVE", 2),
            "passive, 1 thread": ("PASSIVE", 1)}

READER = """
import json, statistics, sys, time
import torch
torch.set_num_threads(int(sys.argv[3]))
import zoo
model = zoo.create_model(sys.argv[1], pretrained=True)
model.read(sys.argv[2])
times = []
for _ in range(int(sys.argv[4])):
    start = time.perf_counter()
    model.read(sys.argv[2])
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""

# the old CLI: torch (and libgomp) loaded before zoo.cli could set anything
OLD_CLI = "import sys, torch; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"


def environment(policy: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    return {**env, "OMP_WAIT_POLICY": policy} if policy else env


def per_read(image: str, model: str, policy: str | None, threads: int, reads: int) -> list[float]:
    out = subprocess.run([sys.executable, "-c", READER, model, image, str(threads), str(reads)],
                         env=environment(policy), capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def end_to_end(image: str, model: str, old: bool) -> float:
    command = [sys.executable, "-c", OLD_CLI] if old else [sys.executable, "-m", "zoo"]
    start = time.perf_counter()
    subprocess.run([*command, "predict", image, "--model", model], env=environment(None),
                   capture_output=True, check=True)
    return time.perf_counter() - start


def render_word(path: Path) -> str:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (120, 40), 235)
    ImageDraw.Draw(image).text((8, 6), "hello", fill=20, font=ImageFont.load_default(26))
    image.save(path)
    return str(path)


def measure(args: argparse.Namespace, image: str) -> dict:
    reads = {name: [] for name in VARIANTS}
    commands = {"old CLI (spinning)": [], "new CLI (passive)": []}
    for round_ in range(args.rounds):
        for name, (policy, threads) in VARIANTS.items():
            reads[name] += per_read(image, args.model, policy, threads, args.reads)
        for name in commands:
            commands[name].append(end_to_end(image, args.model, old=name.startswith("old")))
        print(f"round {round_ + 1}: load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows = [{"variant": name, "reads": len(t), "median ms": round(1e3 * statistics.median(t), 1),
             "min ms": round(1e3 * min(t), 1), "max ms": round(1e3 * max(t), 1)} for name, t in reads.items()]
    rows += [{"variant": f"`zoo predict` command, {name}", "reads": len(t),
              "median ms": round(1e3 * statistics.median(t)), "min ms": round(1e3 * min(t)),
              "max ms": round(1e3 * max(t))} for name, t in commands.items()]
    return {"rows": rows, "raw seconds": {**reads, **commands}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="grcnn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reads", type=int, default=6, help="timed reads per process")
    parser.add_argument("--out", help="write shared_machine.md/json here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = os.getloadavg()
        result = measure(args, render_word(Path(tmp) / "hello.png"))
    result["load average before / after"] = [before, os.getloadavg()]
    from zoo.report import markdown_table, write_text

    print(markdown_table(result["rows"]))
    if args.out:
        write_text(Path(args.out) / "shared_machine.json", json.dumps(result, indent=2))
        write_text(Path(args.out) / "shared_machine.md", markdown_table(result["rows"]))


if __name__ == "__main__":
    main()
