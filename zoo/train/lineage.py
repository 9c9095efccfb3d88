"""A model's lineage: every training segment that made its weights, oldest first.

Long runs on a 2-core machine are stopped more often than they finish, and continue from the last
checkpoint (``--resume``, the same segment) or from shipped weights (``--init-from``, a new segment).
Each checkpoint carries the lineage of the weights it started from plus its own segment, so a model
card can say exactly what a shipped file saw: recipe, data (and its font set), steps, images, commit.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml


def inherited(init_from: str | None) -> list[dict]:
    """The lineage of the weights ``--init-from`` names (a shipped model, a checkpoint or weights)."""
    if not init_from:
        return []
    from zoo.checkpoint import read_checkpoint
    from zoo.factory import shipped_path

    if (card := shipped_path(init_from, ".yaml")) and card.is_file():
        card_data = yaml.safe_load(card.read_text(encoding="utf-8"))
        return card_data.get("lineage") or [_card_segment(card_data)]
    if str(init_from).endswith(".pt"):
        ckpt = read_checkpoint(init_from)
        return ckpt.get("lineage") or [{"weights": str(init_from), "steps": ckpt.get("train", {}).get("state", {})
                                        .get("step")}]
    return [{"weights": str(init_from)}]


def _card_segment(card: dict) -> dict:
    """The one segment a card written before lineages were recorded describes."""
    training = card["training"]
    return {"recipe": training["recipe"], "init_from": None, "steps": training["checkpoint step"],
            "images seen": training["images seen"], "train data": training["data"]["train"],
            "commit": training.get("commit"), "weights": f"registry/{card['file']} ({card['sha256'][:12]})"}


def segment(recipe, init_from: str | None, step: int, commit: str | None) -> dict:
    """This run's segment as it stands at ``step``."""
    return {"recipe": recipe.source, "out": recipe.out, "init_from": init_from, "steps": step,
            "images seen": step * recipe.train.batch_size, "train data": recipe.data.train,
            "font set": font_set(recipe.data.train), "commit": commit}


def font_set(lmdb_path: str) -> str | None:
    """The font-set digest a rendered LMDB's synth.json records (None for data from elsewhere)."""
    manifest = Path(lmdb_path) / "synth.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("font_digest")
