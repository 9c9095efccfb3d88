"""Evaluation: running a model over a benchmark, lexicon-free and lexicon-based decoding, metrics.

Benchmarks, protocols and the standard suite are data (``zoo.data.benchmarks``). Lexicon settings:
``none`` (greedy or beam), a per-image lexicon by name (``50``, ``1k``), ``full`` (every ground truth
of the benchmark) and ``50k`` (the English vocabulary: candidates within an edit distance, trie beam,
or exhaustively).
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from zoo.data.benchmarks import (Benchmark, Protocol, Resolved, Sample, get_protocol, load_resolved, paper_numbers,
                                 preprocess_samples, setting_title)
from zoo.decode import edit
from zoo.decode.ctc import greedy_decode, prefix_beam_search
from zoo.decode.lexicon import Trie, choose, log_likelihoods, trie_beam_search

LARGE_METHODS = ("edit", "trie", "exhaustive")


# ---------------------------------------------------------------- model outputs

@torch.inference_mode()
def model_log_probs(model, samples: Sequence[Sample], batch_size: int = 64,
                    on_batch: Callable[[int], None] | None = None, cache: dict | None = None) -> torch.Tensor:
    """Run ``model`` over the samples' images: (images, frames, classes) log-probabilities.

    Images are batched only with images of the same preprocessed width, so no image is padded
    before the network; shorter outputs are padded afterwards with certain-blank frames, which
    change no decoding (see ``zoo.decode.lexicon.log_likelihoods``). ``cache`` (one dict per list
    of samples) keeps the preprocessed images for the next model with the same preprocessing.
    """
    from zoo.data.transforms import Preprocess

    preprocess = Preprocess.from_config(model.config)
    key = repr(preprocess.as_dict())
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = preprocess_samples(samples, preprocess)
    tensors = cache[key]
    by_width: dict[int, list[int]] = {}
    for index, tensor in enumerate(tensors):
        by_width.setdefault(tensor.shape[-1], []).append(index)
    outputs: list[torch.Tensor | None] = [None] * len(tensors)
    # channels_last: oneDNN's preferred layout, 1.15-1.4x the images/s of NCHW here (as in training)
    model = model.to(memory_format=torch.channels_last)
    for indices in by_width.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            logits = model(torch.stack([tensors[i] for i in chunk]).contiguous(memory_format=torch.channels_last))
            for i, lp in zip(chunk, logits.float().log_softmax(-1)):
                outputs[i] = lp
            if on_batch:
                on_batch(len(chunk))
    return pad_with_blanks(outputs)


def pad_with_blanks(outputs: Sequence[torch.Tensor], blank: int = 0) -> torch.Tensor:
    frames = max(o.shape[0] for o in outputs)
    padded = torch.full((len(outputs), frames, outputs[0].shape[1]), -math.inf)
    padded[:, :, blank] = 0.0
    for row, lp in enumerate(outputs):
        padded[row, :len(lp)] = lp
    return padded


def fold_case(log_probs: torch.Tensor, charset: str) -> tuple[torch.Tensor, str]:
    """Merge classes that differ only in case (p(a) + p(A)) for a case-insensitive protocol, so
    a model with a cased charset is scored on the folded label it is compared by."""
    folded = "".join(dict.fromkeys(c.lower() for c in charset))
    if folded == charset:
        return log_probs, charset
    target = torch.tensor([0] + [folded.index(c.lower()) + 1 for c in charset])
    shift = log_probs.max(-1, keepdim=True).values
    merged = torch.zeros(*log_probs.shape[:-1], len(folded) + 1).index_add_(-1, target, (log_probs - shift).exp())
    return merged.log() + shift, folded


# ---------------------------------------------------------------- decoding

@dataclass
class Decoded:
    words: list[str]
    scores: list[float]
    notes: dict[str, int] = field(default_factory=dict)  # counts of special cases


def decode_free(log_probs: torch.Tensor, charset: str, decoder: str, beam_width: int) -> Decoded:
    if decoder == "greedy":
        words = greedy_decode(log_probs, charset)
        return Decoded(words, log_probs.max(-1).values.sum(-1).tolist())
    if decoder == "beam":
        best = [prefix_beam_search(lp, beam_width)[0] for lp in log_probs]
        return Decoded(["".join(charset[c - 1] for c in prefix) for prefix, _ in best], [score for _, score in best])
    raise ValueError(f"unknown decoder {decoder!r}; use greedy or beam")


def decode_per_image(log_probs: torch.Tensor, lexicons: Sequence[Sequence[str]], charset: str) -> Decoded:
    """Each image's best word of its own lexicon: one trie of the union, each image scored on its words."""
    trie = Trie.build([w for lexicon in lexicons for w in lexicon], charset)
    column = {w: i for i, w in enumerate(trie.words)}
    candidates = [np.array([column[w] for w in dict.fromkeys(lexicon)]) for lexicon in lexicons]
    chosen = choose(log_likelihoods(log_probs, trie, candidates), trie, candidates)
    return Decoded([w for w, _ in chosen], [s for _, s in chosen])


def decode_shared(log_probs: torch.Tensor, words: Sequence[str], charset: str) -> Decoded:
    trie = Trie.build(words, charset)
    chosen = choose(log_likelihoods(log_probs, trie), trie)
    return Decoded([w for w, _ in chosen], [s for _, s in chosen])


def decode_large(log_probs: torch.Tensor, words: Sequence[str], charset: str, free: Sequence[str],
                 method: str = "edit", delta: int = 3, beam_width: int = 10) -> Decoded:
    """A large lexicon: ``edit`` scores exactly the words within edit distance ``delta`` of the
    lexicon-free output ``free`` (CRNN's method; when none is that close the lexicon-free output
    stands, counted as "no candidate"); ``trie`` is prefix beam search constrained to the lexicon;
    ``exhaustive`` scores every word exactly."""
    if method == "exhaustive":
        return decode_shared(log_probs, words, charset)
    trie = Trie.build(words, charset)
    out = Decoded([], [], {"no candidate": 0})
    if method == "edit":
        near = edit.within(free, trie.words, delta, torch.get_num_threads())
        found = [i for i, n in enumerate(near) if n.size]
        candidates = [near[i] for i in found]
        chosen = dict(zip(found, choose(log_likelihoods(log_probs[found], trie, candidates), trie, candidates)))
        for i, text in enumerate(free):
            word, score = chosen.get(i, (text, -math.inf))
            out.words.append(word)
            out.scores.append(score)
        out.notes["no candidate"] = len(free) - len(found)
        return out
    if method == "trie":
        for lp in log_probs:
            found = trie_beam_search(lp, trie, beam_width)
            if found is None:
                out.notes["no candidate"] += 1
            word, score = found or ("", -math.inf)
            out.words.append(word)
            out.scores.append(score)
        return out
    raise ValueError(f"unknown large-lexicon method {method!r}; use one of {', '.join(LARGE_METHODS)}")


# ---------------------------------------------------------------- metrics

def word_accuracy(predictions: Sequence[str], truths: Sequence[str]) -> float:
    return 100.0 * sum(p == t for p, t in zip(predictions, truths)) / max(len(truths), 1)


def one_minus_ned(predictions: Sequence[str], truths: Sequence[str]) -> float:
    """Mean of 1 - edit distance / max(len(truth), len(prediction)) (ICDAR 2019's 1-N.E.D.)."""
    terms = [1 - edit.distance(p, t) / max(len(p), len(t), 1) for p, t in zip(predictions, truths)]
    return sum(terms) / max(len(terms), 1)


def accuracy_by_length(predictions: Sequence[str], truths: Sequence[str]) -> list[dict]:
    groups: dict[int, list[bool]] = {}
    for p, t in zip(predictions, truths):
        groups.setdefault(len(t), []).append(p == t)
    return [{"length": n, "images": len(g), "correct": sum(g), "accuracy (%)": round(100 * sum(g) / len(g), 2)}
            for n, g in sorted(groups.items())]


def confusions(predictions: Sequence[str], truths: Sequence[str], top: int = 15) -> list[dict]:
    """The most frequent character errors of one minimal alignment per image ('' = none)."""
    counts = Counter(op for p, t in zip(predictions, truths) for op in edit.alignment(t, p))
    return [{"truth": t or "(inserted)", "predicted": p or "(deleted)", "count": n} for (t, p), n in counts.most_common(top)]


# ---------------------------------------------------------------- evaluation

@dataclass
class Evaluation:
    protocol: Protocol
    rows: list[dict]                 # one per lexicon setting
    per_image: list[dict]
    by_length: list[dict]
    confusions: list[dict]
    counts: dict[str, int]
    problems: list[str]              # human-readable notes naming files and lines


def evaluate(log_probs: torch.Tensor, charset: str, benchmark: Benchmark, protocol: Protocol,
             settings: Sequence[str] = ("none",), decoder: str = "greedy", beam_width: int = 10,
             large_method: str = "edit", delta: int = 3, paper: dict | None = None,
             vocabulary: Callable[[], list[str]] | None = None) -> Evaluation:
    """Decode ``log_probs`` (one row per benchmark sample, in order) under every lexicon setting
    and measure them against the labels under ``protocol``; ``paper`` ({"None": 91.2, ...}) stands
    beside the measured rows.

    Images the protocol excludes are counted, not evaluated. A lexicon that lacks an image's
    ground truth is reported by file and line (that image cannot be right under it)."""
    kept, excluded = _kept_by_protocol(benchmark, protocol)
    samples = [benchmark.samples[i] for i in kept]
    log_probs = log_probs[kept]
    if not protocol.case_sensitive:
        log_probs, charset = fold_case(log_probs, charset)
    truths = [protocol.normalise(s.label) for s in samples]
    started = time.perf_counter()
    free = decode_free(log_probs, charset, decoder, beam_width)
    results = {"none": Decoded([protocol.normalise(w) for w in free.words], free.scores)}
    seconds = {"none": time.perf_counter() - started}
    problems, counts = [], {"images listed": len(benchmark.samples) + len(benchmark.missing),
                            "missing images": len(benchmark.missing), "evaluated": len(samples),
                            "filtered by protocol": sum(excluded.values())}
    problems += [f"missing image ({m})" for m in benchmark.missing]
    for setting in settings:
        if setting == "none":
            continue
        kind = lexicon_kind(setting, benchmark)
        lexicons = _lexicons(kind, setting, samples, truths, protocol, benchmark, charset, problems, vocabulary)
        started = time.perf_counter()
        if kind == "per-image":
            results[setting] = decode_per_image(log_probs, lexicons, charset)
        elif kind == "full":
            results[setting] = decode_shared(log_probs, lexicons[0], charset)
        else:
            results[setting] = decode_large(log_probs, lexicons[0], charset, results["none"].words,
                                            large_method, delta, beam_width)
        seconds[setting] = time.perf_counter() - started
        counts[f"ground truth not in lexicon {setting}"] = _absent(kind, setting, truths, lexicons, problems)
        for note, n in results[setting].notes.items():
            counts[f"{note} ({setting})"] = n
    rows = [{**_summary_row(setting, results[setting].words, truths, paper or {}, len(samples)),
             "decode (s)": round(seconds[setting], 3)} for setting in ["none", *[s for s in settings if s != "none"]]]
    return Evaluation(protocol, rows, _per_image_rows(samples, truths, free.words, results),
                      accuracy_by_length(results["none"].words, truths), confusions(results["none"].words, truths),
                      counts, problems)


def _kept_by_protocol(benchmark: Benchmark, protocol: Protocol) -> tuple[list[int], Counter]:
    """The indices of the samples ``protocol`` evaluates, and the count of each reason it excludes
    the others; a protocol that keeps none is an error."""
    kept = [i for i, s in enumerate(benchmark.samples) if protocol.exclusion(s.label) is None]
    excluded = Counter(protocol.exclusion(s.label) for s in benchmark.samples if protocol.exclusion(s.label))
    if not kept:
        raise ValueError(f"{benchmark.path}: the protocol {protocol.name!r} excludes all "
                         f"{len(benchmark.samples)} images ({dict(excluded)})")
    return kept, excluded


def _absent(kind: str, setting: str, truths: Sequence[str], lexicons: list[list[str]], problems: list[str]) -> int:
    """How many ground truths their lexicon lacks; a shared lexicon's are also a problem (each
    per-image one was already reported by file, by ``_lexicons``)."""
    if kind == "per-image":
        return sum(t not in set(lexicon) for t, lexicon in zip(truths, lexicons))
    shared = set(lexicons[0])
    absent = sum(t not in shared for t in truths)
    if absent:
        problems.append(f"lexicon {setting}: {absent} ground truths are not among its "
                        f"{len(shared)} words (those images cannot be right under it)")
    return absent


def _per_image_rows(samples: Sequence[Sample], truths: Sequence[str], raw: Sequence[str],
                    results: dict[str, Decoded]) -> list[dict]:
    """One row per evaluated image: its truth, the raw prediction and each setting's choice."""
    rows = []
    for i, sample in enumerate(samples):
        row = {"file": sample.name, "ground truth": truths[i], "raw prediction": raw[i]}
        for setting, decoded in results.items():
            row[f"{setting}: choice"] = decoded.words[i]
            row[f"{setting}: correct"] = int(decoded.words[i] == truths[i])
            row[f"{setting}: score"] = round(decoded.scores[i], 4)
        rows.append(row)
    return rows


def evaluate_model(model, item: Resolved, settings: Sequence[str] | None = None,
                   limit: int = 0) -> tuple[Benchmark, Evaluation]:
    """``model`` on one benchmark (its first ``limit`` images when set; its standard lexicon settings
    unless ``settings`` are given) with the default decoders, the paper's numbers beside: what
    studies and shipped-model cards report."""
    benchmark = load_resolved(item)
    benchmark = benchmark.first(limit, get_protocol(item.protocol)) if limit else benchmark
    settings = settings or (item.spec.settings(benchmark) if item.spec else ["none"])
    result = evaluate(model_log_probs(model, benchmark.samples), model.config.charset, benchmark,
                      get_protocol(item.protocol), settings, paper=paper_numbers(model.config.reported, item,
                                                                                 len(benchmark.samples)))
    return benchmark, result


def lexicon_kind(setting: str, benchmark: Benchmark) -> str:
    """What the lexicon setting ``setting`` is on ``benchmark``: ``per-image`` (its lexicon_<name>.txt),
    ``full`` (every ground truth of the benchmark) or ``large`` (the 50k English vocabulary); a
    setting the benchmark has not is an error listing those it has."""
    if setting in benchmark.lexicon_names:
        return "per-image"
    if setting == "full":
        return "full"
    if setting == "50k":
        return "large"
    known = ["none", "full", "50k", *benchmark.lexicon_names]
    raise ValueError(f"lexicon setting {setting!r} is not available for {benchmark.path}; available: "
                     f"{', '.join(known)} (a per-image lexicon comes from lexicon_<name>.txt)")


def _lexicons(kind: str, setting: str, samples: Sequence[Sample], truths: Sequence[str], protocol: Protocol,
              benchmark: Benchmark, charset: str, problems: list[str],
              vocabulary: Callable[[], list[str]] | None) -> list[list[str]]:
    """One lexicon per image (a per-image setting) or a single shared one, normalised like labels."""
    if kind == "per-image":
        lexicons = [[protocol.normalise(w) for w in s.lexicons[setting]] for s in samples]
        for sample, truth, lexicon in zip(samples, truths, lexicons):
            if truth not in lexicon:
                problems.append(f"lexicon {setting}: the ground truth {truth!r} of {sample.name} "
                                f"({sample.where}) is not in its lexicon")
            _check_emittable(lexicon, charset, f"lexicon {setting} of {sample.name} ({sample.where})")
        return lexicons
    if kind == "full":
        return [sorted({protocol.normalise(l) for l in benchmark.labels if protocol.exclusion(l) is None})]
    if vocabulary is None:
        from zoo.data.vocabulary import english_words as vocabulary
    words = sorted({protocol.normalise(w) for w in vocabulary()} - {""})
    _check_emittable(words, charset, "the 50k vocabulary")
    return [words]


def _check_emittable(words: Sequence[str], charset: str, what: str) -> None:
    bad = [w for w in words if any(c not in charset for c in w)]
    if bad:
        raise ValueError(f"{what}: {len(bad)} word(s) have characters the model cannot emit, e.g. "
                         f"{bad[:3]} (charset {charset!r})")


def _summary_row(setting: str, predictions: Sequence[str], truths: Sequence[str], paper: dict,
                 evaluated: int) -> dict:
    title = setting_title(setting)
    return {"lexicon": title, "accuracy (%)": round(word_accuracy(predictions, truths), 2),
            "paper (%)": paper.get(title), "1-NED": round(one_minus_ned(predictions, truths), 4), "images": evaluated}
