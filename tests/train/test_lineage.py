"""Every checkpoint carries its lineage: the segments behind the weights it started from, then its own."""
import yaml

from zoo.checkpoint import REGISTRY_DIR, read_checkpoint
from zoo.train.lineage import inherited
from zoo.train.recipe import load_recipe
from zoo.train.trainer import Trainer


def test_init_from_adds_a_segment_and_resume_keeps_the_lineage(tiny_recipe, tmp_path):
    first = tmp_path / "first"
    Trainer(load_recipe(tiny_recipe, ["train.iterations=2", f"out={first}"])).run()
    [own] = read_checkpoint(first / "last.pt")["lineage"]
    assert own["init_from"] is None and own["steps"] == 2 and own["images seen"] == 16
    second = tmp_path / "second"
    Trainer(load_recipe(tiny_recipe, ["train.iterations=2", f"out={second}"]), init_from=str(first / "last.pt")).run()
    lineage = read_checkpoint(second / "last.pt")["lineage"]
    assert [s["out"] for s in lineage] == [str(first), str(second)] and lineage[1]["init_from"] == str(first / "last.pt")
    Trainer(load_recipe(tiny_recipe, ["train.iterations=4", f"out={second}"]), resume=True).run()
    resumed = read_checkpoint(second / "last.pt")["lineage"]
    assert len(resumed) == 2 and resumed[1]["steps"] == 4 and resumed[1]["init_from"] == str(first / "last.pt")


def test_a_shipped_model_brings_its_cards_lineage():
    for name in ("grcnn", "rcnn"):
        card = yaml.safe_load((REGISTRY_DIR / f"{name}.yaml").read_text())
        lineage = inherited(name)
        # cards written before lineages describe one segment: the card's own training section
        assert lineage == card.get("lineage", lineage) and lineage[0]["recipe"].startswith("recipes/cpu/")
        assert sum(s["images seen"] for s in lineage) >= 160_000
