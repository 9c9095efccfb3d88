"""Shared fixtures. IC03 is read from ../shared/data/ic03 beside the checkout (evaluation only);
training fixtures render their own words with PIL's built-in font (fast, no font packages)."""
import io
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from zoo.data.lmdb import LmdbWriter

REPO = Path(__file__).resolve().parent.parent
IC03 = REPO.parent / "shared" / "data" / "ic03"


@pytest.fixture
def ic03_dir() -> Path:
    if not (IC03 / "gt.txt").is_file():
        pytest.skip(f"IC03 test set not found at {IC03} (expected ../shared/data/ic03 beside the checkout)")
    return IC03


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts seeded, and leaves torch's thread count as it found it (`zoo bench` sets it)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


WORDS = ["cat", "dog", "tree", "house", "river", "stone", "light", "paper", "green", "seven",
         "12", "404", "zoo", "fish", "cloud", "bird"]


def render(word: str, shade: int) -> bytes:
    image = Image.new("L", (100, 32), 230 - shade)
    ImageDraw.Draw(image).text((6, 8), word, fill=20 + shade, font=ImageFont.load_default(14))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def write_words(path, n: int) -> str:
    with LmdbWriter(path) as writer:
        for i in range(n):
            writer.add(render(WORDS[i % len(WORDS)], (i * 7) % 60), WORDS[i % len(WORDS)])
    return str(path)


@pytest.fixture(scope="session")
def word_lmdbs(tmp_path_factory):
    root = tmp_path_factory.mktemp("words")
    return write_words(root / "train.lmdb", 96), write_words(root / "val.lmdb", 16)


@pytest.fixture
def tiny_recipe(tmp_path, word_lmdbs):
    """A recipe file: a small GRCNN, batch 8, a few steps, checkpoints every 2."""
    train, val = word_lmdbs
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
_base_: {REPO / 'recipes/papers/grcnn.yaml'}
model: {{name: grcnn, options: {{recurrent_steps: 1, hidden_size: 32}}}}
data: {{train: {train}, val: {val}, val_synth: null, workers: 0}}
train: {{iterations: 6, batch_size: 8, log_every: 1, val_every: 3, checkpoint_every: 2}}
out: {tmp_path / 'run'}
""")
    return path


class WritesMarker:
    """An object whose unpickling runs code (it creates ``path``): what a malicious checkpoint carries."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def code_payload(tmp_path):
    """(an object that creates a marker file when unpickled, the marker's path)."""
    marker = tmp_path / "code-ran"
    return WritesMarker(marker), marker

def _randomise_batchnorms(module):
    """Eval mode with non-trivial BN statistics and affine terms, so a BN that is misplaced or
    folded the wrong way changes the numbers."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return module.eval()


@pytest.fixture
def randomised():
    return _randomise_batchnorms
