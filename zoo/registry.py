"""The model registry: ``@register_model`` entry points, per-model configs, and lookup.

Like timm, every model is a function decorated with ``@register_model(config)``; the function
builds the *backbone* and the registry composes it with the shared head into a ``Recognizer``.
Our own registry (not timm's) keeps ``list_models`` to recognisers only: timm's global registry
would list its 1,000+ image classifiers beside them.
"""
from __future__ import annotations

import difflib
import fnmatch
import inspect
from dataclasses import dataclass, field, replace
from typing import Any, Callable

ALPHANUMERIC_36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ModelConfig:
    """The contract between a model and everything that feeds or reads it.

    Input: ``height`` x width images with ``in_chans`` channels, scaled to [0, 1] then normalised
    with ``mean``/``std`` (0.5/0.5 is CRNN's (x - 128) / 128). ``width_policy`` "fixed" resizes every
    image to ``width``; "keep_ratio" keeps the aspect ratio with ``width`` as the minimum.
    Output: one frame per ``horizontal_stride`` pixels of width; class ``blank_index`` is the CTC
    blank, classes 1..n are ``charset`` in order; labels are compared after ``case`` folding.
    """
    name: str = ""
    paper: str = ""
    citation: str = ""
    height: int = 32
    width: int = 100
    width_policy: str = "fixed"
    in_chans: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    horizontal_stride: int = 4
    blank_index: int = 0
    charset: str = ALPHANUMERIC_36
    case: str = "fold-lower"
    head: str = "bilstm"
    hidden_size: int = 256
    reported: dict[str, dict[str, float]] = field(default_factory=dict)
    reported_source: str = ""
    notes: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.charset) + 1

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class _Entry:
    build_backbone: Callable[..., Any]
    config: ModelConfig

    def backbone_options(self) -> dict[str, Any]:
        params = inspect.signature(self.build_backbone).parameters
        return {k: p.default for k, p in params.items()}


_REGISTRY: dict[str, _Entry] = {}
HEAD_OPTIONS = ("head", "hidden_size")


def register_model(config: ModelConfig) -> Callable:
    """Decorator: register a backbone builder under its function name with ``config``.

    The builder's keyword arguments and their defaults are the model's options (the paper's
    released configuration); ``create_model`` accepts them as overrides.
    """
    def decorate(fn: Callable) -> Callable:
        if fn.__name__ in _REGISTRY:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        _REGISTRY[fn.__name__] = _Entry(fn, replace(config, name=fn.__name__))
        return fn
    return decorate


def _ensure_models_imported() -> None:
    import zoo.models  # noqa: F401  (registers the built-in models)


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (e.g. ``"*rcnn*"``), sorted;
    ``pretrained``: only those with shipped weights in registry/."""
    from zoo.checkpoint import REGISTRY_DIR

    _ensure_models_imported()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)
                  and (not pretrained or (REGISTRY_DIR / f"{n}.safetensors").is_file()))


def _shipped(name: str, num_classes: int | None, overrides: dict):
    """The shipped weights of ``name``; they fix the architecture, so options cannot change it."""
    from zoo.checkpoint import load_model

    _entry(name)  # an unknown name fails with the registry's message
    if num_classes is not None or overrides:
        raise TypeError(f"pretrained {name!r} is the shipped model (registry/{name}.yaml) and its options are fixed; "
                        f"for other options or another charset start from its weights: "
                        f"zoo train RECIPE --init-from {name}")
    return load_model(name)  # which says so when nothing is shipped for ``name``


def _entry(name: str) -> _Entry:
    _ensure_models_imported()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=4, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Registered models: {', '.join(sorted(_REGISTRY))} "
                       f"(`zoo models` lists them).")
    return _REGISTRY[name]


def get_config(name: str) -> ModelConfig:
    """The registered config of ``name`` with its default options filled in."""
    entry = _entry(name)
    return replace(entry.config, options={**entry.backbone_options(), **_head_options(entry.config)})


def _head_options(config: ModelConfig) -> dict[str, Any]:
    return {k: getattr(config, k) for k in HEAD_OPTIONS}


def create_model(name: str, num_classes: int | None = None, pretrained: bool = False, **overrides: Any):
    """Build the registered model ``name``: its backbone, composed with the shared head.

    ``num_classes`` defaults to the charset size + 1 (blank). ``overrides`` are the model's options
    (see ``get_config(name).options``), e.g. ``iterations=3, share_weights=True, hidden_size=256,
    head="linear", in_chans=3``. ``pretrained``: the weights shipped in registry/ (``list_models(
    pretrained=True)``), in eval mode, with the options they were trained with.

    >>> model = create_model("grcnn", num_classes=37)       # the released GRCNN
    >>> model(torch.zeros(2, 1, 32, 100)).shape             # (batch, frames, classes)
    torch.Size([2, 26, 37])
    """
    from zoo.models.recognizer import Recognizer

    if pretrained:
        return _shipped(name, num_classes, overrides)
    entry = _entry(name)
    config = entry.config
    backbone_defaults = entry.backbone_options()
    valid = list(backbone_defaults) + list(HEAD_OPTIONS)
    for key in overrides:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise TypeError(f"model {name!r} has no option {key!r}.{hint} Its options: {', '.join(valid)}.")
    head_kwargs = {**_head_options(config), **{k: overrides.pop(k) for k in HEAD_OPTIONS if k in overrides}}
    backbone_kwargs = {**backbone_defaults, **overrides}
    backbone = entry.build_backbone(**backbone_kwargs)
    in_chans = backbone_kwargs.get("in_chans", config.in_chans)
    resolved = replace(config, **head_kwargs, in_chans=in_chans, mean=config.mean[:1] * in_chans,
                       std=config.std[:1] * in_chans, options={**backbone_kwargs, **head_kwargs})
    return Recognizer(backbone, num_classes=num_classes or config.num_classes, config=resolved)
