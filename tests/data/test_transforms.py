import numpy as np
import torch
from PIL import Image

from zoo.data.lmdb import decode_image
from zoo.data.transforms import Augment, Preprocess


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
