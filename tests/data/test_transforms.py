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
