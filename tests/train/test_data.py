"""zoo.train.data: the LMDBs a recipe trains on, rendered when missing."""
import pytest

from zoo.data.charset import Charset
from zoo.data.synth import synthesize
from zoo.train.data import ensure_lmdb
from zoo.train.recipe import RecipeError, SynthSection


def test_an_lmdb_rendered_with_other_settings_than_the_recipe_asks_for_is_refused(tmp_path):
    # a variant whose settings were edited while its LMDB path stayed trained on the old images before
    path = tmp_path / "words.lmdb"
    synthesize(6, path, seed=1, workers=0)
    asked = SynthSection(n=6, seed=1, settings={"p_photo": 0.3})
    with pytest.raises(RecipeError, match=r"data.train: .*words.lmdb was rendered with other settings than "
                                          r"data.train_synth asks for \(p_photo: 0.0 -> 0.3\): point data.train "
                                          r"at a new path"):
        ensure_lmdb(str(path), asked, Charset.named("alnum36"), "train")
    assert ensure_lmdb(str(path), SynthSection(n=6, seed=1), Charset.named("alnum36"), "train") == str(path)
    rendered = tmp_path / "photo.lmdb"
    assert ensure_lmdb(str(rendered), asked, Charset.named("alnum36"), "train") == str(rendered)
    assert ensure_lmdb(str(rendered), asked, Charset.named("alnum36"), "train") == str(rendered)  # now it agrees
