import re

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data.lmdb import decode_image
from zoo.data.transforms import Augment, Preprocess, UnreadableImage, read_image, to_opaque_8bit


def test_preprocess_normalises_as_documented():
    image = Image.fromarray(np.full((64, 50, 3), 204, np.uint8))
    gray = Preprocess()(image)
    assert gray.shape == (1, 32, 100) and torch.allclose(gray, torch.full_like(gray, (0.8 - 0.5) / 0.5))
    rgb = Preprocess(in_chans=3, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.5))(image)
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([(0.8 - 0.4) / 0.2, (0.8 - 0.5) / 0.25, (0.8 - 0.6) / 0.5]))
    keep = Preprocess(width_policy="keep_ratio", max_width=300)
    assert keep(image).shape == (1, 32, 100)  # 25 px wide at height 32: raised to the minimum width
    assert keep.target_width(640, 64) == 300 and keep.target_width(500, 100) == 160


def test_augment_is_seeded_and_keeps_a_usable_image(word_image):
    image = decode_image(word_image("augment"))
    augment = Augment(p=1.0, p_invert=0.5)
    a = augment(image, np.random.default_rng(11))
    b = augment(image, np.random.default_rng(11))
    c = augment(image, np.random.default_rng(12))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert abs(a.height - 32) <= 12 and abs(a.width - 100) <= 30
    assert Preprocess()(a).shape == (1, 32, 100)
    assert Augment(p=0.0, p_invert=0.0)(image, np.random.default_rng(0)).tobytes() == image.convert("RGB").tobytes()


def test_a_16_bit_png_reads_as_its_8_bit_copy_not_clipped_white(tmp_path, word_image):
    eight = decode_image(word_image("sixteen", fmt="PNG")).convert("L")
    levels = np.asarray(eight).astype(np.uint16) * 257  # the same picture over 0..65535
    Image.fromarray(levels).save(tmp_path / "word16.png")  # a 16-bit grayscale PNG
    sixteen = Image.open(tmp_path / "word16.png")
    assert sixteen.mode in ("I;16", "I")
    for preprocess in (Preprocess(), Preprocess(in_chans=3, mean=(0.5,) * 3, std=(0.5,) * 3)):
        expected = preprocess(eight)
        torch.testing.assert_close(preprocess(sixteen), expected, atol=2 / 255, rtol=0)  # std 0.5: 1/255 of range
        assert expected.std() > 0.1  # a word, not a blank
    as_int = sixteen.convert("I")  # how older PIL opens 16-bit PNGs
    torch.testing.assert_close(Preprocess()(as_int), Preprocess()(eight), atol=2 / 255, rtol=0)
    augmented = Augment(p=0.0, p_invert=0.0)(sixteen, np.random.default_rng(0))
    assert augmented.tobytes() == eight.convert("RGB").tobytes()


def test_mode_i_is_scaled_by_its_range_not_always_as_16_bit(tmp_path, word_image):
    # before: every mode I image was divided by 257, so an 8-bit picture saved as 32-bit integers read black
    eight = decode_image(word_image("int32", fmt="PNG")).convert("L")
    eight.convert("I").save(tmp_path / "int32.tiff")
    as_int = Image.open(tmp_path / "int32.tiff")
    assert as_int.mode == "I"
    assert np.array_equal(np.asarray(to_opaque_8bit(as_int)), np.asarray(eight))
    levels = np.asarray(eight).astype(np.int32)
    wide = to_opaque_8bit(Image.fromarray(levels * 257))  # 0..65535 held as mode I: 16-bit, as PIL opened such PNGs
    assert np.abs(np.asarray(wide, np.int32) - levels).max() <= 1
    signed = to_opaque_8bit(Image.fromarray(levels * 1000 - 100_000))  # another range: stretched from min to max
    assert np.asarray(signed).min() == 0 and np.asarray(signed).max() == 255
    dark16 = to_opaque_8bit(Image.fromarray((levels // 4).astype(np.uint16)))  # I;16 stays 16-bit, however dark
    assert dark16.mode == "L" and np.asarray(dark16).max() <= 1


def test_a_word_drawn_only_in_alpha_is_flattened_onto_a_contrasting_background(tmp_path, word_image):
    # before: convert("L") dropped alpha, and a PNG whose black text lives only in its alpha read blank
    word = np.asarray(decode_image(word_image("alpha", fmt="PNG")).convert("L"))
    ink = 255 - word  # the word's darkness, as opacity
    for colour, background in ((0, 255), (255, 0)):  # black ink onto white, white ink onto black
        rgba = np.dstack([np.full_like(word, colour)] * 3 + [ink])
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"ink{colour}.png")
        flat = np.asarray(to_opaque_8bit(read_image(tmp_path / f"ink{colour}.png")).convert("L"), np.int32)
        assert flat[ink == 0].tolist() == [background] * int((ink == 0).sum())
        assert np.abs(flat - (word if colour == 0 else ink)).max() <= 1  # the word itself, not a blank
        assert Preprocess()(read_image(tmp_path / f"ink{colour}.png")).std() > 0.1
    opaque = Image.fromarray(np.dstack([word] * 3 + [np.full_like(word, 255)]), "RGBA")
    assert to_opaque_8bit(opaque).tobytes() == opaque.convert("RGB").tobytes()  # no transparency: unchanged


def _bomb(tmp_path, monkeypatch):
    """A 100x50 PNG over a PIL pixel limit made small (the test's stand-in for a 20000x20000 one)."""
    Image.new("L", (100, 50), 255).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses more than 2000 pixels
    return tmp_path / "huge.png"


def test_every_image_reader_turns_a_decompression_bomb_into_one_line_naming_the_file_and_its_size(
        tmp_path, monkeypatch):
    # before: PIL's DecompressionBombError (not an OSError) escaped predict, benchmarks, the LMDB writer,
    # verify and viz, as a traceback
    from zoo.data.benchmarks import load_benchmark, preprocess_samples
    from zoo.data.dataset import verify_lmdb
    from zoo.data.lmdb import LmdbWriter, check_image
    from zoo.predict import open_image
    from zoo.viz.inputs import open_image as viz_open_image

    huge = _bomb(tmp_path, monkeypatch)
    size = r"a 100x50 image \(0.005 Mpx\) exceeds PIL's decompression-bomb limit of 0.002 Mpx .*shrink it"
    for read in (read_image, open_image, viz_open_image):
        with pytest.raises(UnreadableImage, match=f"^{re.escape(str(huge))}: {size}"):
            read(huge)
    with pytest.raises(UnreadableImage, match=f"^huge.png: {size}.*; fix or remove it before import$"):
        check_image(huge.read_bytes(), "huge.png")
    (tmp_path / "gt.txt").write_text("huge.png\tword\n", encoding="utf-8")
    with pytest.raises(UnreadableImage, match=rf"gt.txt line 1 \(huge.png\): {size}"):
        preprocess_samples(load_benchmark(tmp_path).samples, Preprocess())
    with LmdbWriter(tmp_path / "bomb.lmdb", validate=False) as writer:
        writer.add(huge.read_bytes(), "word")
    assert verify_lmdb(tmp_path / "bomb.lmdb").counts["undecodable"] == 1


def test_an_exif_orientation_is_applied_by_every_image_reader(tmp_path):
    # before: a photo stored sideways with Orientation=6 was read sideways (20x60, the word vertical)
    from zoo.data.benchmarks import load_benchmark
    from zoo.data.importers import import_dataset
    from zoo.data.lmdb import LmdbReader
    from zoo.predict import open_image
    from zoo.viz.inputs import open_image as viz_open_image

    shown = Image.new("L", (60, 20), 255)
    shown.paste(0, (0, 0, 20, 20))  # black at the left of the picture as shown
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    src = tmp_path / "photos"
    src.mkdir()
    shown.transpose(Image.Transpose.ROTATE_90).save(src / "photo.jpg", exif=exif, quality=95)
    assert Image.open(src / "photo.jpg").size == (20, 60)
    (src / "gt.txt").write_text("photo.jpg\tword\n", encoding="utf-8")
    import_dataset(src, tmp_path / "photos.lmdb")
    readings = [read_image(src / "photo.jpg"), open_image(src / "photo.jpg"), viz_open_image(src / "photo.jpg"),
                load_benchmark(src).samples[0].load(), LmdbReader(tmp_path / "photos.lmdb").image(1)]
    for image in readings:
        pixels = np.asarray(image.convert("L"), np.float64)
        assert image.size == (60, 20) and pixels[:, :18].mean() < 40 and pixels[:, 24:].mean() > 215
