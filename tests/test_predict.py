import csv

import pytest
import torch
from PIL import Image

from zoo.checkpoint import save_weights
from zoo.cli import main
from zoo.data.charset import Charset
from zoo.factory import create_model
from zoo.predict import image_files, read_lexicon, read_words
from zoo.registry import ModelConfig

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
    assert main(["predict", str(tmp_path / "nothing.png"), "--model", str(weights)]) == 1
    assert "nothing.png: no such file or folder" in capsys.readouterr().err


def test_zoo_predict_without_a_model_reads_with_the_shipped_grcnn(images, tmp_path):
    assert main(["predict", str(images), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "predictions.md").read_text().startswith(
        "# grcnn (shipped, card registry/grcnn.yaml), greedy decoding")
    assert len(list(csv.DictReader(open(tmp_path / "predictions.csv")))) == 2


def test_each_character_gets_its_probability_in_the_best_alignment_of_the_reading(images):
    [reading] = read_words(Spells(), [images / "a.jpg"], lexicon=["cot"])
    assert reading.char_probabilities == pytest.approx([0.9, 0.9, 0.9], rel=1e-5)  # c c - a t -
    from zoo.decode.ctc import char_confidences

    log_probs = Spells()(torch.zeros(1))[0]
    cot = char_confidences(log_probs, [CHARSET.index(c) + 1 for c in "cot"])
    assert cot == pytest.approx([0.9, 0.1 / 26, 0.9], rel=1e-5)  # 'o' only where the model saw 'a'
    assert char_confidences(log_probs, [1] * 7) == []  # 7 a's need 13 frames: no alignment in 6


def test_model_read_takes_paths_pil_images_and_arrays(tmp_path):
    import numpy as np
    from PIL import ImageDraw, ImageFont

    image = Image.new("L", (120, 40), 235)
    ImageDraw.Draw(image).text((8, 6), "hello", fill=20, font=ImageFont.load_default(26))
    image.save(tmp_path / "hello.png")
    model = create_model("grcnn", pretrained=True)
    one = model.read(tmp_path / "hello.png")  # one image, one reading
    assert (one.text, one.file, len(one.char_probabilities)) == ("hello", str(tmp_path / "hello.png"), 5)
    assert 0.5 < one.probability <= min(one.char_probabilities) <= 1
    many = model.read([str(tmp_path / "hello.png"), image, np.asarray(image)], lexicon=["hello", "help", "world"])
    assert [r.text for r in many] == ["hello"] * 3 and [r.file for r in many][1:] == ["image 2", "image 3"]
    assert all(r.word == "hello" and r.probability <= r.word_probability <= 1 for r in many)
    assert many[2].char_probabilities == pytest.approx(one.char_probabilities, rel=1e-4)
    with pytest.raises(ValueError, match="image 1: an array is"):
        model.read(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="no classifier"):
        create_model("crnn_vgg", num_classes=0).read(image)


def test_an_unreadable_image_is_named_once(tmp_path, capsys):
    (tmp_path / "words.png").write_text("not a png")
    assert main(["predict", str(tmp_path / "words.png")]) == 1
    error = capsys.readouterr().err
    assert error.count("words.png") == 1 and "not a readable image" in error, error


def test_a_subfolder_named_like_an_image_is_no_image_and_a_lexicon_folder_is_named(images, tmp_path, capsys):
    # before: "sub.png: not a readable image ([Errno 21] Is a directory)"; --lexicon DIR: "[Errno 21] Is a directory"
    (images / "sub.png").mkdir()
    assert [p.name for p in image_files([images])] == ["a.jpg", "b.png"]
    assert main(["predict", str(images / "a.jpg"), "--lexicon", str(images / "sub.png")]) == 1
    assert "sub.png is a folder, not a text file" in " ".join(capsys.readouterr().err.split())


def test_a_decompression_bomb_is_one_line_naming_the_file_and_its_size(tmp_path, monkeypatch, capsys):
    # before: PIL.Image.DecompressionBombError (not an OSError) escaped as a traceback
    Image.new("L", (100, 50), 255).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 20000x20000 image against the real limit
    assert main(["predict", str(tmp_path / "huge.png")]) == 1
    error = capsys.readouterr().err
    assert error.count("huge.png") == 1 and "a 100x50 image (0.005 Mpx) exceeds" in error and "shrink it" in error
    assert "Traceback" not in error and "error: " in error, error
