"""Saving and loading models: full training checkpoints (``.pt``) and shipped weights
(``.safetensors``), both self-describing: the registered name, options, class count and config
(charset, preprocessing contract) travel with the weights, so a file alone rebuilds its model.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from zoo.fileio import atomic_path
from zoo.registry import ModelConfig, create_model, list_models

REGISTRY_DIR = Path(__file__).resolve().parent.parent / "registry"


def model_spec(model) -> dict[str, Any]:
    """What rebuilds ``model``: its registered name, options, class count and full config."""
    cfg = model.config
    return {"name": cfg.name, "options": dict(cfg.options), "num_classes": model.num_classes,
            "config": {k: v for k, v in cfg.as_dict().items() if k != "options"}}


def build_from_spec(spec: dict[str, Any]):
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["options"].items()}
    model = create_model(spec["name"], num_classes=spec["num_classes"], **options)
    stored = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.get("config", {}).items()
              if k in ModelConfig.__dataclass_fields__}
    model.config = replace(model.config, **stored)
    return model


def save_checkpoint(path: str | Path, model, **state: Any) -> Path:
    """Atomically write ``{"model_spec", "state_dict", **state}`` (optimiser, step, recipe, ...)."""
    with atomic_path(path) as tmp:
        torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict(), **state}, tmp)
    return Path(path)


def save_weights(path: str | Path, model, dtype: torch.dtype = torch.float16, metadata: dict | None = None) -> Path:
    """Shipped weights: safetensors (fp16 by default) with the model spec in the header."""
    from safetensors.torch import save_file

    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    header = {"model_spec": json.dumps(model_spec(model)), **{k: str(v) for k, v in (metadata or {}).items()}}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def shipped_models() -> list[str]:
    """Registered names with weights in registry/, GRCNN (the zoo's namesake) first."""
    return sorted(list_models(pretrained=True), key=lambda n: n != "grcnn")


def shipped_accuracy(name: str) -> str | None:
    """"None / 50 / Full" IC03-860 word accuracy of the shipped ``name`` as its card records it
    (measured on the shipped file by `zoo ship`), or None when the zoo ships no weights for it."""
    import yaml

    card = REGISTRY_DIR / f"{name}.yaml"
    if not card.is_file():
        return None
    accuracy = yaml.safe_load(card.read_text())["evaluation"]["word accuracy (%)"]
    return " / ".join(f"{accuracy[k]:.2f}" for k in ("None", "50", "Full"))


def load_model(spec: str | Path, map_location: str = "cpu"):
    """A model from a checkpoint (``.pt``), shipped weights (``.safetensors``) or a registry name.

    A registry name loads ``registry/<name>.safetensors`` when the zoo ships weights for it, and
    otherwise raises: use ``zoo.create_model(name)`` for an untrained model.
    """
    path = Path(spec)
    if not path.exists() and str(spec) in list_models():
        path = REGISTRY_DIR / f"{spec}.safetensors"
        if not path.exists():
            raise FileNotFoundError(f"no shipped weights for {spec!r}; shipped: {', '.join(shipped_models())} "
                                    f"({path} is absent); pass a checkpoint path, or train one with `zoo train`")
    if not path.exists():
        raise FileNotFoundError(f"{spec}: neither a file nor a registered model name (`zoo models` lists them)")
    if path.suffix != ".safetensors":
        return checkpoint_model(torch.load(path, map_location=map_location, weights_only=False), path)
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "model_spec" not in meta:
        raise ValueError(f"{path}: safetensors header has no model_spec; save it with zoo.checkpoint.save_weights")
    model = build_from_spec(json.loads(meta["model_spec"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()})
    return model.eval()


def checkpoint_model(ckpt: dict[str, Any], path: str | Path):
    """The model of a checkpoint already read with ``torch.load`` (``path`` names it in errors): for
    callers that also need its recipe, train state or provenance, without reading the file twice."""
    if "model_spec" not in ckpt:
        raise ValueError(f"{path}: not a zoo checkpoint (no model_spec); save it with zoo.checkpoint.save_checkpoint")
    model = build_from_spec(ckpt["model_spec"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
