"""The model registry: ``@register_model`` entry points, per-model configs, and lookup.

Like timm, every model is a function decorated with ``@register_model(config)``; the function
builds the *backbone* and the registry composes it with the shared head into a ``Recognizer``.
Our own registry (not timm's) keeps ``list_models`` to recognisers only: timm's global registry
would list its 1,000+ image classifiers beside them.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from zoo.hints import did_you_mean

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
    # module names, as timm's pretrained_cfg gives them: the first convolution (whose input channels
    # a change of in_chans adapts) and the classifier (what num_classes replaces); the Recognizer
    # fills in the classifier from its head and checks that first_conv is a convolution
    first_conv: str = "backbone.features.0"
    classifier: str = ""

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
    """The shipped weights of ``name``; they fix the architecture, so options cannot change it. Another
    ``num_classes`` keeps every trained weight but the classifier's, which is new (timm's rule)."""
    from zoo.checkpoint import load_model

    _entry(name)  # an unknown name fails with the registry's message
    if overrides:
        raise TypeError(f"pretrained {name!r} is the shipped model (registry/{name}.yaml) and its options are fixed "
                        f"(got {', '.join(overrides)}); for other options start from its weights: "
                        f"zoo train RECIPE --init-from {name}")
    model = load_model(name)  # which says so when nothing is shipped for ``name``
    if num_classes is not None and num_classes != model.num_classes:
        model.reset_classifier(num_classes)
    return model


def _from_checkpoint(name: str, path, num_classes: int | None, overrides: dict):
    """``name`` with the weights of ``path``. A zoo checkpoint also says how it was built: its options,
    class count and config are the defaults that ``overrides`` and ``num_classes`` change; another
    ``num_classes`` than the file's keeps all but the classifier, as for ``pretrained``."""
    from zoo.checkpoint import read_weights, with_stored_config

    spec, state = read_weights(path)
    if spec is not None and spec["name"] != name:
        raise ValueError(f"{path}: holds a {spec['name']!r} model, not {name!r}; "
                         f"create_model({spec['name']!r}, checkpoint_path=...) or zoo.checkpoint.load_model(path)")
    stored = {k: tuple(v) if isinstance(v, list) else v for k, v in (spec or {}).get("options", {}).items()}
    classes = num_classes if num_classes is not None else (spec or {}).get("num_classes")
    model = _build(name, classes, {**stored, **overrides})
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


def _entry(name: str) -> _Entry:
    _ensure_models_imported()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}.{did_you_mean(name, _REGISTRY, n=4, cutoff=0.4)} Registered models: {', '.join(sorted(_REGISTRY))} "
                       f"(`zoo models` lists them).")
    return _REGISTRY[name]


def get_config(name: str) -> ModelConfig:
    """The registered config of ``name`` with its default options filled in."""
    from zoo.models.recognizer import classifier_name

    entry = _entry(name)
    return replace(entry.config, options={**entry.backbone_options(), **_head_options(entry.config)},
                   classifier=classifier_name(entry.config.head))


def _head_options(config: ModelConfig) -> dict[str, Any]:
    return {k: getattr(config, k) for k in HEAD_OPTIONS}


def create_model(name: str, pretrained: bool = False, *, num_classes: int | None = None,
                 checkpoint_path: str | None = None, **overrides: Any):
    """Build the registered model ``name``: its backbone, composed with the shared head (timm's
    signature: ``pretrained`` second, the rest by keyword).

    ``num_classes`` defaults to the charset size + 1 (blank); 0 builds no classifier (the model returns
    features per frame). ``overrides`` are the model's options (see ``get_config(name).options``), e.g.
    ``iterations=3, share_weights=True, hidden_size=256, head="linear", in_chans=3``.
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


def _build(name: str, num_classes: int | None, overrides: dict[str, Any]):
    """``name`` with fresh weights, its options overridden (each checked against the builder's)."""
    from zoo.models.recognizer import Recognizer

    entry = _entry(name)
    config = entry.config
    backbone_defaults = entry.backbone_options()
    valid = list(backbone_defaults) + list(HEAD_OPTIONS)
    for key in overrides:
        if key not in valid:
            raise TypeError(f"model {name!r} has no option {key!r}.{did_you_mean(key, valid)} Its options: {', '.join(valid)}.")
    overrides = dict(overrides)
    head_kwargs = {**_head_options(config), **{k: overrides.pop(k) for k in HEAD_OPTIONS if k in overrides}}
    backbone_kwargs = {**backbone_defaults, **overrides}
    backbone = entry.build_backbone(**backbone_kwargs)
    in_chans = backbone_kwargs.get("in_chans", config.in_chans)
    resolved = replace(config, **head_kwargs, in_chans=in_chans, mean=config.mean[:1] * in_chans,
                       std=config.std[:1] * in_chans, options={**backbone_kwargs, **head_kwargs})
    return Recognizer(backbone, num_classes=config.num_classes if num_classes is None else num_classes,
                      config=resolved)
