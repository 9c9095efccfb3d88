"""Shipping a trained run into ``registry/``: fp16 safetensors plus a model card (``zoo ship``).

The card's accuracy is measured on the shipped fp16 file itself, after writing it, so what a user
loads by name is exactly what the numbers describe. The card records how the weights were made:
the recipe as resolved at training time, data, steps, seed, the training commit and machine.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from zoo.checkpoint import REGISTRY_DIR, read_checkpoint, save_weights
from zoo.factory import checkpoint_model, load_model
from zoo.fileio import atomic_path
from zoo.models.profile import count_parameters
from zoo.report import provenance
from zoo.train.run_folder import BEST, LAST

MAX_MEGABYTES = 20  # the registry's limit per shipped file


def ship(checkpoint: str | Path, name: str, benchmarks: str = "all", registry: str | Path = REGISTRY_DIR,
         root: str | Path | None = None, protocol: str | None = None) -> dict:
    """Write ``registry/<name>.safetensors`` (fp16) from a training checkpoint, evaluate that file on
    ``benchmarks`` (suite names, ``all`` or paths, as ``zoo eval --benchmark``; each with its
    standard lexicons), and write ``registry/<name>.yaml``. Returns the card."""
    from zoo.data.benchmarks import data_root, resolve_benchmarks
    from zoo.suite import load_suite, run_suite

    loaded = load_suite(resolve_benchmarks(benchmarks, data_root(root), protocol), None)

    checkpoint = Path(checkpoint)
    ckpt = read_checkpoint(checkpoint)
    if "recipe" not in ckpt or "train" not in ckpt:
        raise ValueError(f"{checkpoint}: not a training checkpoint of `zoo train` (no recipe or train state); "
                         f"ship {BEST} or {LAST} from a run directory")
    trained = checkpoint_model(ckpt, checkpoint)
    if trained.config.name != name:  # loaded by name, a grcnn file called rcnn would report GRCNN as RCNN
        raise ValueError(f"--name {name}: {checkpoint} holds a {trained.config.name} model; ship it as "
                         f"--name {trained.config.name}")
    registry = Path(registry)
    weights = save_weights(registry / f"{name}.safetensors", trained)
    megabytes = weights.stat().st_size / 2**20
    if megabytes >= MAX_MEGABYTES:
        weights.unlink()
        raise ValueError(f"{checkpoint}: {megabytes:.1f} MB in fp16, over the registry's {MAX_MEGABYTES} MB limit; "
                         f"train a smaller configuration (e.g. model.options.hidden_size=256)")
    model = load_model(weights)
    results = run_suite({name: model}, loaded)
    recipe, state = ckpt["recipe"], ckpt["train"]["state"]
    card = {
        "name": name,
        "file": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "megabytes": round(megabytes, 2),
        "model": {"registered": model.config.name, "options": dict(model.config.options),
                  "parameters (M)": round(count_parameters(model) / 1e6, 3), "charset": model.config.charset,
                  "input": f"{model.config.height} px high, width {model.config.width} ({model.config.width_policy})"},
        "training": {"recipe": recipe.get("source", ""), "model": recipe["model"], "seed": recipe["seed"],
                     "iterations": recipe["train"]["iterations"], "checkpoint step": state["step"],
                     "images seen": state["step"] * recipe["train"]["batch_size"],
                     "checkpoint": f"{checkpoint.name}: step {state['step']}; best validation accuracy "
                                   f"{state['best_accuracy']:.3f} on {_selected_on(recipe)} (never a benchmark)",
                     "data": recipe["data"], "schedule": recipe["train"],
                     "commit": ckpt.get("provenance", {}).get("commit"),
                     "machine": ckpt.get("provenance", {}).get("machine"),
                     "torch": ckpt.get("provenance", {}).get("torch")},
        # every training segment behind these weights, oldest first (zoo.train.lineage)
        "lineage": ckpt.get("lineage") or [],
        "evaluation": {"suite": benchmarks, "benchmarks": {r.item.title: _measured(r) for r in results},
                       "measured on": "the shipped fp16 file", **{k: v for k, v in provenance().items()
                                                                 if k in ("commit", "created", "torch", "threads")}},
    }
    card = json.loads(json.dumps(card, default=str))  # plain types only (torch's version is a str subclass)
    with atomic_path(registry / f"{name}.yaml") as tmp:
        tmp.write_text(f"# Model card for {name}: how registry/{weights.name} was made and what it measures.\n"
                       + yaml.safe_dump(card, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return card


def _measured(result) -> dict:
    """One benchmark's entry of a card: where, how scored, on how many images, measured and reported."""
    ev = result.evaluation
    return {"path": str(result.item.path), "protocol": ev.protocol.label, "images": ev.counts["evaluated"],
            "word accuracy (%)": {row["lexicon"]: row["accuracy (%)"] for row in ev.rows},
            "paper (%)": {row["lexicon"]: row["paper (%)"] for row in ev.rows}}


def _selected_on(recipe: dict) -> str:
    """What picked the checkpoint, in words: train.select_on of its recipe."""
    if recipe["train"].get("select_on") == "real":
        return "real validation words (mean over " + ", ".join(recipe["data"]["real_val"]) + ")"
    return "held-out rendered words"
