"""The model registry: ``@register_model`` entry points, per-model configs, and name lookup.

Like timm, every model is a function decorated with ``@register_model(config)``; the function
builds the *backbone*, and ``zoo.factory`` composes it with the shared head into a ``Recognizer``.
Our own registry (not timm's) keeps ``list_models`` to recognisers only: timm's global registry
would list its 1,000+ image classifiers beside them.

This module is a leaf (as timm's ``_registry`` is, beside ``_factory`` and ``_builder``): it imports
nothing from the zoo but other leaves, so that every model file can import it to register itself.
It holds what has been registered so far and no more. ``zoo.factory`` imports ``zoo.models``, which
imports every built-in family file, before anything else: its ``list_models``, ``get_config`` and
``create_model`` therefore always see every built-in model, and they are the public lookups.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from zoo.alphabets import ALPHANUMERIC_36
from zoo.hints import did_you_mean


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
class Entry:
    """One registered model: its backbone builder and its config."""
    build_backbone: Callable[..., Any]
    config: ModelConfig

    def backbone_options(self) -> dict[str, Any]:
        params = inspect.signature(self.build_backbone).parameters
        return {k: p.default for k, p in params.items()}

    def head_options(self) -> dict[str, Any]:
        return {k: getattr(self.config, k) for k in HEAD_OPTIONS}


_REGISTRY: dict[str, Entry] = {}
HEAD_OPTIONS = ("head", "hidden_size")
# Options that files written by earlier versions store under another name: old name -> name now.
# Readers of stored configs (zoo.checkpoint) map them; a call that passes an old name is told the new one.
RENAMED_OPTIONS = {"iterations": "recurrent_steps"}  # GRCL/RCL steps; "iterations" also meant train.iterations
# Integer options are sizes and counts, so at least 1, except these: 0 recurrent steps is x(0) alone
# (the first point of the growth-with-T visualisation).
OPTION_MINIMUMS = {"recurrent_steps": 0}


def register_model(config: ModelConfig) -> Callable:
    """Decorator: register a backbone builder under its function name with ``config``.

    The builder's keyword arguments and their defaults are the model's options (the paper's
    released configuration); ``create_model`` accepts them as overrides.
    """
    def decorate(fn: Callable) -> Callable:
        if fn.__name__ in _REGISTRY:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        _REGISTRY[fn.__name__] = Entry(fn, replace(config, name=fn.__name__))
        return fn
    return decorate


def registered_names(pattern: str = "*") -> list[str]:
    """The names registered so far that match a shell-style ``pattern``, sorted (``zoo.factory.list_models``
    is the public listing: it has imported every built-in first)."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def entry(name: str) -> Entry:
    """The registered ``name``; an unknown one is a KeyError naming the close matches and every model."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}.{did_you_mean(name, _REGISTRY, n=4, cutoff=0.4)} Registered models: "
                       f"{', '.join(sorted(_REGISTRY))} (`zoo models` lists them).")
    return _REGISTRY[name]


def renamed(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as a file written by an earlier version stored them, with today's names."""
    return {RENAMED_OPTIONS.get(k, k): v for k, v in options.items()}
