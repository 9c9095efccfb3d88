"""Building models: by registered name (``create_model``), from shipped weights or a checkpoint
(``load_model``), and the facts ``zoo models`` lists about each.

The layer above ``zoo.models``, ``zoo.checkpoint`` and ``zoo.predict`` (timm's ``_factory`` and
``_builder`` beside its leaf ``_registry``): ``zoo.registry`` only records what the model files
register, this module puts a backbone, the shared head and weights together. Importing it imports
``zoo.models``, and with it every built-in family file, so ``list_models`` and every lookup here see
every built-in model, whatever the caller imported before.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import zoo.models  # noqa: F401  (registers every built-in model: see the module doc)
from zoo import checkpoint
from zoo.checkpoint import (check_finite, checked_spec, header_spec, read_checkpoint, read_safetensors, read_weights,
                            shipped_accuracy, shipped_spec, stored_options, with_stored_config)
from zoo.hints import did_you_mean
from zoo.models.profile import count_parameters, gflops
from zoo.models.recognizer import HEADS, classifier_name
from zoo.predict import Reader
from zoo.registry import HEAD_OPTIONS, OPTION_MINIMUMS, RENAMED_OPTIONS, ModelConfig, entry, registered_names


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (e.g. ``"*rcnn*"``), sorted;
    ``pretrained``: only those with shipped weights in registry/."""
    return [n for n in registered_names(pattern)
            if not pretrained or (checkpoint.REGISTRY_DIR / f"{n}.safetensors").is_file()]


def shipped_models() -> list[str]:
    """Registered names with weights in registry/, GRCNN (the zoo's namesake) first."""
    return sorted(list_models(pretrained=True), key=lambda n: n != "grcnn")


def shipped_path(spec: str | Path, suffix: str = ".safetensors") -> Path | None:
    """The registry file (weights, or ``.yaml`` card) that ``spec`` names when it is a registered model
    name, ``NAME`` or ``NAME@COMMIT`` (``checkpoint.shipped_file``), and no file of that name exists;
    None when ``spec`` is a path or names nothing registered. The file itself may be absent."""
    if Path(spec).exists() or str(spec).partition("@")[0] not in list_models():
        return None
    return checkpoint.shipped_file(str(spec), suffix)


def get_config(name: str) -> ModelConfig:
    """The registered config of ``name`` with its default options filled in."""
    found = entry(name)
    return replace(found.config, options={**found.backbone_options(), **found.head_options()},
                   classifier=classifier_name(found.config.head))


def create_model(name: str, pretrained: bool = False, *, num_classes: int | None = None,
                 checkpoint_path: str | None = None, **overrides: Any) -> Reader:
    """Build the registered model ``name``: its backbone, composed with the shared head (timm's
    signature: ``pretrained`` second, the rest by keyword).

    ``num_classes`` defaults to the charset size + 1 (blank); 0 builds no classifier (the model returns
    features per frame). ``overrides`` are the model's options (see ``get_config(name).options``), e.g.
    ``recurrent_steps=3, share_weights=True, hidden_size=256, head="linear", in_chans=3``.
    ``pretrained``: the weights shipped in registry/ (``list_models(pretrained=True)``), in eval mode,
    with the options they were trained with; with another ``num_classes`` a new classifier on them.
    ``checkpoint_path``: weights from a ``.pt`` checkpoint, a saved state dict or ``.safetensors``.

    >>> model = create_model("grcnn", num_classes=37)       # the released GRCNN
    >>> model(torch.zeros(2, 1, 32, 100)).shape             # (batch, frames, classes)
    torch.Size([2, 26, 37])
    """
    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained is True or False, got {pretrained!r}: the second argument is pretrained, "
                        f"as in timm; pass the class count as num_classes={pretrained!r}")
    if pretrained and checkpoint_path is not None:
        raise TypeError("pretrained=True and checkpoint_path both give the weights: pass one of them")
    if pretrained:
        return _shipped(name, num_classes, overrides)
    if checkpoint_path is not None:
        return _from_checkpoint(name, checkpoint_path, num_classes, overrides)
    return _build(name, num_classes, overrides)


def _shipped(name: str, num_classes: int | None, overrides: dict) -> Reader:
    """The shipped weights of ``name``; they fix the architecture, so options cannot change it. Another
    ``num_classes`` keeps every trained weight but the classifier's, which is new (timm's rule)."""
    entry(name)  # an unknown name fails with the registry's message
    if overrides:
        raise TypeError(f"pretrained {name!r} is the shipped model (registry/{name}.yaml) and its options are fixed "
                        f"(got {', '.join(overrides)}); for other options start from its weights: "
                        f"zoo train RECIPE --init-from {name}")
    model = load_model(name)  # which says so when nothing is shipped for ``name``
    if num_classes is not None and num_classes != model.num_classes:
        model.reset_classifier(num_classes)
    return model


def _from_checkpoint(name: str, path, num_classes: int | None, overrides: dict) -> Reader:
    """``name`` with the weights of ``path``. A zoo checkpoint also says how it was built: its options,
    class count and config are the defaults that ``overrides`` and ``num_classes`` change; another
    ``num_classes`` than the file's keeps all but the classifier, as for ``pretrained``."""
    spec, state = read_weights(path)
    if spec is not None and spec["name"] != name:
        raise ValueError(f"{path}: holds a {spec['name']!r} model, not {name!r}; "
                         f"create_model({spec['name']!r}, checkpoint_path=...) or zoo.factory.load_model(path)")
    classes = num_classes if num_classes is not None else (spec or {}).get("num_classes")
    model = _build(name, classes, {**stored_options(spec or {}), **overrides})
    if spec is not None:
        with_stored_config(model, spec)
    new_classifier = spec is not None and model.num_classes != spec["num_classes"]
    if new_classifier:
        state = {k: v for k, v in state.items() if not k.startswith(model.config.classifier + ".")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a shape differs
        raise ValueError(f"{path}: its weights do not fit {name} with options {model.config.options}: "
                         f"{str(err).splitlines()[-1].strip()}") from None
    missing = [k for k in missing if not (new_classifier and k.startswith(model.config.classifier + "."))]
    if missing or unexpected:
        raise ValueError(f"{path}: its weights do not fit {name} with options {model.config.options}: "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def _build(name: str, num_classes: int | None, overrides: dict[str, Any]) -> Reader:
    """``name`` with fresh weights, its options overridden (each checked against the builder's)."""
    found = entry(name)
    config = found.config
    backbone_defaults = found.backbone_options()
    _check_option_names(name, overrides, list(backbone_defaults) + list(HEAD_OPTIONS))
    overrides = dict(overrides)
    head_kwargs = {**found.head_options(), **{k: overrides.pop(k) for k in HEAD_OPTIONS if k in overrides}}
    backbone_kwargs = {**backbone_defaults, **overrides}
    _check_option_values(name, {**backbone_kwargs, **head_kwargs}, {**backbone_defaults, **found.head_options()})
    backbone = found.build_backbone(**backbone_kwargs)
    in_chans = backbone_kwargs.get("in_chans", config.in_chans)
    resolved = replace(config, **head_kwargs, in_chans=in_chans, mean=config.mean[:1] * in_chans,
                       std=config.std[:1] * in_chans, options={**backbone_kwargs, **head_kwargs})
    return Reader(backbone, num_classes=config.num_classes if num_classes is None else num_classes, config=resolved)


def _check_option_names(name: str, options: dict[str, Any], valid: list[str]) -> None:
    for key in options:
        if key in valid:
            continue
        new_name = RENAMED_OPTIONS.get(key)
        hint = f" It is called {new_name!r} now." if new_name in valid else did_you_mean(key, valid)
        raise TypeError(f"model {name!r} has no option {key!r}.{hint} Its options: {', '.join(valid)}.")


def _check_option_values(name: str, options: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A clear error for a value the layers would fail on deep inside torch: every integer option is a
    size or count (at least 1, or its ``OPTION_MINIMUMS``), a tuple of integers holds counts, the head
    is a known one."""
    if options["head"] not in HEADS:
        raise ValueError(f"model {name!r}: head={options['head']!r} is not a head."
                         f"{did_you_mean(str(options['head']), HEADS)} Heads: {', '.join(HEADS)}.")
    for key, default in defaults.items():
        value, least = options[key], OPTION_MINIMUMS.get(key, 1)
        if _is_int(default) and not (_is_int(value) and value >= least):
            raise ValueError(f"model {name!r}: {key}={value!r} is not allowed; {key} is a size or count, "
                             f"a whole number of at least {least}.")
        if isinstance(default, tuple) and all(map(_is_int, default)) and not (
                isinstance(value, (tuple, list)) and all(_is_int(v) and v >= 1 for v in value)):
            raise ValueError(f"model {name!r}: {key}={value!r} is not allowed; {key} is a list of counts, "
                             f"whole numbers of at least 1 (default {list(default)}).")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def build_from_spec(spec: dict[str, Any]) -> Reader:
    """The model a stored spec (``zoo.checkpoint.model_spec``) describes, with fresh weights."""
    model = create_model(spec["name"], num_classes=spec["num_classes"], **stored_options(spec))
    return with_stored_config(model, spec)


def load_model(spec: str | Path, map_location: str = "cpu", *, untrained: bool = False, seed: int = 0) -> Reader:
    """A model from a checkpoint (``.pt``), shipped weights (``.safetensors``) or a registry name, in
    eval mode: the one rule of every verb that takes a MODEL (eval, predict, viz, export, bench).

    A registry name loads ``registry/<name>.safetensors`` when the zoo ships weights for it, and
    otherwise raises. ``untrained``: the registered ``spec`` built with random weights seeded with
    ``seed`` (what ``--untrained`` asks for: it exercises a pipeline, it reads nothing).
    """
    if untrained:
        if str(spec) not in list_models():
            raise ValueError(f"--untrained builds a registered model by name; {spec!r} is not one (`zoo models`)")
        torch.manual_seed(seed)
        return create_model(str(spec)).eval()
    shipped = shipped_path(spec)
    if shipped and not shipped.exists():
        raise FileNotFoundError(f"no shipped weights for {spec!r}; shipped: {', '.join(shipped_models())} "
                                f"({shipped} is absent); pass a checkpoint path, or train one with `zoo train`")
    path = shipped or Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"{spec}: neither a file nor a registered model name (`zoo models` lists them)")
    if path.suffix != ".safetensors":
        return checkpoint_model(read_checkpoint(path, map_location), path)
    meta, tensors = read_safetensors(path)
    model = _spec_model(header_spec(meta, path), path)
    return load_weights(model, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, path)


def checkpoint_model(ckpt: dict[str, Any], path: str | Path) -> Reader:
    """The model of a checkpoint already read with ``read_checkpoint`` (``path`` names it in errors): for
    callers that also need its recipe, train state or provenance, without reading the file twice."""
    if "model_spec" not in ckpt:
        raise ValueError(f"{path}: not a zoo checkpoint (no model_spec); save it with zoo.checkpoint.save_checkpoint")
    return load_weights(_spec_model(checked_spec(ckpt["model_spec"], path), path), ckpt.get("state_dict"), path)


def _spec_model(spec: dict[str, Any], path: str | Path) -> Reader:
    """``build_from_spec`` for a file's spec: a name or options the registry refuses are named with the file."""
    try:
        return build_from_spec(spec)
    except (KeyError, TypeError, ValueError) as err:
        reason = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        raise ValueError(f"{path}: its model_spec builds no model here ({reason}); the file is damaged or from "
                         f"another version of the zoo: copy it again, or use another checkpoint") from None


def load_weights(model: Reader, state: Any, path: str | Path) -> Reader:
    """``state`` loaded into ``model``, the one its file's spec built, in eval mode. Weights that do not fit
    it (tensors missing or extra, other shapes: a class count other than the spec's) or are not finite
    are one error naming the file and the first tensors, not torch's multi-line one."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: its state_dict is not a mapping of names to tensors; the file is damaged: "
                         f"copy it again, or use another checkpoint (a run's last.pt or best.pt)")
    own = model.state_dict()
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    shapes = [f"{k} is {list(state[k].shape)}, not {list(v.shape)}"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems = [f"{what} {', '.join(items[:3])}{', ...' if len(items) > 3 else ''}" for what, items in
                (("missing", missing), ("unexpected", unexpected), ("shapes differ:", shapes)) if items]
    if any(k.startswith(model.config.classifier + ".") and k in state and state[k].shape != v.shape
           for k, v in own.items()):
        problems.append(f"the classifier is not the size of model_spec's num_classes {model.num_classes}")
    if problems:
        raise ValueError(f"{path}: its weights do not fit the {model.config.name} its model_spec describes "
                         f"({'; '.join(problems)}); the file is damaged or was edited: copy it again, or use "
                         f"another checkpoint (a run's last.pt or best.pt)")
    check_finite(state, path)
    model.load_state_dict(state)
    return model.eval()


def summary(name: str) -> dict:
    """One row of ``zoo models``: ``name`` measured in the configuration whose accuracy the row
    shows: the shipped weights' (registry/<name>.yaml) where the zoo ships them, else the paper's
    released configuration (the registered defaults). The weights themselves are not needed."""
    spec = shipped_spec(name)
    model = build_from_spec(spec) if spec else create_model(name)
    cfg = model.config
    ic03 = cfg.reported.get("IC03-860", {})
    return {
        "model": name, "paper": cfg.paper,
        "measured": "shipped" if spec else "paper",  # which configuration the size columns are of
        "params (M)": round(count_parameters(model) / 1e6, 3),
        "CNN params (M)": round(count_parameters(model.backbone) / 1e6, 3),
        "GFLOPs": round(gflops(model, cfg.height, 100, cfg.in_chans), 3),
        "frames/100px": model.num_frames(100),
        "RF (px)": model.backbone.receptive_field,
        "head": f"{cfg.head}-{cfg.hidden_size}" if cfg.head == "bilstm" else cfg.head,
        "IC03 None": ic03.get("None"), "IC03 50": ic03.get("50"), "IC03 Full": ic03.get("Full"),
        "shipped IC03 None / 50 / Full": shipped_accuracy(name),
    }
