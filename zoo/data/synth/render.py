"""Render one word image, MJSynth style (Jaderberg et al., 2014): font rendering, border and shadow,
colouring against a procedural background, projective distortion and curvature, blur, noise and JPEG
compression. The scene preset (``RenderConfig.scene()``) adds what real word crops of street scenes
show: loose and tight margins with pieces of the neighbouring words, photographs behind the text,
uneven light, motion blur, low resolution, shadows in colours of their own, and sign vocabulary.
Sample ``index`` is drawn from ``numpy.random.default_rng([seed, index])`` alone, so a data set is the
same for a given seed whatever the number of workers, on the same font set (synth.json records its
digest) and background photographs (synth.json lists them)."""
from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, fields, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.data.charset import Charset
from zoo.data.synth import effects
from zoo.data.synth.backgrounds import CropPool, PhotoPool, background, photo_background, photo_paths
from zoo.data.synth.fonts import FontInfo
from zoo.data.synth.words import WordMix, WordSampler
from zoo.hints import did_you_mean

LUMA = np.array([0.299, 0.587, 0.114])
THIN_WEIGHT = 300  # OS/2 weight below which a font (Thin, Hairline, ExtraLight) is only drawn at the largest size


@dataclass(frozen=True)
class RenderConfig:
    """Ranges every sample draws from. Probabilities are per sample; font sizes and distortions in
    pixels at render scale (the word is then resized to ``height``)."""
    height: int = 32
    font_sizes: tuple[int, ...] = (20, 24, 28, 32)  # near the stored height; few, so the glyph cache warms fast
    min_contrast: float = 0.35         # luminance difference text/background, as a fraction of 255
    p_border: float = 0.15
    p_shadow: float = 0.15
    p_spacing: float = 0.2             # extra letter spacing (drawn glyph by glyph)
    p_curve: float = 0.2
    max_curve: float = 0.12            # sine amplitude, fraction of the text height
    p_warp: float = 0.6
    max_rotation: float = 4.0          # degrees
    perspective: float = 0.12          # corner shift, fraction of the text height
    p_blur: float = 0.5
    max_blur: float = 1.0              # Gaussian radius, in stored pixels
    p_noise: float = 0.5
    max_noise: float = 8.0             # noise sigma, 0..255
    jpeg_quality: tuple[int, int] = (35, 95)
    p_vertical: float = 0.0            # vertical text (charsets written top to bottom)
    max_frames: int = 26               # longest CTC target: 100 px at stride 4 (CRNN's 26 frames)
    words: WordMix = WordMix()
    # Scene features: each is off (0) in the baseline, and a feature at 0 draws no random number, so
    # the baseline's images are byte for byte those of the renderer before these features existed.
    p_margin: float = 0.0              # a detector's crop margins instead of MJSynth's tight ones
    margin: tuple[float, float] = (-0.05, 0.4)  # each side's margin, a fraction of the text's height
    p_neighbours: float = 0.0          # letters of the neighbouring words beyond the ends, cut by the crop
    p_photo: float = 0.0               # background: a crop of a photograph (backgrounds.PHOTO_PACKAGES)
    p_light: float = 0.0               # uneven light: a shadow across, a vignette or a glare spot
    max_light: float = 0.5             # its largest change of brightness, a fraction
    p_motion: float = 0.0              # motion blur (after any Gaussian blur)
    p_lowres: float = 0.0              # captured small, then upscaled to ``height``
    lowres_rows: tuple[int, int] = (12, 24)  # the word's height in the scene photo, pixels
    p_colour_shadow: float = 0.0       # a shadow's colour drawn at random, not black or white

    @classmethod
    def scene(cls, **overrides) -> "RenderConfig":
        """Word crops as a detector cuts them from street photographs (SVT, IC15): sign words, loose and
        tight crops with neighbours, photographs, stronger perspective, uneven light, small and blurred."""
        settings = dict(p_border=0.25, p_shadow=0.25, max_rotation=6.0, perspective=0.2,
                        words=WordMix.signs(), p_margin=0.8, p_neighbours=0.5, p_photo=0.3, p_light=0.4,
                        p_motion=0.15, p_lowres=0.3, p_colour_shadow=0.6)
        return cls(**{**settings, **overrides})

    @staticmethod
    def preset(name: str, **overrides) -> "RenderConfig":
        """The configuration of preset ``name`` (``PRESETS``), with ``overrides``."""
        if name not in PRESETS:
            raise ValueError(f"unknown renderer preset {name!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[name](**overrides)


PRESETS = {"baseline": RenderConfig, "scene": RenderConfig.scene}  # zoo data synth --preset NAME
WORD_MIXES = {"baseline": WordMix, "signs": WordMix.signs}         # settings {words: NAME}


def render_config(preset: str = "baseline", settings: dict | None = None) -> RenderConfig:
    """Preset ``preset`` with ``settings`` on top, as YAML gives them (a recipe's
    ``data.train_synth.settings``, ``zoo data synth --set KEY=VALUE``): RenderConfig fields, ranges as
    lists, ``words`` a WORD_MIXES name or a mapping of WordMix fields over the preset's mix. One
    feature switched on over the baseline (``{p_photo: 0.3}``) is how the renderer study measures
    what each adds. Every bad key or value is named in one ValueError."""
    config, problems, values = RenderConfig.preset(preset), [], {}
    for key, value in (settings or {}).items():
        try:
            values[key] = _word_mix(config.words, value) if key == "words" else _setting(config, key, value, "")
        except ValueError as err:
            problems.append(str(err))
    if len(problems) > 1:
        raise ValueError(f"{len(problems)} problems in the renderer settings:\n" + "\n".join(f"  - {p}" for p in problems))
    if problems:
        raise ValueError(problems[0])
    return replace(config, **values)


def _word_mix(mix: WordMix, value) -> WordMix:
    if isinstance(value, str):
        if value not in WORD_MIXES:
            raise ValueError(f"words: {value!r} is not a word mix; choose {' or '.join(WORD_MIXES)}, or give "
                             f"WordMix shares ({', '.join(f.name for f in fields(WordMix))})")
        return WORD_MIXES[value]()
    if not isinstance(value, dict):
        raise ValueError(f"words: a word mix name ({', '.join(WORD_MIXES)}) or a mapping of shares, got {value!r}")
    return replace(mix, **{key: _setting(mix, key, share, "words.") for key, share in value.items()})


def _setting(current, key: str, value, where: str):
    """``value`` as the type of ``current``'s field ``key``: a number, or a tuple of numbers for a range
    or a list; probabilities within 0..1, word-mix shares at least 0 (they are normalised)."""
    names = [f.name for f in fields(current) if f.name != "words"]
    if key not in names:
        raise ValueError(f"{where}{key}: no such renderer setting.{did_you_mean(key, names)} Settings: {', '.join(names)}")
    default = getattr(current, key)
    ranged = isinstance(default, tuple)
    numbers = list(value) if isinstance(value, (list, tuple)) else [value]
    kind = type(default[0] if ranged else default)
    if ranged != isinstance(value, (list, tuple)) or (ranged and len(default) == 2 and len(numbers) != 2) \
            or not numbers or not all(isinstance(v, kind if kind is int else (int, float)) and not isinstance(v, bool)
                                      for v in numbers):
        shape = f"a list of {len(default)} " if ranged and len(default) == 2 else "a list of " if ranged else "a "
        raise ValueError(f"{where}{key}: {shape}{'whole number' if kind is int else 'number'}{'s' if ranged else ''} "
                         f"(now {list(default) if ranged else default}), got {value!r}")
    low, high = (0, 1) if key.startswith("p_") else (0, math.inf) if where == "words." else (-math.inf, math.inf)
    if not all(low <= v <= high for v in numbers):
        raise ValueError(f"{where}{key}: {'a probability within 0..1' if high == 1 else 'a share of at least 0'}, got {value!r}")
    converted = tuple(kind(v) for v in numbers)
    return converted if ranged else converted[0]


def _chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``, drawing nothing when ``p`` is 0 (so a feature switched off leaves
    every later draw, and the image, as it was without the feature)."""
    return p > 0 and rng.random() < p


def _luma(colour: np.ndarray) -> float:
    return float(colour @ LUMA)


def random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` RGB colours, 0..255, each with a uniformly drawn saturation (scene colours are rarely
    pure hues)."""
    colours = rng.integers(0, 256, (n, 3)).astype(np.float32)
    grey = colours.mean(1, keepdims=True)
    return grey + rng.uniform(0.0, 1.0, (n, 1)).astype(np.float32) * (colours - grey)


def random_colour(rng: np.random.Generator) -> np.ndarray:
    return random_colours(rng, 1)[0]


def pick_colours(rng: np.random.Generator, min_contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """Background and text colours (RGB, 0..255) whose luminances differ by at least ``min_contrast``."""
    colours = random_colours(rng, 17)
    bg, candidates = colours[0], colours[1:]
    ok = np.abs(candidates @ LUMA - _luma(bg)) >= 255 * min_contrast
    if ok.any():
        return bg, candidates[np.argmax(ok)]
    return bg, np.full(3, 0.0 if _luma(bg) > 127.5 else 255.0, np.float32)


def font_weights(fonts: list[FontInfo]) -> np.ndarray:
    """How often each font draws a word: the styles of a family share its weight, the families of a
    folder (a font package) count alike, and a folder's share grows with the square root of its
    families, so one package of hundreds of display families (fonts-aenigma: 389 of the 976 styles
    the quality filter accepts from the pinned Debian set) draws a fifth of the words, not two fifths."""
    styles = Counter(f.family for f in fonts)
    families: dict[str, set[str]] = defaultdict(set)
    for f in fonts:
        families[os.path.dirname(f.path)].add(f.family)
    weights = np.array([1 / styles[f.family] / math.sqrt(len(families[os.path.dirname(f.path)])) for f in fonts])
    return weights / weights.sum()


class Renderer:
    """Renders sample ``index`` of a data set: ``renderer(index) -> (JPEG bytes, label)``."""

    def __init__(self, charset: Charset, fonts: list[FontInfo], seed: int, config: RenderConfig = RenderConfig(),
                 backgrounds: str | None = None):
        if not fonts:
            raise ValueError("the renderer needs at least one font")
        self.charset, self.fonts, self.seed, self.config = charset, list(fonts), seed, config
        self._font_cdf = np.cumsum(font_weights(self.fonts))
        drawable = "".join(c for c in charset.chars if any(f.covers(c) for f in fonts))
        self.sampler = WordSampler(charset, config.max_frames, config.words, alphabet=drawable)
        self.pool = CropPool(seed, backgrounds)
        photos = photo_paths() if config.p_photo > 0 else []
        self.photos = PhotoPool(photos) if photos else None  # none installed: procedural backgrounds only
        self._font_cache: dict[tuple[int, int], ImageFont.FreeTypeFont] = {}
        self._glyphs: dict[tuple[int, int, str, int], tuple[Image.Image, int, int, float]] = {}

    def __call__(self, index: int) -> tuple[bytes, str]:
        rng = np.random.default_rng([self.seed, index])
        text = self.sampler(rng)
        image = self.render(text, rng)
        return effects.jpeg_bytes(image, rng.integers(*self.config.jpeg_quality, endpoint=True)), text

    def _font(self, rng: np.random.Generator, text: str) -> tuple[int, ImageFont.FreeTypeFont]:
        """A font with every glyph of ``text`` (the first one from a random start), at a random size;
        returns its index and the FreeType face."""
        start = min(int(np.searchsorted(self._font_cdf, rng.random() * self._font_cdf[-1])), len(self.fonts) - 1)
        for k in range(len(self.fonts)):
            i = (start + k) % len(self.fonts)
            if self.fonts[i].covers(text):
                break
        else:
            raise ValueError(f"no font covers {text!r}")
        sizes = self.config.font_sizes
        if self.fonts[i].weight < THIN_WEIGHT:  # hairline strokes vanish at small sizes: draw them large
            sizes = sizes[-1:]
        size = sizes[rng.integers(len(sizes))]
        key = (i, size)
        if key not in self._font_cache:
            self._font_cache[key] = self.fonts[i].open(size)  # the right face of a .ttc, basic layout
        return i, self._font_cache[key]

    def _glyph(self, font_index: int, font: ImageFont.FreeTypeFont, char: str, stroke: int) -> tuple[Image.Image, int, int, float]:
        """The rasterised glyph (with a border of ``stroke`` px), its offset from the pen position on
        the baseline and its advance width, cached: FreeType rasterisation is the renderer's costliest
        step, and a data set draws the same few thousand (font, size, character) glyphs again and again."""
        key = (font_index, font.size, char, stroke)
        if key not in self._glyphs:
            left, top, right, bottom = font.getbbox(char, stroke_width=stroke, anchor="ls")
            mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
            ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255, anchor="ls",
                                      stroke_width=stroke, stroke_fill=255)
            self._glyphs[key] = (mask, left, top, font.getlength(char))
        return self._glyphs[key]

    def _text_masks(self, text: str, font_index: int, font: ImageFont.FreeTypeFont, rng: np.random.Generator,
                    vertical: bool) -> tuple[Image.Image, bool]:
        """An "LA" image: L holds the glyphs, A the glyphs with their border (equal without one), and
        whether there is a border. With neighbours (``p_neighbours``) an "RGB" image: R and G as L and
        A with the neighbours' letters, B the word's own glyphs with their border (what the crop is cut
        around). Glyphs are placed by their advance widths (no kerning), plus random extra letter spacing."""
        c = self.config
        size = font.size
        stroke = int(rng.integers(1, max(2, size // 12) + 1)) if rng.random() < c.p_border else 0
        spacing = rng.uniform(0.05, 0.4) * size if rng.random() < c.p_spacing else 0.0
        ascent, descent = font.getmetrics()
        pad = stroke + size // 4
        left, right, gap = ("", "", 0.0) if vertical or not _chance(rng, c.p_neighbours) else \
            self._neighbours(rng, font_index, text, size)
        line = left + text + right
        widths = [self._glyph(font_index, font, ch, 0)[3] for ch in line]
        if vertical:  # one glyph per line, centred in a column
            step = size * 1.05
            pens = [(pad + (size * 1.2 - w) / 2, pad + ascent + k * step) for k, w in enumerate(widths)]
            canvas = (int(size * 1.2) + 2 * pad, int(step * (len(text) - 1) + ascent + descent) + 2 * pad)
        else:
            steps = [w + spacing for w in widths]
            for end in ([len(left) - 1] if left else []) + ([len(left) + len(text) - 1] if right else []):
                steps[end] += gap  # the word space on each side that has a neighbour
            advances = np.cumsum([0.0] + steps)
            pens = [(pad + x, pad + ascent) for x in advances[:-1]]
            canvas = (int(advances[-1] - spacing) + 2 * pad, ascent + descent + 2 * pad)
        bands = [self._draw(line, pens, canvas, font_index, font, width) for width in sorted({0, stroke})]
        if left or right:
            word = self._draw(text, pens[len(left):len(left) + len(text)], canvas, font_index, font, stroke)
            return Image.merge("RGB", (bands[0], bands[-1], word)), stroke > 0
        return Image.merge("LA", (bands[0], bands[-1])), stroke > 0

    def _draw(self, chars: str, pens: list[tuple[float, float]], canvas: tuple[int, int], font_index: int,
              font: ImageFont.FreeTypeFont, stroke: int) -> Image.Image:
        """A mask of ``chars``' cached glyphs (with a border of ``stroke`` px) at their pen positions."""
        mask = Image.new("L", canvas, 0)
        for ch, (x, y) in zip(chars, pens):
            glyph, left, top, _ = self._glyph(font_index, font, ch, stroke)
            mask.paste(255, (round(x) + left, round(y) + top), glyph)
        return mask

    def _neighbours(self, rng: np.random.Generator, font_index: int, text: str, size: int) -> tuple[str, str, float]:
        """The last letters of the word before and the first of the word after (1-3 of each; one side
        or both), in the word's case, and the word space between: a crop cut from a line of text
        shows pieces of its neighbours at its edges."""
        font = self.fonts[font_index]
        sides = int(rng.integers(1, 4))  # bit 1: a word before, bit 2: a word after
        pieces = ["", ""]
        for k in (0, 1):
            if sides & (k + 1):
                word, count = self.sampler(rng), int(rng.integers(1, 4))
                word = word.upper() if text.isupper() else word.lower() if text.islower() else word
                word = "".join(ch for ch in word if font.covers(ch))
                pieces[k] = word[-count:] if k == 0 else word[:count]
        return pieces[0], pieces[1], rng.uniform(0.15, 0.45) * size

    def render(self, text: str, rng: np.random.Generator) -> Image.Image:
        c = self.config
        font_index, font = self._font(rng, text)
        vertical = rng.random() < c.p_vertical
        masks, border = self._text_masks(text, font_index, font, rng, vertical)
        if vertical:  # stored as a horizontal line, as a pipeline rotates a tall crop before reading it
            masks = masks.transpose(Image.Transpose.ROTATE_90)
        if rng.random() < c.p_curve:
            bent = effects.curve(np.asarray(masks), rng, rng.uniform(-c.max_curve, c.max_curve) * font.size)
            masks = Image.fromarray(bent, masks.mode)
        if rng.random() < c.p_warp:
            masks = effects.warp(masks, rng, c.max_rotation, c.perspective)
        masks = self._crop(masks, rng, font.size)
        scale = c.height / masks.height
        masks = masks.resize((max(1, round(masks.width * scale)), c.height), Image.BILINEAR)
        return self._degrade(self._colour(masks, border, rng, font.size * scale), rng)

    def _crop(self, masks: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
        """Cut around the word's inked box (the last band) plus a margin: MJSynth's crops are tight, not
        exact; a detector's boxes (``p_margin``) run from a little inside the word to loose, each side
        its own."""
        box = masks.getchannel(masks.getbands()[-1]).getbbox()
        if box is None:
            return masks
        left, top, right, bottom = box
        if _chance(rng, self.config.p_margin):
            ml, mt, mr, mb = np.rint(rng.uniform(*self.config.margin, 4) * (bottom - top)).astype(int)
            return masks.crop((left - ml, top - mt, right + mr, bottom + mb))
        my = rng.integers(0, max(1, size // 5), 2)
        mx = rng.integers(0, max(1, size // 3), 2)
        return masks.crop((left - mx[0], top - my[0], right + mx[1], bottom + my[1]))  # zeros past the edge

    def _colour(self, masks: Image.Image, border: bool, rng: np.random.Generator, size: float) -> Image.Image:
        """Background, shadow, border and text colours. ``size``: the font size in these pixels."""
        c = self.config
        w, h = masks.size
        fill, outline = masks.split()[:2]
        bg_colour, fg_colour = pick_colours(rng, c.min_contrast)
        contrast = abs(_luma(fg_colour) - _luma(bg_colour))
        # the pattern moves a pixel by at most amplitude / 2, so local contrast stays >= 60% of it
        amplitude = rng.uniform(0.2, 0.8) * contrast
        if _chance(rng, c.p_photo) and self.photos is not None:
            image = photo_background(rng, h, w, bg_colour, amplitude, self.photos)
        else:
            image, _ = background(rng, h, w, bg_colour, amplitude, self.pool)
        if rng.random() < c.p_shadow:
            dx, dy = rng.integers(-int(size) // 10 - 1, int(size) // 10 + 2, 2)
            strength = rng.uniform(0.3, 0.8)
            shadow = Image.new("L", (w, h), 0)
            shadow.paste(outline.point(lambda v: int(v * strength)), (int(dx), int(dy)))
            # painted signs and raised letters cast shadows of any colour; MJSynth's are black or white
            colour = random_colour(rng) if _chance(rng, c.p_colour_shadow) else \
                np.where(_luma(fg_colour) > 127.5, 0.0, 255.0).repeat(3)
            image = _paint(image, colour, shadow)
        if border:  # a second colour around the glyphs
            image = _paint(image, random_colour(rng), outline)
        return _paint(image, fg_colour, fill)

    def _degrade(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        """What light and the camera do to the word: uneven light, defocus and motion blur, capture at
        a low resolution, sensor noise."""
        c = self.config
        if _chance(rng, c.p_light):
            image = effects.uneven_light(image, rng, rng.uniform(0.15, c.max_light))
        if rng.random() < c.p_blur:
            image = effects.blur(image, rng.uniform(0, c.max_blur))
        if _chance(rng, c.p_motion):
            image = effects.motion_blur(image, rng, rng.uniform(1.5, 4))
        if _chance(rng, c.p_lowres):
            rows = int(rng.integers(*c.lowres_rows, endpoint=True))
            image = effects.low_resolution(image, rng, rows, int(rng.integers(*c.jpeg_quality, endpoint=True)))
        if rng.random() < c.p_noise:
            image = Image.fromarray(effects.add_noise(np.asarray(image), rng, rng.uniform(0, c.max_noise)))
        return image


def _paint(image: Image.Image, colour: np.ndarray, mask: Image.Image) -> Image.Image:
    """``colour`` over ``image`` (in place) with ``mask`` as its opacity."""
    image.paste(tuple(int(v) for v in colour), (0, 0), mask)
    return image
