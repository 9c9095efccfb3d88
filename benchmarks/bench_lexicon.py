"""Speed of lexicon decoding after the network's forward (targets from issue 5):

- IC03 Full: 860 images x 563 words scored exactly in under 1 s;
- a 50k-word lexicon in under 20 ms per image (CRNN: 530 ms per image, BK-tree, K40 machine).

The log-probabilities are synthetic but shaped like a trained model's: each image's frames spell
a word with a little noise (a dictionary word with one letter changed, so the lexicon-free output
is usually not in the lexicon, as in practice). Scoring cost does not depend on which words the
frames spell; the BK-tree's and the beam's cost do, mildly. IC03 supplies only its word lists.

    python benchmarks/bench_lexicon.py [--images 100] [--threads 1] [--out runs/bench_lexicon]
"""
from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import torch

from zoo.decode.ctc import greedy_decode
from zoo.decode import edit
from zoo.evaluate import decode_large, decode_per_image, decode_shared
from zoo.report import console, rich_table, write_table

CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
IC03 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ic03"


def spelled(words: list[str], frames: int = 26, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(words), frames, len(CHARSET) + 1, generator=generator) * 0.5
    logits[..., 0] += 5
    for row, word in enumerate(words):
        step = (frames - 1) / max(len(word), 1)
        for k, char in enumerate(word[:frames]):
            logits[row, int(k * step + step / 2), CHARSET.index(char) + 1] += 8
    return logits.log_softmax(-1)


def timed(fn, repeat: int = 1):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def bench_ic03() -> list[dict]:
    labels = [line.split("\t", 1)[1].strip().lower() for line in (IC03 / "gt.txt").read_text().splitlines() if line]
    lexicons = [line.split(",") for line in (IC03 / "lexicon_50.txt").read_text().splitlines()]
    full = sorted(set(labels))
    rng = random.Random(0)
    log_probs = spelled([rng.choice(full) for _ in labels])  # any words: cost is the same
    rows = []
    seconds, _ = timed(lambda: decode_shared(log_probs, full, CHARSET), 3)
    rows.append({"task": f"IC03 Full: {len(labels)} images x {len(full)} words (exact)", "total (s)": round(seconds, 3),
                 "per image (ms)": round(1000 * seconds / len(labels), 2), "target": "< 1 s total"})
    seconds, _ = timed(lambda: decode_per_image(log_probs, lexicons, CHARSET), 3)
    rows.append({"task": f"IC03 50: {len(labels)} images x their 50 words (exact)", "total (s)": round(seconds, 3),
                 "per image (ms)": round(1000 * seconds / len(labels), 2), "target": ""})
    return rows


def bench_large(images: int, delta: int, beam_width: int) -> list[dict]:
    """zoo.evaluate.decode_large, as `zoo eval --lexicon 50k` runs it, on synthetic frames."""
    from zoo.data.vocabulary import english_words

    words = english_words()
    rng = random.Random(1)
    targets = []
    for word in rng.sample(words, images):  # one letter changed: the lexicon-free output misses the lexicon
        k = rng.randrange(len(word))
        targets.append(word[:k] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[k + 1:])
    log_probs = spelled(targets, seed=1)
    free = greedy_decode(log_probs, CHARSET)
    rows = []
    for size in (50_000, len(words)):
        lexicon = sorted(rng.sample(words, size)) if size < len(words) else words
        seconds, _ = timed(lambda: decode_large(log_probs, lexicon, CHARSET, free, "edit", delta))
        candidates = sum(len(c) for c in edit.within(free, lexicon, delta)) / images
        rows.append({"task": f"{size} words, candidates within {delta} edits (mean {candidates:.0f}) scored exactly",
                     "total (s)": round(seconds, 3), "per image (ms)": round(1000 * seconds / images, 2),
                     "target": "< 20 ms/img"})
        seconds, _ = timed(lambda: decode_large(log_probs, lexicon, CHARSET, free, "trie", beam_width=beam_width))
        rows.append({"task": f"{size} words, trie-constrained beam (width {beam_width}, incl. building the trie)",
                     "total (s)": round(seconds, 3), "per image (ms)": round(1000 * seconds / images, 2),
                     "target": "< 20 ms/img"})
        few = max(1, images // 10)
        seconds, _ = timed(lambda: decode_large(log_probs[:few], lexicon, CHARSET, free[:few], "exhaustive"))
        rows.append({"task": f"{size} words, exhaustive exact scoring", "total (s)": round(seconds, 3),
                     "per image (ms)": round(1000 * seconds / few, 2), "target": ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100, help="images for the large-lexicon timings")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--delta", type=int, default=3)
    parser.add_argument("--beam-width", type=int, default=10)
    parser.add_argument("--out", default="runs/bench_lexicon")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = bench_ic03() + bench_large(args.images, args.delta, args.beam_width)
    load = os.getloadavg()[0]
    title = f"Lexicon decoding after the forward ({torch.get_num_threads()} torch threads, load average {load:.1f} on {os.cpu_count()} CPUs)"
    console.print(rich_table(rows, title))
    write_table(rows, args.out, "bench_lexicon", title, meta={"load average": load})


if __name__ == "__main__":
    main()
