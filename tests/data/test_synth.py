import json
import os
import signal
import string
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from zoo.data.charset import Charset
from zoo.data.dataset import CtcCollate, LmdbDataset
from zoo.data.lmdb import LmdbReader
from zoo.data.synth import synthesize, usable_fonts
from zoo.data.synth.effects import perspective_coefficients
from zoo.data.synth.fonts import font_warning
from zoo.data.synth.render import RenderConfig, Renderer, pick_colours
from zoo.data.synth.words import WordSampler
from zoo.data.transforms import Preprocess
from zoo.data.vocabulary import english_words


@pytest.fixture(scope="module")
def alnum_fonts():
    return usable_fonts(Charset.named("alnum36"))


def test_renderer_is_deterministic_per_seed_and_worker_count(tmp_path):
    one = synthesize(40, tmp_path / "w1.lmdb", seed=7, workers=1)
    synthesize(40, tmp_path / "w2.lmdb", seed=7, workers=2)
    synthesize(40, tmp_path / "s8.lmdb", seed=8, workers=1)
    a, b, c = (LmdbReader(tmp_path / f"{n}.lmdb") for n in ("w1", "w2", "s8"))
    assert len(a) == len(b) == 40
    assert a.labels() == b.labels()
    assert all(a.image_bytes(i) == b.image_bytes(i) for i in range(1, 41))
    assert a.labels() != c.labels()
    manifest = json.loads((tmp_path / "w1.lmdb" / "synth.json").read_text())
    assert manifest["seed"] == 7 and manifest["samples"] == 40 and len(manifest["fonts"]) == one.fonts


def test_rendered_set_round_trips_through_the_loader(tmp_path):
    synthesize(24, tmp_path / "r.lmdb", seed=1, workers=1)
    cs = Charset.named("alnum36")
    ds = LmdbDataset(tmp_path / "r.lmdb", Preprocess(), cs, frames=26, label_policy="error")
    assert len(ds) == 24
    batch = CtcCollate(cs)([ds[i] for i in range(24)])
    assert batch.images.shape == (24, 1, 32, 100) and not batch.skipped
    reader = LmdbReader(tmp_path / "r.lmdb")
    assert batch.labels == [label.lower() for label in reader.labels()]
    assert {reader.image(i).height for i in range(1, 25)} == {32}


def test_words_are_dictionary_words_digits_or_random_in_three_cases():
    sampler = WordSampler(Charset.named("alnum36"))
    rng = np.random.default_rng(0)
    texts = [sampler(rng) for _ in range(600)]
    vocabulary = set(english_words())
    words = [t for t in texts if t.lower() in vocabulary]
    assert 0.7 < len(words) / len(texts) < 0.95
    assert any(t.isdigit() for t in texts)
    assert {"lower", "upper", "title"} <= {("lower" if t.islower() else "upper" if t.isupper() else
                                             "title" if t.istitle() else "other") for t in words}
    assert all(Charset.min_frames(t.lower()) <= 26 for t in texts)


def test_fonts_cover_the_charset_and_warn_when_few(alnum_fonts):
    assert all(f.covers(string.ascii_letters + string.digits) for f in alnum_fonts)
    assert font_warning(alnum_fonts[:3]).startswith("only 3 font styles")
    if len(alnum_fonts) >= 30:
        assert font_warning(alnum_fonts) is None
    one_font = Renderer(Charset.named("alnum36"), alnum_fonts[:1], seed=0)  # runs with whatever there is
    assert all(Image.open(__import__("io").BytesIO(one_font(i)[0])).height == 32 for i in range(5))


def test_colours_respect_minimum_contrast():
    rng = np.random.default_rng(0)
    luma = np.array([0.299, 0.587, 0.114])
    for _ in range(200):
        bg, fg = pick_colours(rng, 0.4)
        assert abs((fg - bg) @ luma) >= 0.4 * 255 - 1e-3


def test_perspective_coefficients_map_corners_exactly():
    out_quad = np.array([[0, 0], [120, 5], [118, 40], [3, 36]], float)
    in_quad = np.array([[0, 0], [100, 0], [100, 32], [0, 32]], float)
    a, b, c, d, e, f, g, h = perspective_coefficients(out_quad, in_quad)
    for (x, y), (u, v) in zip(out_quad, in_quad):
        w = g * x + h * y + 1
        assert abs((a * x + b * y + c) / w - u) < 1e-9 and abs((d * x + e * y + f) / w - v) < 1e-9


def test_vertical_text_and_charset_file(alnum_fonts, tmp_path):
    config = RenderConfig(p_vertical=1.0, p_warp=0.0, p_curve=0.0)
    renderer = Renderer(Charset.named("alnum36"), alnum_fonts, seed=3, config=config)
    horizontal = Renderer(Charset.named("alnum36"), alnum_fonts, seed=3, config=RenderConfig(p_warp=0.0, p_curve=0.0))
    text = "abcdefgh"
    v = renderer.render(text, np.random.default_rng(0))
    hz = horizontal.render(text, np.random.default_rng(0))
    assert v.height == hz.height == 32
    # stacked glyphs rotated to a line: one glyph per font size along the width, wider than set text
    assert v.width > hz.width
    digits = Charset("0123456789")
    r = Renderer(digits, alnum_fonts, seed=0)
    data, label = r(5)
    assert label.isdigit() and Image.open(__import__("io").BytesIO(data)).height == 32


def test_an_lmdb_drawn_with_other_fonts_than_this_machine_has_now_is_said_when_reused(tmp_path, capsys):
    from zoo.data.synth import font_set_change
    from zoo.train.recipe import SynthSection
    from zoo.train.data import ensure_lmdb

    alnum = Charset.named("alnum36")
    if len(usable_fonts(alnum)) == len(usable_fonts(alnum, system_fonts=False)):
        pytest.skip("this machine's system fonts add nothing to pip's: `zoo data fonts --install` to run it")
    synthesize(4, tmp_path / "pip.lmdb", seed=1, workers=1, system_fonts=False)  # drawn with pip's fonts only
    assert font_set_change(tmp_path / "pip.lmdb", alnum, system_fonts=False) is None  # the same set: nothing to say
    change = font_set_change(tmp_path / "pip.lmdb", alnum)  # the renderer's default now adds the system's fonts
    recorded = json.loads((tmp_path / "pip.lmdb" / "synth.json").read_text())
    added = len(usable_fonts(alnum)) - len(usable_fonts(alnum, system_fonts=False))
    assert recorded["font_digest"] in change and f"{added} faces added, 0 gone" in change
    before = (tmp_path / "pip.lmdb" / "data.mdb").read_bytes()
    capsys.readouterr()
    assert ensure_lmdb(str(tmp_path / "pip.lmdb"), SynthSection(n=4, seed=1), alnum, "train") == str(tmp_path / "pip.lmdb")
    assert "rendering it again with the same seed here gives other images" in " ".join(capsys.readouterr().err.split())
    assert (tmp_path / "pip.lmdb" / "data.mdb").read_bytes() == before  # used as it was rendered, not redrawn
    assert font_set_change(tmp_path / "nowhere", alnum) is None  # data from elsewhere (no synth.json): nothing known


def test_a_backgrounds_subfolder_named_like_an_image_is_searched_not_opened(tmp_path):
    # before: [Errno 21] Is a directory: '.../x.png'
    from zoo.data.synth.backgrounds import CropPool

    (tmp_path / "x.png").mkdir()
    Image.new("RGB", (64, 32), "green").save(tmp_path / "x.png" / "inside.png")
    Image.new("RGB", (64, 32), "blue").save(tmp_path / "top.jpg")
    assert len(CropPool(0, tmp_path).images) == 2


ANNOUNCES_RENDERING = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell starts its jobs ignoring SIGINT
import zoo.data.synth as synth
render = synth._render
def announced(*args):
    for i, samples in enumerate(render(*args)):
        if i == 1:  # both workers are at work
            print("rendering", file=sys.stderr, flush=True)
        yield samples
synth._render = announced
from zoo.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signal_name, to_group, code", [("SIGINT", True, 130), ("SIGTERM", False, 143)])
def test_a_signal_during_a_synth_with_workers_is_one_line_from_the_parent(tmp_path, signal_name, to_group, code):
    # before: each forked worker printed "Process ForkPoolWorker-N: Traceback ... zoo.cli.Terminated" (SIGTERM:
    # the pool's terminate() reached the CLI's handler they inherited) or KeyboardInterrupt (Ctrl-C: the group)
    out = tmp_path / "sy.lmdb"
    proc = subprocess.Popen([sys.executable, "-c", ANNOUNCES_RENDERING, "data", "synth", "--n", "30000",
                             "--workers", "2", "--out", str(out)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        before = []
        while (line := proc.stderr.readline()) and line.strip() != "rendering":
            before.append(line)
        assert line.strip() == "rendering", before
        stop = getattr(signal, signal_name)
        os.killpg(proc.pid, stop) if to_group else proc.send_signal(stop)  # Ctrl-C reaches the whole group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"interrupted: stopped by {signal_name}" and err.count("interrupted") == 1
    assert not out.exists()
