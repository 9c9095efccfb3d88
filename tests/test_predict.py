import csv

import pytest
import torch
from PIL import Image

from zoo.checkpoint import save_weights
from zoo.cli import main
from zoo.data.charset import Charset
from zoo.predict import image_files, read_lexicon, read_words
from zoo.registry import ModelConfig, create_model

CHARSET = "abcdefghijklmnopqrstuvwxyz"


class Spells(torch.nn.Module):
    """A stand-in model whose frames spell 'cat' (c, c, blank, a, t, blank) with probability 0.9 each."""
    config = ModelConfig(name="spells", width=24, horizontal_stride=4, charset=CHARSET)

    def forward(self, images):
        frames = [CHARSET.index(c) + 1 if c != "-" else 0 for c in "cc-at-"]
        probs = torch.full((len(images), len(frames), len(CHARSET) + 1), 0.1 / len(CHARSET))
        probs[:, range(len(frames)), frames] = 0.9
        return probs.log()


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    for name in ["b.png", "a.jpg"]:
        Image.new("RGB", (60, 20), "white").save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_readings_spell_the_best_path_and_score_lexicon_words_exactly(images, tmp_path):
    files = image_files([images])
    assert [f.name for f in files] == ["a.jpg", "b.png"]  # folders expand to their images, sorted
    readings = read_words(Spells(), files, lexicon=["bat", "cat", "cot"])
    assert [r.text for r in readings] == ["cat", "cat"]
    assert readings[0].probability == pytest.approx(0.9 ** 6, rel=1e-5)  # the best path's probability
    assert readings[0].word == "cat"
    # p(cat) sums every alignment of c-a-t to 6 frames; the best path alone is 0.9^6
    assert 0.9 ** 6 < readings[0].word_probability < 1


def test_bad_inputs_are_all_named(tmp_path, images):
    with pytest.raises(FileNotFoundError, match=r"missing.png: no such file or folder; .*empty: a folder with no images"):
        (tmp_path / "empty").mkdir()
        image_files([tmp_path / "missing.png", images, tmp_path / "empty"])
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Cat\ncaf\u00e9\n\nDOG\n")
    with pytest.raises(ValueError, match=r"1 word\(s\) have characters the model cannot emit .*line 2 'caf\u00e9'"):
        read_lexicon(lexicon, Charset.named("alnum36"))
    lexicon.write_text("Cat\n\nDOG\ncat\n")
    assert read_lexicon(lexicon, Charset.named("alnum36")) == ["cat", "dog"]  # case-folded like the labels
    lexicon.write_text("\n")
    with pytest.raises(ValueError, match="lexicon is empty"):
        read_lexicon(lexicon, Charset.named("alnum36"))


def test_zoo_predict_writes_every_image_with_a_saved_model(images, tmp_path, capsys):
    weights = save_weights(tmp_path / "tiny.safetensors", create_model("crnn_vgg", hidden_size=16).eval())
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("cat\n")
    assert main(["predict", str(images), "--model", str(weights), "--lexicon", str(lexicon),
                 "--out", str(tmp_path / "out")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert [r["file"].rsplit("/", 1)[1] for r in rows] == ["a.jpg", "b.png"]
    assert all(r["lexicon word"] == "cat" and 0 < float(r["probability"]) <= 1 for r in rows)
    assert "a.jpg" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "nothing.png"), "--model", str(weights)]) == 2
    assert "nothing.png: no such file or folder" in capsys.readouterr().out


def test_zoo_predict_without_a_model_reads_with_the_shipped_grcnn(images, tmp_path):
    assert main(["predict", str(images), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "predictions.md").read_text().startswith(
        "# grcnn (shipped, card registry/grcnn.yaml), greedy decoding")
    assert len(list(csv.DictReader(open(tmp_path / "predictions.csv")))) == 2
