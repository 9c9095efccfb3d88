"""Fixtures for the data tests: small real images and LMDBs built from them."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from zoo.data.lmdb import LmdbWriter


def make_word_image(text: str, width: int = 100, height: int = 32, fmt: str = "JPEG") -> bytes:
    """A light image with ``text`` in black (real, decodable image bytes)."""
    image = Image.new("RGB", (width, height), (230, 225, 210))
    ImageDraw.Draw(image).text((4, 8), text, fill=(10, 10, 10))
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def word_image():
    """``word_image(text, width=100, height=32, fmt="JPEG") -> bytes``."""
    return make_word_image


@pytest.fixture
def broken_lmdb(tmp_path):
    """Eight samples: 4 good, 1 truncated JPEG, 1 empty label, 1 unknown character, 1 too long.

    Written with validation off for the corrupt one (the writer refuses it otherwise), as a damaged
    download would be."""
    path = tmp_path / "broken.lmdb"
    truncated = make_word_image("cut")[:200]
    samples = [
        (make_word_image("hello"), "hello"),
        (truncated, "truncated"),
        (make_word_image("x"), ""),
        (make_word_image("cafe!"), "café!"),
        (make_word_image("Street"), "Street"),
        (make_word_image("long"), "a" * 20),  # 20 equal letters need 39 frames
        (make_word_image("42"), "42"),
        (make_word_image("book"), "book"),
    ]
    with LmdbWriter(path, validate=False) as writer:
        for image, label in samples:
            writer.add(image, label)
    return path
