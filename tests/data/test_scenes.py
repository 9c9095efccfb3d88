"""The renderer's scene preset (issue #17): each scene feature changes the images when on and leaves
them byte for byte as the baseline's when off; photographic backgrounds come from system packages
only; the sign vocabulary draws the kinds and cases it claims; the preset is deterministic."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.data.charset import Charset
from zoo.data.lmdb import LmdbReader
from zoo.data.synth import effects, synthesize, usable_fonts
from zoo.data.synth.backgrounds import PHOTO_PACKAGES, photo_paths
from zoo.data.synth.render import PRESETS, RenderConfig, Renderer
from zoo.data.synth.words import WordMix, WordSampler
from zoo.data.vocabulary import SIGN_WORDS, frequent_words, name_words

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
ALNUM = Charset.named("alnum36")
# feature: (its settings when on, a change of its other settings that must not matter while it is off)
FEATURES = {
    "p_margin": ({"p_margin": 1.0}, {"margin": (0.3, 0.9)}),
    "p_neighbours": ({"p_neighbours": 1.0}, {}),
    "p_light": ({"p_light": 1.0}, {"max_light": 0.9}),
    "p_motion": ({"p_motion": 1.0}, {}),
    "p_lowres": ({"p_lowres": 1.0}, {"lowres_rows": (4, 6)}),
    "p_colour_shadow": ({"p_colour_shadow": 1.0, "p_shadow": 1.0}, {"p_shadow": 1.0}),
    "p_photo": ({"p_photo": 1.0}, {}),
}


@pytest.fixture(scope="module")
def fonts():
    return usable_fonts(ALNUM)


def _samples(fonts, config: RenderConfig, n: int = 6) -> list[tuple[bytes, str]]:
    renderer = Renderer(ALNUM, fonts, seed=11, config=config)
    return [renderer(i) for i in range(n)]


@pytest.mark.parametrize("feature", FEATURES)
def test_each_feature_changes_images_when_on_and_nothing_when_off(fonts, feature):
    on, off = FEATURES[feature]
    if feature == "p_photo" and not photo_paths():
        pytest.skip(f"no background photographs installed (apt-get install {' '.join(PHOTO_PACKAGES)})")
    base = RenderConfig(**({"p_shadow": 1.0} if feature == "p_colour_shadow" else {}))
    reference = _samples(fonts, base)
    assert _samples(fonts, dataclasses.replace(RenderConfig(), **off)) == reference
    changed = _samples(fonts, dataclasses.replace(RenderConfig(), **on))
    assert all(a != b for a, b in zip(changed, reference)), f"{feature} on left an image as it was"


def test_effects_keep_the_size_and_change_the_pixels():
    rng = np.random.default_rng(0)
    array = (rng.random((32, 90, 3)) * 255).astype(np.uint8)
    array[:, 30:60] = 255  # an edge for the blur to smear
    image = Image.fromarray(array)
    for out in (effects.motion_blur(image, rng, 4.0), effects.uneven_light(image, rng, 0.5),
                effects.low_resolution(image, rng, 12, 80)):
        assert out.size == image.size and out.mode == "RGB"
        assert not np.array_equal(np.asarray(out), array)
    assert effects.low_resolution(image, rng, 40, 80) is image  # no upscaling of a word already large


def test_background_photographs_come_from_system_packages_never_from_shared(fonts, tmp_path):
    patterns = [p for globs in PHOTO_PACKAGES.values() for p in globs]
    assert all(p.startswith("/usr/share/") for p in patterns)
    for path in photo_paths():
        resolved = path.resolve()
        assert not resolved.is_relative_to(SHARED) and resolved.is_relative_to("/usr/share")
    renderer = Renderer(ALNUM, fonts, seed=0, config=RenderConfig.scene())
    assert renderer.photos is None or renderer.photos.paths == photo_paths()
    synthesize(8, tmp_path / "s.lmdb", seed=0, workers=1, preset="scene")
    recorded = json.loads((tmp_path / "s.lmdb" / "synth.json").read_text())["background_photos"]
    assert recorded == [str(p) for p in photo_paths()]
    assert not any(Path(p).resolve().is_relative_to(SHARED) for p in recorded)


def test_sign_vocabulary_draws_the_kinds_and_cases_it_claims():
    sampler = WordSampler(ALNUM, mix=WordMix.signs())
    rng = np.random.default_rng(0)
    texts = [sampler(rng) for _ in range(1000)]
    names, signs = set(name_words()), set(SIGN_WORDS)
    common = set(frequent_words()[0][:3000])
    assert sum(t.isupper() for t in texts) > 300
    assert sum(t.istitle() for t in texts) > 150 and sum(t.islower() for t in texts) > 50
    assert sum(t.isdigit() for t in texts) >= 30
    assert sum(any(c.isdigit() for c in t) and any(c.isalpha() for c in t) for t in texts) >= 20  # A12, 24H
    assert sum(t.title() in names for t in texts) >= 100
    assert sum(t.upper() in signs for t in texts) >= 100
    assert sum(t.lower() in common for t in texts) >= 200
    assert all(not ALNUM.unknown(t) and ALNUM.fits(t, 26) for t in texts)


def test_codes_keep_only_what_the_charset_can_label():
    sampler = WordSampler(Charset.named("printable94"), mix=WordMix(word=0, digits=0, random=0, code=1))
    rng = np.random.default_rng(1)
    printable = {sampler(rng) for _ in range(400)}
    assert any("$" in t for t in printable) and any("." in t for t in printable)
    alnum = WordSampler(ALNUM, mix=WordMix(word=0, digits=0, random=0, code=1))
    assert all(t.isalnum() for t in (alnum(rng) for _ in range(400)))


def test_presets_and_their_defaults():
    assert RenderConfig.preset("baseline") == RenderConfig()
    assert RenderConfig.preset("scene", max_frames=20) == RenderConfig.scene(max_frames=20)
    assert set(PRESETS) == {"baseline", "scene"}
    baseline = RenderConfig()
    assert all(getattr(baseline, f) == 0.0 for f in FEATURES if f.startswith("p_"))
    assert baseline.words == WordMix() and WordMix().word == 0.8  # today's mix stays the baseline's
    with pytest.raises(ValueError, match="unknown renderer preset"):
        RenderConfig.preset("mjsynth")


def test_settings_over_a_preset_switch_one_feature_on_and_name_every_bad_key():
    # the renderer study turns one scene feature on over the baseline: {p_photo: 0.3}, {words: signs}
    from zoo.data.synth.render import render_config

    photo = render_config("baseline", {"p_photo": 0.3, "margin": [0, 0.2], "font_sizes": [20, 24]})
    assert photo == dataclasses.replace(RenderConfig(), p_photo=0.3, margin=(0.0, 0.2), font_sizes=(20, 24))
    assert render_config("baseline", {"words": "signs"}).words == WordMix.signs()
    assert render_config("scene", {"words": {"upper": 1}}).words == dataclasses.replace(WordMix.signs(), upper=1.0)
    assert render_config("scene") == RenderConfig.scene()
    with pytest.raises(ValueError) as err:
        render_config("baseline", {"p_foto": 0.3, "p_light": 2, "margin": [1], "max_frames": 3.5,
                                   "words": "shops", "p_motion": True})
    head, *problems = str(err.value).split("\n  - ")
    assert head == "6 problems in the renderer settings:"
    assert problems[0].startswith("p_foto: no such renderer setting. Did you mean 'p_photo' or 'p_motion'? Settings: ")
    assert problems[1:] == [
        "p_light: a probability within 0..1, got 2",
        "margin: a list of 2 numbers (now [-0.05, 0.4]), got [1]",
        "max_frames: a whole number (now 26), got 3.5",
        "words: 'shops' is not a word mix; choose baseline or signs, or give WordMix shares (word, digits, random, "
        "frequent, name, sign, code, lower, upper, title, max_length)",
        "p_motion: a number (now 0.0), got True"]


def test_scene_preset_is_deterministic_per_seed_and_worker_count(tmp_path):
    one = synthesize(40, tmp_path / "w1.lmdb", seed=7, workers=1, preset="scene")
    synthesize(40, tmp_path / "w2.lmdb", seed=7, workers=2, preset="scene")
    a, b = LmdbReader(tmp_path / "w1.lmdb"), LmdbReader(tmp_path / "w2.lmdb")
    assert a.labels() == b.labels() and len(a) == 40
    assert all(a.image_bytes(i) == b.image_bytes(i) for i in range(1, 41))
    manifest = json.loads((tmp_path / "w1.lmdb" / "synth.json").read_text())
    assert one.preset == manifest["preset"] == "scene"
    assert manifest["config"] == json.loads(json.dumps(dataclasses.asdict(RenderConfig.scene())))
    assert {reader.image(i).height for reader in (a,) for i in range(1, 41)} == {32}


def test_scene_preset_without_photographs_falls_back_and_warns(fonts, tmp_path, monkeypatch):
    import zoo.data.synth as synth
    import zoo.data.synth.render as render

    monkeypatch.setattr(render, "photo_paths", lambda: [])
    monkeypatch.setattr(synth, "photo_paths", lambda: [])
    renderer = Renderer(ALNUM, fonts, seed=0, config=RenderConfig.scene(p_photo=1.0))
    assert renderer.photos is None and all(renderer(i)[1] for i in range(5))
    report = synthesize(4, tmp_path / "n.lmdb", seed=0, workers=1, preset="scene")
    assert "apt-get install mate-backgrounds plasma-workspace-wallpapers" in report.warning
    assert json.loads((tmp_path / "n.lmdb" / "synth.json").read_text())["background_photos"] == []
