"""Validation on real words during training: scored like IC15-2077, logged beside the rendered
validation, drawn in the curves, picking best.pt when the recipe says so, and never trained on."""
import json
from dataclasses import dataclass

import pytest
import torch
from PIL import Image

from zoo.alphabets import ALPHANUMERIC_36
from zoo.data.transforms import Preprocess
from zoo.registry import ModelConfig
from zoo.train.recipe import RecipeError, load_recipe
from zoo.train.trainer import Trainer
from zoo.train.validation import RealWords, refuse_as_training

LABELS = ["SHOP", "$4.00", "Center", "exit"]


def real_folder(root, labels=LABELS):
    root.mkdir(parents=True)
    for i, _ in enumerate(labels):
        Image.new("RGB", (50, 20), (40 * i, 90, 200)).save(root / f"word_{i}.png")
    (root / "gt.txt").write_text("".join(f"word_{i}.png\t{w}\n" for i, w in enumerate(labels)))
    return root


@dataclass
class Speller(torch.nn.Module):
    """Reads image i (in the order it is given) as ``words[i]``: a model whose accuracy is known."""
    words: list

    def __post_init__(self):
        super().__init__()
        self.config, self.seen = ModelConfig(name="speller"), 0

    def forward(self, images):
        logits = torch.full((len(images), 26, 37), -10.0)
        logits[..., 0] = 0.0
        for row in range(len(images)):
            for frame, char in zip(range(1, 26, 2), self.words[self.seen + row]):
                logits[row, frame, ALPHANUMERIC_36.index(char) + 1] = 10.0
        self.seen += len(images)
        return logits


def test_real_words_are_scored_case_insensitively_on_letters_and_digits(tmp_path):
    words = RealWords(real_folder(tmp_path / "dev"), Preprocess.from_config(ModelConfig()))
    assert words.truths == ["shop", "400", "center", "exit"]
    assert words.accuracy(Speller(["shop", "400", "centre", "exit"]), torch.device("cpu")) == 0.75
    assert len(RealWords(tmp_path / "dev", Preprocess.from_config(ModelConfig()), limit=2)) == 2


def test_a_real_validation_folder_is_refused_as_training_data(tmp_path):
    dev = real_folder(tmp_path / "dev")
    for train in (dev, dev / "imported.lmdb"):
        with pytest.raises(ValueError, match="validation words are never trained on"):
            refuse_as_training(str(train), [str(dev)])
    refuse_as_training(str(tmp_path / "synth.lmdb"), [str(dev)])  # rendered words elsewhere: fine


def test_training_logs_real_validation_and_picks_best_on_it(tiny_recipe, tmp_path):
    dev = real_folder(tmp_path / "dev")
    recipe = load_recipe(tiny_recipe, [f"data.real_val=[{dev}]", "train.select_on=real", "train.iterations=4",
                                       "train.val_every=2"])
    Trainer(recipe).run()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    validations = [r for r in records if "real_val_accuracy" in r]
    assert [r["step"] for r in validations] == [2, 4]
    assert set(validations[0]["real_val_accuracy"]) == {"dev"} and "val_accuracy" in validations[0]
    assert validations[0]["real_val_mean"] == validations[0]["real_val_accuracy"]["dev"]
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "curves.png").is_file()


def test_validation_settings_that_cannot_work_are_refused(tiny_recipe, tmp_path):
    dev = real_folder(tmp_path / "dev")
    with pytest.raises(RecipeError, match="select_on=real needs data.real_val"):
        Trainer(load_recipe(tiny_recipe, ["train.select_on=real"]))
    with pytest.raises(RecipeError, match="not a folder of real words"):
        Trainer(load_recipe(tiny_recipe, [f"data.real_val=[{tmp_path / 'nowhere'}]"]))
    with pytest.raises(ValueError, match="never trained on"):
        Trainer(load_recipe(tiny_recipe, [f"data.real_val=[{dev}]", f"data.train={dev}"]))
