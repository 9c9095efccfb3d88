"""Benchmarks as data: folders and LMDBs of word crops, the protocols that score them, and the
standard suite by name.

A benchmark is a folder (``gt.txt`` with ``file<TAB>word`` lines, plus ``lexicon_<name>.txt`` files
whose line i is image i's comma-separated lexicon, as ../shared/data/ic03; none, full and 50k are
settings of every benchmark, so no file's name) or an LMDB in the public
layout (``lexicon-%09d`` keys for per-image lexicons). A protocol names how labels are compared and
which images are evaluated. The suite (``SUITE``) names the field's standard test sets (IIIT5K-3000,
SVT-647, IC03-860, IC13-857/1015, IC15-2077, SVTP-645, CUTE80-288, as clovaai's benchmark and PARSeq
report them), each a folder under a data root with a fixed protocol, image count and lexicons.
"""
from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from zoo.data.transforms import UnreadableImage, read_image
from zoo.fileio import listed_image, read_lines
from zoo.hints import did_you_mean

ALPHANUMERIC = string.digits + string.ascii_letters
DATA_ROOT_ENV = "ZOO_DATA_ROOT"
DEFAULT_DATA_ROOT = "../shared/data"


# ---------------------------------------------------------------- protocols

@dataclass(frozen=True)
class Protocol:
    """How predictions are compared with labels and which labels are evaluated.

    ``case_sensitive`` False folds both sides to lower case. With ``alphabet`` set, characters
    outside it are dropped from predictions, and an image whose label has such characters is
    excluded, or, with ``strip``, kept with those characters dropped from its label too (Baek et
    al. 2019's scoring of IC15-2077, SVTP and CUTE80). ``min_length`` excludes shorter labels.
    """
    name: str
    case_sensitive: bool
    alphabet: str | None
    min_length: int
    strip: bool = False
    description: str = ""

    @property
    def label(self) -> str:
        parts = [self.name, "case-sensitive" if self.case_sensitive else "case-insensitive",
                 "alphanumeric" if self.alphabet == ALPHANUMERIC else "any characters"]
        if self.strip:
            parts.append("other characters dropped")
        if self.min_length > 1:
            parts.append(f">= {self.min_length} characters")
        return ", ".join(parts)

    def normalise(self, text: str) -> str:
        if self.alphabet is not None:
            text = "".join(c for c in text if c in self.alphabet)
        return text if self.case_sensitive else text.lower()

    def exclusion(self, label: str) -> str | None:
        """Why ``label`` is outside the protocol, or None if it is evaluated."""
        if self.alphabet is not None and not self.strip and any(c not in self.alphabet for c in label):
            return "non-alphanumeric characters"
        if len(self.normalise(label) if self.strip else label) < self.min_length:
            return f"shorter than {self.min_length} characters"
        return None


PROTOCOLS = {p.name: p for p in (
    Protocol("ic03-860", False, ALPHANUMERIC, 3, description=
             "words with only alphanumeric characters and at least 3 characters, compared case-insensitively "
             "(CRNN and GRCNN on IC03; the same rule gives IC13-857)"),
    Protocol("alphanumeric", False, ALPHANUMERIC, 1, description=
             "alphanumeric labels, compared case-insensitively (IIIT5K, SVT, IC13-1015 as usually reported)"),
    Protocol("alphanumeric-strip", False, ALPHANUMERIC, 1, strip=True, description=
             "every image; other characters dropped from label and prediction, compared case-insensitively "
             "(Baek et al. 2019 on IC15-2077, SVTP, CUTE80; the zoo's real validation words)"),
    Protocol("exact", True, None, 1, description="every label, compared character for character"),
)}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


# ---------------------------------------------------------------- loading

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

    def first(self, count: int, protocol: Protocol | None = None) -> "Benchmark":
        """The first ``count`` images only (a quick look), of those ``protocol`` evaluates when given;
        the Full lexicon still has every label."""
        samples = [s for s in self.samples if protocol is None or protocol.exclusion(s.label) is None]
        return Benchmark(self.path, samples[:count], self.lexicon_names, self.missing, self.labels)


def load_benchmark(path: str | Path, allow_missing: bool = False) -> Benchmark:
    """A folder with gt.txt (+ lexicon_<name>.txt) or an LMDB directory (data.mdb inside)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark {path} does not exist")
    if (path / "data.mdb").is_file():
        return _load_lmdb(path)
    if (path / "gt.txt").is_file():
        return _load_folder(path, allow_missing)
    raise FileNotFoundError(f"{path}: not a benchmark (expected gt.txt with 'file<TAB>word' lines, "
                            f"or an LMDB directory with data.mdb)")


def _load_folder(path: Path, allow_missing: bool) -> Benchmark:
    gt = path / "gt.txt"
    samples, missing, labels, entries = [], [], [], 0
    for number, line in enumerate(read_lines(gt, "benchmark list"), 1):
        if not line.strip():
            continue
        entries += 1
        if "\t" not in line:
            raise ValueError(f"{gt} line {number}: expected 'file<TAB>word', found no tab in {line!r}")
        name, label = line.split("\t", 1)
        if not label:
            raise ValueError(f"{gt} line {number}: {name!r} has an empty label")
        labels.append(label)
        image = listed_image(path, name, f"{gt} line {number}")
        where = f"{gt.name} line {number}"
        if not image.is_file():
            missing.append(f"{where}: {name}")
            continue
        named = f"{gt} line {number} ({name})"
        samples.append(Sample(name, label, where, lambda image=image, named=named: read_image(image, named), entries))
    if not entries:
        raise ValueError(f"{gt} lists no image: expected 'file<TAB>word' lines")
    if missing and not allow_missing:
        raise FileNotFoundError(f"{len(missing)} image(s) listed in {gt} do not exist, e.g. "
                                f"{'; '.join(missing[:5])}. Restore them, or pass --allow-missing to "
                                f"evaluate the rest (the count is reported)")
    names = sorted(p.name[len("lexicon_"):-len(".txt")] for p in path.glob("lexicon_*.txt"))
    _refuse_reserved(path, names)
    for lexicon_name in names:
        _attach_lexicon(path / f"lexicon_{lexicon_name}.txt", lexicon_name, samples, entries)
    return Benchmark(path, samples, names, missing, labels)


# the settings every benchmark has (zoo.evaluate.lexicon_kind): a file of one of these names would take
# its place unseen, or never be used
RESERVED_LEXICONS = ("none", "full", "50k")


def _refuse_reserved(path: Path, names: list[str]) -> None:
    for name in names:
        if name.lower() in RESERVED_LEXICONS:  # --lexicon is case-folded: Full is full
            raise ValueError(f"{path / f'lexicon_{name}.txt'}: '{name}' is a lexicon setting every benchmark has "
                             f"(none: lexicon-free; full: all ground truths; 50k: the English vocabulary), "
                             f"not a per-image lexicon's name; rename the file (e.g. lexicon_{name}_own.txt)")


def _attach_lexicon(file: Path, name: str, samples: list[Sample], entries: int) -> None:
    """Line i of ``file`` is the lexicon of the i-th image listed in gt.txt."""
    lines = read_lines(file, "lexicon")
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
        sample = Sample(str(index), label, f"label-{index:09d}",
                        lambda i=index: decode_image(reader.image_bytes(i), f"{path} image-{i:09d}"), index)
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


def preprocess_samples(samples: list[Sample], preprocess) -> list:
    """Each sample's image through ``preprocess`` (a ``zoo.data.transforms.Preprocess``): tensors."""
    tensors = []
    for sample in samples:
        try:
            tensors.append(preprocess(sample.load()))
        except (OSError, SyntaxError) as err:  # a PIL image given as such (model.read), decoded only now; a
            # file's image was decoded by its load (read_image), which raised UnreadableImage naming it
            raise UnreadableImage(f"{sample.where}: {sample.name} is not a readable image ({err})") from err
    return tensors


# ---------------------------------------------------------------- the standard suite

@dataclass(frozen=True)
class BenchmarkSpec:
    """A standard test set: ``folder`` under the data root, scored by ``protocol``, which must keep
    exactly ``count`` images; ``lexicons`` are its standard settings besides "none" (per-image ones
    are used when their lexicon_<name>.txt is in the folder). ``title`` keys reported numbers."""
    name: str
    folder: str
    protocol: str
    count: int
    title: str
    lexicons: tuple[str, ...] = ()
    subset_of: str = ""             # a larger standard subset of the same images (weighted totals count it once)

    def settings(self, benchmark: Benchmark) -> list[str]:
        return ["none", *[s for s in self.lexicons if s == "full" or s in benchmark.lexicon_names]]


SUITE = {s.name: s for s in (
    BenchmarkSpec("iiit5k", "iiit5k", "alphanumeric", 3000, "IIIT5K-3000", ("50", "1k")),
    BenchmarkSpec("svt", "svt", "alphanumeric", 647, "SVT-647", ("50",)),
    BenchmarkSpec("ic03", "ic03", "ic03-860", 860, "IC03-860", ("50", "full")),
    BenchmarkSpec("ic13-857", "ic13", "ic03-860", 857, "IC13-857", subset_of="ic13-1015"),
    BenchmarkSpec("ic13-1015", "ic13", "alphanumeric", 1015, "IC13-1015"),
    BenchmarkSpec("ic15-2077", "ic15", "alphanumeric-strip", 2077, "IC15-2077"),
    BenchmarkSpec("svtp", "svtp", "alphanumeric-strip", 645, "SVTP-645"),
    BenchmarkSpec("cute80", "cute80", "alphanumeric-strip", 288, "CUTE80-288"),
)}

# Re-trained on MJSynth + SynthText with one recipe (Baek et al., ICCV 2019, lexicon-free); the CRNN
# and GRCNN papers' own numbers are in each model's ModelConfig.reported. Tesseract: measured by this
# project on the shared folders (psm 8, x2 upscale, nearest lexicon word by edit distance).
REFERENCE_ROWS = {
    "CRNN, Baek et al. 2019 (MJ+ST)": {"IIIT5K-3000": {"None": 82.9}, "SVT-647": {"None": 81.6},
                                       "IC03-860": {"None": 93.1}, "IC13-857": {"None": 91.1},
                                       "IC13-1015": {"None": 89.2}, "IC15-2077": {"None": 64.2}},
    "GRCNN, Baek et al. 2019 (MJ+ST)": {"IIIT5K-3000": {"None": 84.2}, "SVT-647": {"None": 83.7},
                                        "IC03-860": {"None": 93.5}, "IC13-857": {"None": 90.9},
                                        "IC13-1015": {"None": 88.8}, "IC15-2077": {"None": 65.8}},
    "Tesseract 5 (psm 8), measured here": {"IC03-860": {"None": 78.1, "50": 93.6, "Full": 88.4},
                                           "SVT-647": {"None": 70.0, "50": 85.8}, "IC13-857": {"None": 77.4}},
}


SETTING_TITLES = {"none": "None", "full": "Full"}


def setting_title(setting: str) -> str:
    """How papers head a lexicon setting's column: None, 50, 1k, Full, 50k."""
    return SETTING_TITLES.get(setting, setting)


def paper_numbers(reported: dict, item: "Resolved", evaluated: int) -> dict:
    """The reported numbers ({"None": 91.2, "50": ...}) of ``item`` from ``reported`` (keyed by
    suite title), only when ``evaluated`` is the whole standard set: never beside a subset
    (``--limit``) or another set (a rendered one) that a protocol's filter was merely applied to."""
    if item.spec is None or evaluated != item.spec.count:
        return {}
    return reported.get(item.spec.title, {})


def data_root(flag: str | None = None) -> Path:
    """Where named benchmarks live: ``--data-root``, else $ZOO_DATA_ROOT, else ../shared/data."""
    return Path(flag or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


@dataclass(frozen=True)
class Resolved:
    """One benchmark of a run: its folder or LMDB, the protocol, and its suite entry. ``named``: asked
    for by name, so its count must be the standard one (a path is taken as it is)."""
    path: Path
    protocol: str
    spec: BenchmarkSpec | None = None
    named: bool = False

    @property
    def title(self) -> str:
        return self.spec.title if self.spec else self.path.name


def resolve_benchmarks(text: str, root: Path, protocol: str | None = None) -> list[Resolved]:
    """``NAME[,NAME...]``: suite names, ``all`` (every suite benchmark whose folder is under
    ``root``) or paths. A path whose folder name and protocol match a suite entry carries that entry,
    so ``../shared/data/ic03`` gets IC03-860's lexicons and reported numbers (the latter only when its
    count is the standard one); other paths use ``protocol``."""
    resolved: list[Resolved] = []
    for item in [t.strip() for t in text.split(",") if t.strip()]:
        if item == "all":
            found = [Resolved(root / s.folder, s.protocol, s, True) for s in SUITE.values() if (root / s.folder).is_dir()]
            if not found:
                raise FileNotFoundError(f"--benchmark all: no suite folder under the data root {root} "
                                        f"(looked for {', '.join(sorted({s.folder for s in SUITE.values()}))}/); "
                                        f"set --data-root DIR or ${DATA_ROOT_ENV}")
            resolved += found
        elif item in SUITE:
            spec = SUITE[item]
            if not (root / spec.folder).is_dir():
                raise FileNotFoundError(f"benchmark {item}: no folder {root / spec.folder} (looked under the data "
                                        f"root {root}; set --data-root DIR or ${DATA_ROOT_ENV})")
            resolved.append(Resolved(root / spec.folder, spec.protocol, spec, True))
        else:
            resolved.append(_resolve_path(item, protocol))
    names = [str(r.path) + r.protocol for r in resolved]
    if len(set(names)) != len(names):
        raise ValueError(f"--benchmark {text}: a benchmark is listed twice")
    return resolved


def _resolve_path(item: str, protocol: str | None) -> Resolved:
    path = Path(item)
    if not path.exists():
        raise FileNotFoundError(f"benchmark {item}: not a suite name ({', '.join(SUITE)}, all) and no such "
                                f"path.{did_you_mean(item, [*SUITE, 'all'], n=2, cutoff=0.6)}")
    protocol = protocol or "ic03-860"
    spec = next((s for s in SUITE.values() if s.folder == path.name and s.protocol == protocol), None)
    return Resolved(path, protocol, spec)


def load_resolved(item: Resolved, allow_missing: bool = False) -> Benchmark:
    """The benchmark, its count checked against the standard one when it is a suite entry: a folder
    that gives another count is not that benchmark, and is an error rather than a silent subset."""
    benchmark = load_benchmark(item.path, allow_missing)
    if item.named:
        rule = get_protocol(item.protocol)
        kept = sum(rule.exclusion(s.label) is None for s in benchmark.samples) + len(benchmark.missing)
        if kept != item.spec.count:
            raise ValueError(f"{item.spec.name}: the {item.protocol} protocol keeps {kept} of the "
                             f"{len(benchmark.labels)} words in {item.path / 'gt.txt'}, not the standard "
                             f"{item.spec.count} of {item.spec.title}; this folder is not that benchmark (pass "
                             f"its path instead of the name to evaluate it as a plain folder)")
    return benchmark
