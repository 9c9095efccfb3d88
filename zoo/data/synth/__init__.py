"""The synthetic word renderer: ``synthesize(n, out, seed, workers)`` writes an MJSynth-like LMDB.

Words (``words``) in fonts found on the machine (``fonts``) over procedural and photographic
backgrounds (``backgrounds``), distorted (``effects``) and rendered by ``render.Renderer`` with the
settings of a preset (``render.PRESETS``: "baseline", "scene"). Sample i depends only on (seed, i), so
the output is the same for any number of workers.
"""
from __future__ import annotations

import json
import multiprocessing
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from zoo.data.charset import Charset
from zoo.data.lmdb import LmdbWriter
from zoo.data.synth.backgrounds import PHOTO_PACKAGES, photo_paths
from zoo.data.synth.font_filter import judge_fonts
from zoo.data.synth.fonts import FontInfo, discover_fonts, font_manifest, font_set_digest, font_warning
from zoo.data.synth.render import RenderConfig, Renderer
from zoo.data.vocabulary import SIGN_SOURCES
from zoo.data.vocabulary import SOURCE as VOCABULARY_SOURCE

CHUNK = 128
_worker_renderer: Renderer | None = None


@dataclass
class SynthReport:
    path: str
    samples: int
    seed: int
    workers: int
    seconds: float
    steady_rate: float   # img/s over the second half, once workers have started and glyph caches warmed
    fonts: int
    font_families: int
    unreadable_fonts: tuple[str, ...]  # font files fontTools could not read (left out)
    warning: str | None
    font_digest: str = ""  # fonts.font_set_digest: a seed gives the same data set only with the same fonts
    font_filter: bool = True
    preset: str = "baseline"

    @property
    def rate(self) -> float:
        return self.samples / max(self.seconds, 1e-9)


def usable_fonts(charset: Charset, font_dirs: tuple[str, ...] = (), font_filter: bool = True,
                 progress=None, system_fonts: bool = True) -> list[FontInfo]:
    """Fonts that can draw the charset: all of it, or (for a large set such as Chinese) at least some
    of it; the renderer picks, per word, a font that has every character of that word. With
    ``font_filter``, only fonts the quality filter accepts (``font_filter.judge_fonts``; its first run on a
    machine renders every font once, about 10 ms each, with a ``progress`` bar). ``system_fonts=False``
    leaves the system's font directories out (pip's fonts and ``font_dirs`` only: the renderer of
    before the Debian font set, an ablation arm)."""
    fonts, _ = discover_fonts(tuple(font_dirs), system_fonts)
    found = len(fonts)
    if font_filter:
        fonts = _filtered(fonts, charset, progress)
    chars = charset.chars
    if charset.case != "keep":  # a case-folding charset is rendered in both cases
        chars = "".join(dict.fromkeys(chars + chars.upper() + chars.lower()))
    full = [f for f in fonts if f.covers(chars)]
    partial = full or [f for f in fonts if any(f.covers(c) for c in chars)]
    if not partial:
        raise FileNotFoundError(f"no font on this machine draws any character of the charset ({found} fonts "
                                f"found, {found - len(fonts)} rejected by the font filter); see docs/data.md for "
                                f"font packages or pass --fonts DIR")
    return partial


def _filtered(fonts, charset: Charset, progress=None) -> list[FontInfo]:
    """The fonts the filter accepts. One rejected only for lacking some of a-z A-Z 0-9 stays (its
    other alphanumerics passed): coverage decides, as for a CJK font without Latin letters. A font
    that draws lower case as capitals would mislabel a case-sensitive charset's words."""
    case_sensitive = charset.case == "keep" and any(c.islower() for c in charset.chars)
    return [f for f, v in zip(fonts, judge_fonts(fonts, progress))
            if (v.accepted or v.kind == "missing") and not (case_sensitive and v.caps_only)]


def _init_worker(charset: Charset, fonts: list[FontInfo], seed: int, config: RenderConfig,
                 backgrounds: str | None) -> None:
    global _worker_renderer
    _worker_renderer = Renderer(charset, fonts, seed, config, backgrounds)


def _pool_worker(*init) -> None:
    """A pool worker leaves signals to the parent, which alone reports them: Ctrl-C reaches the whole
    process group, and each worker's KeyboardInterrupt printed a traceback; SIGTERM, which the pool's
    terminate() sends, must end a worker at once, not raise the CLI's Terminated (a forked worker
    inherits that handler) and print another. ``init``: the renderer to build (a spawned worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if init:
        _init_worker(*init)


def _render_chunk(indices: range) -> list[tuple[bytes, str]]:
    return [_worker_renderer(i) for i in indices]


def synthesize(n: int, out: str | Path, seed: int = 0, workers: int = 2, charset: Charset | None = None,
               config: RenderConfig | None = None, font_dirs: tuple[str, ...] = (),
               backgrounds: str | None = None, progress=None, font_filter: bool = True,
               preset: str = "baseline", system_fonts: bool = True) -> SynthReport:
    """Render ``n`` samples (indices 0..n-1 of the data set ``seed``) into the LMDB ``out`` with
    ``config``, by default the settings of ``preset``; ``font_filter=False`` draws in every font that
    covers the words, pictorial ones included."""
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    charset = charset or Charset.named("alnum36")
    config = config or RenderConfig.preset(preset)
    photos = [str(p) for p in photo_paths()] if config.p_photo > 0 else []
    fonts = usable_fonts(charset, font_dirs, font_filter, progress, system_fonts)
    init = (charset, fonts, seed, config, backgrounds)
    chunks = [range(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]
    start = time.perf_counter()
    task = progress.add_task("rendering", total=n, unit="img") if progress else None
    # images come straight from the renderer's JPEG encoder, so the writer does not decode them again
    halfway = None
    with LmdbWriter(out, validate=False) as writer:
        for samples in _render(init, chunks, workers):
            for image, label in samples:
                writer.add(image, label)
            if halfway is None and writer.count >= n // 2:
                halfway = (writer.count, time.perf_counter())
            if progress:
                progress.advance(task, len(samples))
        end = time.perf_counter()
        steady = (n - halfway[0]) / max(end - halfway[1], 1e-9) if n > halfway[0] else n / (end - start)
        report = SynthReport(str(out), n, seed, workers, end - start, steady, len(fonts),
                             len({f.family for f in fonts}), discover_fonts(tuple(font_dirs), system_fonts)[1],
                             _warning(fonts, config, photos), font_set_digest(fonts), font_filter, preset)
        writer.attach("synth.json", json.dumps({
            "seed": seed, "samples": n, "charset": charset.chars, "case": charset.case, "preset": preset,
            "vocabulary": VOCABULARY_SOURCE, "sign_vocabularies": SIGN_SOURCES, "config": asdict(config),
            "backgrounds": backgrounds or "procedural", "background_photos": photos,
            "font_filter": font_filter, "font_digest": report.font_digest, "fonts": font_manifest(fonts),
            "unreadable_fonts": report.unreadable_fonts}, indent=1))
    return report


def font_set_change(lmdb: str | Path, charset: Charset, font_filter: bool = True,
                    system_fonts: bool = True) -> str | None:
    """What differs between the fonts an existing rendered LMDB was drawn with (its synth.json) and
    the fonts the renderer would draw with on this machine now, or None when they are the same (or
    the LMDB is not rendered). A seed renders the same data set only with the same font set: after
    fonts are installed or removed, re-rendering the "same" data gives other images."""
    manifest = Path(lmdb) / "synth.json"
    if not manifest.is_file():
        return None
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    now = usable_fonts(charset, (), font_filter, None, system_fonts)
    if recorded.get("font_digest") in (None, font_set_digest(now)):
        return None
    def faces(rows):
        return {(r["family"], r["style"], Path(r["file"]).name, r["face"]) for r in rows}
    before, after = faces(recorded.get("fonts", [])), faces(font_manifest(now))
    return (f"{lmdb} was rendered with font set {recorded['font_digest']} ({len(before)} faces); this machine's "
            f"renderer now draws with {font_set_digest(now)} ({len(after - before)} faces added, "
            f"{len(before - after)} gone): the data is used as it was rendered, but rendering it again with "
            f"the same seed here gives other images (the run's lineage records the set it trained on)")


def config_change(lmdb: str | Path, config: RenderConfig) -> list[str]:
    """The renderer settings ``config`` gives otherwise than the existing rendered LMDB's synth.json
    records, as "key: recorded -> asked"; [] when they agree or the LMDB is not rendered. Settings
    added to the renderer after it was rendered are not compared."""
    manifest = Path(lmdb) / "synth.json"
    if not manifest.is_file():
        return []
    recorded = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
    asked = json.loads(json.dumps(asdict(config)))  # tuples as lists, the word mix as a mapping
    flat = lambda tree, pre="": {f"{pre}{k}": v for key, value in tree.items()
                                 for k, v in (flat(value, f"{key}.").items() if isinstance(value, dict) else [(key, value)])}
    before, now = flat(recorded), flat(asked)
    return [f"{key}: {before[key]} -> {now[key]}" for key in now if key in before and before[key] != now[key]]


def _warning(fonts: list[FontInfo], config: RenderConfig, photos: list[str]) -> str | None:
    """The font warning, and one when photographic backgrounds are asked for but none is installed."""
    missing = None if photos or config.p_photo == 0 else (
        f"no background photographs installed, procedural backgrounds drawn instead: "
        f"apt-get install {' '.join(PHOTO_PACKAGES)}")
    return "; ".join(w for w in (font_warning(fonts), missing) if w) or None


def _render(init: tuple, chunks: list[range], workers: int):
    forking = "fork" in multiprocessing.get_all_start_methods()
    if workers <= 1 or forking:  # forked workers share the renderer built here (word list, fonts, scenes)
        _init_worker(*init)
    if workers <= 1:
        yield from map(_render_chunk, chunks)
        return
    if forking:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_pool_worker) as pool:
            yield from pool.imap(_render_chunk, chunks)
    else:
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_pool_worker, initargs=init) as pool:
            yield from pool.imap(_render_chunk, chunks)
