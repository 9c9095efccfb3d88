"""Evaluation: benchmarks as data, named protocols, lexicon-free and lexicon-based decoding, metrics.

A benchmark is a folder (``gt.txt`` with ``file<TAB>word`` lines, plus ``lexicon_<name>.txt`` files
whose line i is image i's comma-separated lexicon, as ../shared/data/ic03) or an LMDB in the public
layout (``lexicon-%09d`` keys for per-image lexicons). A protocol names how labels are compared and
which are evaluated (e.g. ``ic03-860``). Lexicon settings: ``none`` (greedy or beam), a per-image
lexicon by name (``50``, ``1k``), ``full`` (every ground truth of the benchmark) and ``50k`` (the
English vocabulary: candidates within an edit distance, trie beam, or exhaustively).
"""
from __future__ import annotations

import math
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from zoo.decode import edit
from zoo.decode.ctc import greedy_decode, prefix_beam_search
from zoo.decode.lexicon import Trie, choose, log_likelihoods, trie_beam_search

ALPHANUMERIC = string.digits + string.ascii_letters
LARGE_METHODS = ("edit", "trie", "exhaustive")


# ---------------------------------------------------------------- protocols

@dataclass(frozen=True)
class Protocol:
    """How predictions are compared with labels and which labels are evaluated.

    ``case_sensitive`` False folds both sides to lower case; ``alphabet`` (if set) excludes every
    image whose label has another character and drops such characters from predictions;
    ``min_length`` excludes shorter labels. ``reported_key`` is the key of ``ModelConfig.reported``
    holding the papers' numbers for this protocol, measured on ``reported_images`` images.
    """
    name: str
    case_sensitive: bool
    alphabet: str | None
    min_length: int
    reported_key: str = ""
    reported_images: int = 0
    description: str = ""

    @property
    def label(self) -> str:
        parts = [self.name, "case-sensitive" if self.case_sensitive else "case-insensitive",
                 "alphanumeric" if self.alphabet == ALPHANUMERIC else "any characters"]
        if self.min_length > 1:
            parts.append(f">= {self.min_length} characters")
        return ", ".join(parts)

    def normalise(self, text: str) -> str:
        if self.alphabet is not None:
            text = "".join(c for c in text if c in self.alphabet)
        return text if self.case_sensitive else text.lower()

    def exclusion(self, label: str) -> str | None:
        """Why ``label`` is outside the protocol, or None if it is evaluated."""
        if self.alphabet is not None and any(c not in self.alphabet for c in label):
            return "non-alphanumeric characters"
        if len(label) < self.min_length:
            return f"shorter than {self.min_length} characters"
        return None


PROTOCOLS = {p.name: p for p in (
    Protocol("ic03-860", False, ALPHANUMERIC, 3, "IC03-860", 860,
             "IC03 test words with only alphanumeric characters and at least 3 characters, compared "
             "case-insensitively (CRNN and GRCNN)"),
    Protocol("alphanumeric", False, ALPHANUMERIC, 1, "", 0,
             "alphanumeric labels, compared case-insensitively (IIIT5K, SVT, IC13 as usually reported)"),
    Protocol("exact", True, None, 1, "", 0, "every label, compared character for character"),
)}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


# ---------------------------------------------------------------- benchmarks

@dataclass
class Sample:
    name: str                       # image file or LMDB index
    label: str
    where: str                      # "gt.txt line 12" / "label-000000012", for messages
    load: Callable[[], Image.Image]
    entry: int                      # 1-based position among the listed images (lexicon line)
    lexicons: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Benchmark:
    path: Path
    samples: list[Sample]
    lexicon_names: list[str]
    missing: list[str]              # "gt.txt line 7: img_0007.jpg" for images that are absent
    labels: list[str]               # every listed label (missing images too): the Full lexicon's source

    @property
    def name(self) -> str:
        return self.path.name

    def first(self, count: int) -> "Benchmark":
        """The first ``count`` images only (a quick look); the Full lexicon still has every label."""
        return Benchmark(self.path, self.samples[:count], self.lexicon_names, self.missing, self.labels)


def load_benchmark(path: str | Path, allow_missing: bool = False) -> Benchmark:
    """A folder with gt.txt (+ lexicon_<name>.txt) or an LMDB directory (data.mdb inside)."""
    path = Path(path)
    if (path / "data.mdb").is_file():
        return _load_lmdb(path)
    if (path / "gt.txt").is_file():
        return _load_folder(path, allow_missing)
    raise FileNotFoundError(f"{path}: not a benchmark (expected gt.txt with 'file<TAB>word' lines, "
                            f"or an LMDB directory with data.mdb)")


def _load_folder(path: Path, allow_missing: bool) -> Benchmark:
    gt = path / "gt.txt"
    samples, missing, labels, entries = [], [], [], 0
    for number, line in enumerate(gt.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        entries += 1
        if "\t" not in line:
            raise ValueError(f"{gt} line {number}: expected 'file<TAB>word', found no tab in {line!r}")
        name, label = line.split("\t", 1)
        if not label:
            raise ValueError(f"{gt} line {number}: {name!r} has an empty label")
        labels.append(label)
        image = path / name
        where = f"{gt.name} line {number}"
        if not image.is_file():
            missing.append(f"{where}: {name}")
            continue
        samples.append(Sample(name, label, where, lambda image=image: Image.open(image), entries))
    if missing and not allow_missing:
        raise FileNotFoundError(f"{len(missing)} image(s) listed in {gt} do not exist, e.g. "
                                f"{'; '.join(missing[:5])}. Restore them, or pass --allow-missing to "
                                f"evaluate the rest (the count is reported)")
    names = sorted(p.name[len("lexicon_"):-len(".txt")] for p in path.glob("lexicon_*.txt"))
    for lexicon_name in names:
        _attach_lexicon(path / f"lexicon_{lexicon_name}.txt", lexicon_name, samples, entries)
    return Benchmark(path, samples, names, missing, labels)


def _attach_lexicon(file: Path, name: str, samples: list[Sample], entries: int) -> None:
    """Line i of ``file`` is the lexicon of the i-th image listed in gt.txt."""
    lines = file.read_text(encoding="utf-8").splitlines()
    if len(lines) != entries:
        raise ValueError(f"{file}: {len(lines)} lines for the {entries} images listed in gt.txt; line i "
                         f"must be the comma-separated lexicon of image i")
    for number, line in enumerate(lines, 1):
        if not [w for w in line.split(",") if w.strip()]:
            raise ValueError(f"{file} line {number}: empty lexicon")
    for sample in samples:
        sample.lexicons[name] = [w.strip() for w in lines[sample.entry - 1].split(",") if w.strip()]


def _load_lmdb(path: Path) -> Benchmark:
    from zoo.data.lmdb import LmdbReader, decode_image, lexicon_key

    reader = LmdbReader(path)
    samples = []
    for index, label in enumerate(reader.labels(), 1):
        sample = Sample(str(index), label, f"label-{index:09d}", lambda i=index: decode_image(reader.image_bytes(i)),
                        index)
        lexicon = reader.lexicon(index)
        if lexicon is not None:
            words = [w for w in lexicon if w]
            if not words:
                raise ValueError(f"{path}: {lexicon_key(index).decode()} is an empty lexicon")
            sample.lexicons["lexicon"] = words
        samples.append(sample)
    with_lexicon = sum(bool(s.lexicons) for s in samples)
    if 0 < with_lexicon < len(samples):
        first = next(s for s in samples if not s.lexicons)
        raise ValueError(f"{path}: {with_lexicon} of {len(samples)} samples have a lexicon-%09d key; "
                         f"sample {first.name} has none (all or none must)")
    # named by size when uniform, so `--lexicon 50` reads an LMDB copy of IC03 as it reads the folder
    sizes = {len(s.lexicons["lexicon"]) for s in samples if s.lexicons}
    name = str(sizes.pop()) if len(sizes) == 1 else "lexicon"
    for s in samples:
        if s.lexicons:
            s.lexicons = {name: s.lexicons["lexicon"]}
    return Benchmark(path, samples, [name] if with_lexicon else [], [], [s.label for s in samples])


# ---------------------------------------------------------------- model outputs

@torch.inference_mode()
def model_log_probs(model, samples: Sequence[Sample], batch_size: int = 64,
                    on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
    """Run ``model`` over the samples' images: (images, frames, classes) log-probabilities.

    Images are batched only with images of the same preprocessed width, so no image is padded
    before the network; shorter outputs are padded afterwards with certain-blank frames, which
    change no decoding (see ``zoo.decode.lexicon.log_likelihoods``).
    """
    from zoo.data.transforms import Preprocess

    preprocess = Preprocess.from_config(model.config)
    tensors = []
    for sample in samples:
        try:
            tensors.append(preprocess(sample.load()))
        except OSError as err:
            raise ValueError(f"{sample.where}: {sample.name} is not a readable image ({err})") from err
    by_width: dict[int, list[int]] = {}
    for index, tensor in enumerate(tensors):
        by_width.setdefault(tensor.shape[-1], []).append(index)
    outputs: list[torch.Tensor | None] = [None] * len(tensors)
    for indices in by_width.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            logits = model(torch.stack([tensors[i] for i in chunk]))
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

SETTING_TITLES = {"none": "None", "full": "Full", "50k": "50k"}


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
             large_method: str = "edit", delta: int = 3, reported: dict | None = None,
             vocabulary: Callable[[], list[str]] | None = None) -> Evaluation:
    """Decode ``log_probs`` (one row per benchmark sample, in order) under every lexicon setting
    and measure them against the labels under ``protocol``.

    Images the protocol excludes are counted, not evaluated. A lexicon that lacks an image's
    ground truth is reported by file and line (that image cannot be right under it)."""
    kept = [i for i, s in enumerate(benchmark.samples) if protocol.exclusion(s.label) is None]
    excluded = Counter(protocol.exclusion(s.label) for s in benchmark.samples if protocol.exclusion(s.label))
    samples = [benchmark.samples[i] for i in kept]
    if not samples:
        raise ValueError(f"{benchmark.path}: the protocol {protocol.name!r} excludes all "
                         f"{len(benchmark.samples)} images ({dict(excluded)})")
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
        lexicons = _lexicons(setting, samples, truths, protocol, benchmark, charset, problems, vocabulary)
        started = time.perf_counter()
        if setting in benchmark.lexicon_names:
            results[setting] = decode_per_image(log_probs, lexicons, charset)
        elif setting == "full":
            results[setting] = decode_shared(log_probs, lexicons[0], charset)
        else:
            results[setting] = decode_large(log_probs, lexicons[0], charset, results["none"].words,
                                            large_method, delta, beam_width)
        seconds[setting] = time.perf_counter() - started
        if setting in benchmark.lexicon_names:
            absent = sum(t not in set(lexicon) for t, lexicon in zip(truths, lexicons))
        else:
            shared = set(lexicons[0])
            absent = sum(t not in shared for t in truths)
            if absent:
                problems.append(f"lexicon {setting}: {absent} ground truths are not among its "
                                f"{len(shared)} words (those images cannot be right under it)")
        counts[f"ground truth not in lexicon {setting}"] = absent
        for note, n in results[setting].notes.items():
            counts[f"{note} ({setting})"] = n
    rows = [{**_summary_row(setting, results[setting].words, truths, protocol, reported or {}, len(samples)),
             "decode (s)": round(seconds[setting], 3)} for setting in ["none", *[s for s in settings if s != "none"]]]
    per_image = []
    for i, sample in enumerate(samples):
        row = {"file": sample.name, "ground truth": truths[i], "raw prediction": free.words[i]}
        for setting, decoded in results.items():
            row[f"{setting}: choice"] = decoded.words[i]
            row[f"{setting}: correct"] = int(decoded.words[i] == truths[i])
            row[f"{setting}: score"] = round(decoded.scores[i], 4)
        per_image.append(row)
    return Evaluation(protocol, rows, per_image, accuracy_by_length(results["none"].words, truths),
                      confusions(results["none"].words, truths), counts, problems)


def evaluate_model(model, path: str | Path, protocol: str = "ic03-860", settings: Sequence[str] = ("none",),
                   limit: int = 0) -> tuple[Benchmark, Evaluation]:
    """``model`` on the benchmark at ``path`` (its first ``limit`` images when set) with the default
    decoders, the paper's numbers beside: what studies and shipped-model cards report."""
    benchmark = load_benchmark(path)
    benchmark = benchmark.first(limit) if limit else benchmark
    result = evaluate(model_log_probs(model, benchmark.samples), model.config.charset, benchmark,
                      get_protocol(protocol), settings, reported=model.config.reported)
    return benchmark, result


def _lexicons(setting: str, samples: Sequence[Sample], truths: Sequence[str], protocol: Protocol,
              benchmark: Benchmark, charset: str, problems: list[str],
              vocabulary: Callable[[], list[str]] | None) -> list[list[str]]:
    """One lexicon per image (a per-image setting) or a single shared one, normalised like labels."""
    if setting in benchmark.lexicon_names:
        lexicons = [[protocol.normalise(w) for w in s.lexicons[setting]] for s in samples]
        for sample, truth, lexicon in zip(samples, truths, lexicons):
            if truth not in lexicon:
                problems.append(f"lexicon {setting}: the ground truth {truth!r} of {sample.name} "
                                f"({sample.where}) is not in its lexicon")
            _check_emittable(lexicon, charset, f"lexicon {setting} of {sample.name} ({sample.where})")
        return lexicons
    if setting == "full":
        return [sorted({protocol.normalise(l) for l in benchmark.labels if protocol.exclusion(l) is None})]
    if setting == "50k":
        if vocabulary is None:
            from zoo.data.vocabulary import english_words as vocabulary
        words = sorted({protocol.normalise(w) for w in vocabulary()} - {""})
        _check_emittable(words, charset, "the 50k vocabulary")
        return [words]
    known = ["none", "full", "50k", *benchmark.lexicon_names]
    raise ValueError(f"lexicon setting {setting!r} is not available for {benchmark.path}; available: "
                     f"{', '.join(known)} (a per-image lexicon comes from lexicon_<name>.txt)")


def _check_emittable(words: Sequence[str], charset: str, what: str) -> None:
    bad = [w for w in words if any(c not in charset for c in w)]
    if bad:
        raise ValueError(f"{what}: {len(bad)} word(s) have characters the model cannot emit, e.g. "
                         f"{bad[:3]} (charset {charset!r})")


def reported_accuracy(reported: dict, protocol: Protocol, setting: str, evaluated: int) -> float | None:
    """A paper's number (``ModelConfig.reported``) for this protocol and lexicon setting, if any, and
    only when ``evaluated`` is the papers' whole test set: never beside a subset (``--limit``) or
    another set (a rendered one) that the protocol's filter was merely applied to."""
    if not protocol.reported_key or evaluated != protocol.reported_images:
        return None
    return reported.get(protocol.reported_key, {}).get(SETTING_TITLES.get(setting, setting))


def _summary_row(setting: str, predictions: Sequence[str], truths: Sequence[str], protocol: Protocol,
                 reported: dict, evaluated: int) -> dict:
    title = SETTING_TITLES.get(setting, setting)
    paper = reported_accuracy(reported, protocol, setting, evaluated)
    return {"lexicon": title, "accuracy (%)": round(word_accuracy(predictions, truths), 2),
            "paper (%)": paper, "1-NED": round(one_minus_ned(predictions, truths), 4), "images": evaluated}
