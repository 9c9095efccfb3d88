"""Saving and reading model files: full training checkpoints (``.pt``) and shipped weights
(``.safetensors``), both self-describing: the registered name, options, class count and config
(charset, preprocessing contract) travel with the weights, so a file alone rebuilds its model
(``zoo.factory.load_model``, which sits above this module and ``zoo.models``: this one only reads
and writes files, and imports no model code).

Options a file stores under a name an earlier version used (``zoo.registry.RENAMED_OPTIONS``) are
read under today's name, in its model spec and in its recipe.

Loading never executes code from a file: ``.pt`` files are read with ``torch.load(weights_only=True)``
(tensors and plain data only) and safetensors hold nothing but tensors and a JSON header. A file that
is damaged, empty or not a checkpoint is a ValueError naming it, what is wrong and what to do.
"""
from __future__ import annotations

import importlib.resources
import json
import os
import pickle
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from zoo.fileio import atomic_path, replaces_files_only
from zoo.registry import ModelConfig, renamed


def weights_dir() -> Path:
    """Where shipped weights and their cards are: ``$ZOO_WEIGHTS`` when set, else the package
    ``zoo.weights``, which pyproject.toml maps onto the checkout's top-level ``registry/`` folder
    (package data in a wheel, the folder itself in an editable install), found by importlib.resources
    the same way in both, whatever the working directory."""
    if os.environ.get("ZOO_WEIGHTS"):
        return Path(os.environ["ZOO_WEIGHTS"]).expanduser()
    try:
        return Path(str(importlib.resources.files("zoo.weights")))
    except ModuleNotFoundError:
        # only a source tree imported from its own folder without any install lacks the mapping
        return Path(__file__).resolve().parent.parent / "registry"


# Resolved once, at import: every lookup of shipped weights in one process sees the same folder.
REGISTRY_DIR = weights_dir()


def _legacy_globals() -> list:
    """What checkpoints written before the zoo stored only plain data need beyond weights_only's own
    allowlist: numpy's RNG state was a numpy array, the provenance's torch version a TorchVersion.
    These rebuild an array, a dtype or a string and nothing else: still no arbitrary code."""
    import numpy as np
    from torch.torch_version import TorchVersion

    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    # numpy 2 renamed numpy.core to numpy._core: a file pickled under numpy 1 names the old module
    return [multiarray._reconstruct, (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            np.ndarray, np.dtype, type(np.dtype(np.uint32)), TorchVersion]


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """The contents of a ``.pt`` checkpoint, read with ``weights_only=True``: a pickle that asks for
    anything but tensors and plain data (code to run) is refused, never executed."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        # torch warns (two lines) about a plain pickle before failing on it: the error below says it all
        with torch.serialization.safe_globals(_legacy_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch words a global outside its allowlist one way, one of a module it blocks (os, posix) another
        wanted = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", str(err))
        if "Weights only load failed" not in str(err) or not wanted:  # damaged or no pickle at all (a text file)
            raise ValueError(_unreadable(path)) from None
        raise ValueError(f"{path}: refused: its pickle asks for {wanted[1]}, "
                         f"not tensors and plain data, and the zoo never runs code from a file; use a checkpoint "
                         f"written by `zoo train` or zoo.checkpoint.save_checkpoint") from None
    except (EOFError, RuntimeError, LookupError, ValueError, TypeError, OSError):
        raise ValueError(_unreadable(path)) from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path}: holds a {type(ckpt).__name__}, not a zoo checkpoint (a dict with model_spec)")
    return _with_current_names(ckpt)


def _with_current_names(ckpt: dict[str, Any]) -> dict[str, Any]:
    """``ckpt`` with today's option names in its model spec and its recipe's model options: a run
    trained before a rename still rebuilds, and resumes under a recipe that uses the new name."""
    if isinstance(ckpt.get("model_spec"), dict):
        ckpt["model_spec"] = current_spec(ckpt["model_spec"])
    model = ckpt["recipe"].get("model") if isinstance(ckpt.get("recipe"), dict) else None
    if isinstance(model, dict) and isinstance(model.get("options"), dict):
        model["options"] = renamed(model["options"])
    return ckpt


def current_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored model spec with today's option names."""
    return {**spec, "options": renamed(spec.get("options", {}))}


def checked_spec(spec: Any, path: str | Path) -> dict[str, Any]:
    """A file's stored model spec with today's option names; one that is not the mapping
    ``model_spec`` writes (a damaged or hand-edited file) is an error naming the file, not a TypeError
    from deep inside the model's builder."""
    if not isinstance(spec, dict):
        problem = f"is a {type(spec).__name__}, not a mapping"
    elif not isinstance(spec.get("name"), str):
        problem = "names no model (no text 'name')"
    elif not isinstance(spec.get("num_classes"), int) or isinstance(spec.get("num_classes"), bool):
        problem = "has no class count (no whole number 'num_classes')"
    elif not all(isinstance(spec.get(key, {}), dict) for key in ("options", "config")):
        problem = "has an 'options' or 'config' that is not a mapping"
    else:
        return current_spec(spec)
    raise ValueError(f"{path}: its model_spec {problem}; the file is damaged or was not written by the zoo: "
                     f"copy it again, or write it with zoo.checkpoint.save_checkpoint")


def check_finite(state: dict[str, Any], path: str | Path) -> None:
    """Refuse weights holding NaN or inf (a run that diverged, a damaged file): such a model reads every
    image as '' with probability nan, and says nothing. One isfinite pass per tensor, once per load."""
    bad = [k for k, v in state.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        kind = "NaN" if bool(torch.isnan(state[bad[0]]).any()) else "inf"
        more = f" (and {len(bad) - 1} more of its {len(state)} tensors are not finite)" if len(bad) > 1 else ""
        raise ValueError(f"{path}: its weights are not finite: {bad[0]} holds {kind}{more}; the run that wrote "
                         f"it diverged or the file is damaged: use an earlier checkpoint, or train again "
                         f"(a lower train.lr)")


def stored_options(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored spec's options as ``create_model`` takes them: today's names, and tuples where JSON and
    YAML give lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in renamed(spec.get("options", {})).items()}


def _unreadable(path: str | Path) -> str:
    size = Path(path).stat().st_size
    what = "is empty" if size == 0 else \
        f"is not a PyTorch checkpoint ({size} bytes: truncated, damaged or another format)"
    return f"{path}: {what}; copy it again, or use another checkpoint (a run's last.pt or best.pt)"


def model_spec(model) -> dict[str, Any]:
    """What rebuilds ``model``: its registered name, options, class count and full config."""
    cfg = model.config
    return {"name": cfg.name, "options": dict(cfg.options), "num_classes": model.num_classes,
            "config": {k: v for k, v in cfg.as_dict().items() if k != "options"}}


def with_config(model, **fields: Any):
    """``model`` with these fields of its ``ModelConfig`` replaced (lists, as JSON and YAML give
    them, become the config's tuples): the one way a built model's config is changed."""
    model.config = replace(model.config, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    return model


def with_stored_config(model, spec: dict[str, Any]):
    """``model`` with the config a file stored (charset, preprocessing, provenance) over the registry's."""
    return with_config(model, **{k: v for k, v in spec.get("config", {}).items() if k in ModelConfig.__dataclass_fields__})


def save_checkpoint(path: str | Path, model, **state: Any) -> Path:
    """Atomically write ``{"model_spec", "state_dict", **state}`` (optimiser, step, recipe, ...)."""
    with atomic_path(path) as tmp:
        torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict(), **state}, tmp)
    return Path(path)


def save_weights(path: str | Path, model, dtype: torch.dtype = torch.float16, metadata: dict | None = None,
                 replaceable: Callable[[Path], None] = replaces_files_only) -> Path:
    """Shipped weights: safetensors (fp16 by default) with the model spec in the header; what may be
    replaced at ``path`` is ``atomic_path``'s ``check_replaceable``, ``replaceable``."""
    from safetensors.torch import save_file

    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    header = {"model_spec": json.dumps(model_spec(model)), **{k: str(v) for k, v in (metadata or {}).items()}}
    with atomic_path(path, replaceable) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def shipped_file(spec: str, suffix: str = ".safetensors") -> Path:
    """The registry file (weights, or ``.yaml`` card) of a shipped model: ``NAME`` is the one shipped now;
    ``NAME@REV`` the one the commit REV shipped (``grcnn@9d30029``), which pins the weights a study or a
    fine-tune started from when NAME is shipped again later: the repository keeps every version. That
    file is copied out of git once into the user cache (``$XDG_CACHE_HOME/grcnn-zoo/pinned``)."""
    name, _, rev = spec.partition("@")
    if not rev:
        return REGISTRY_DIR / f"{name}{suffix}"
    import subprocess

    def git(*args: str) -> bytes:
        done = subprocess.run(["git", "-C", str(REGISTRY_DIR), *args], capture_output=True)
        if done.returncode:
            raise FileNotFoundError(f"{spec}: `git {' '.join(args)}` failed in {REGISTRY_DIR} "
                                    f"({done.stderr.decode(errors='replace').strip() or done.returncode}); NAME@REV reads "
                                    f"a shipped file of an earlier commit from the zoo's git checkout")
        return done.stdout

    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grcnn-zoo" / "pinned"
    path = cache / f"{name}@{commit}{suffix}"
    if not path.is_file():
        folder = git("rev-parse", "--show-prefix").decode().strip()  # registry/ within the checkout
        data = git("show", f"{commit}:{folder}{name}{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
    return path


def shipped_spec(name: str) -> dict[str, Any] | None:
    """The model spec (options, class count, config) of the shipped ``name``, from its file's header;
    None when nothing is shipped for ``name``."""
    path = REGISTRY_DIR / f"{name}.safetensors"
    if not path.is_file():
        return None
    return header_spec(read_safetensors(path)[0], path)


def header_spec(meta: dict[str, str], path: str | Path) -> dict[str, Any]:
    """The model spec in the header ``meta`` of the safetensors file ``path``, with today's option names."""
    if "model_spec" not in meta:
        raise ValueError(f"{path}: safetensors header has no model_spec; save it with zoo.checkpoint.save_weights")
    try:
        spec = json.loads(meta["model_spec"])
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: its model_spec is not JSON ({err.msg}); the file is damaged: copy it again, "
                         f"or write it anew with `zoo export CKPT --format safetensors`") from None
    return checked_spec(spec, path)


def shipped_accuracy(name: str) -> str | None:
    """"None / 50 / Full" IC03-860 word accuracy of the shipped ``name`` as its card records it
    (measured on the shipped file by `zoo ship`), or None when the zoo ships no weights for it."""
    import yaml

    card = REGISTRY_DIR / f"{name}.yaml"
    if not card.is_file():
        return None
    evaluation = yaml.safe_load(card.read_text())["evaluation"]
    # cards since the benchmark suite keep one entry per benchmark; earlier ones measured IC03 alone
    accuracy = evaluation["benchmarks"]["IC03-860"]["word accuracy (%)"] if "benchmarks" in evaluation \
        else evaluation["word accuracy (%)"]
    return " / ".join(f"{accuracy[k]:.2f}" for k in ("None", "50", "Full"))


def read_weights(path: str | Path) -> tuple[dict[str, Any] | None, dict[str, torch.Tensor]]:
    """The model spec (None for a bare state dict) and the fp32 state dict of a ``.pt`` checkpoint, a
    saved ``state_dict()`` or a ``.safetensors`` file: what ``create_model(..., checkpoint_path=)`` loads."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint or weights file")
    if path.suffix == ".safetensors":
        meta, tensors = read_safetensors(path)
        spec = header_spec(meta, path) if "model_spec" in meta else None
        state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
        check_finite(state, path)
        return spec, state
    ckpt = read_checkpoint(path)
    if isinstance(ckpt.get("state_dict"), dict):
        check_finite(ckpt["state_dict"], path)
        return checked_spec(ckpt["model_spec"], path) if "model_spec" in ckpt else None, ckpt["state_dict"]
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        check_finite(ckpt, path)
        return None, ckpt
    raise ValueError(f"{path}: neither a zoo checkpoint (model_spec + state_dict) nor a state dict of tensors")


def read_safetensors(path: str | Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The header metadata and tensors of a ``.safetensors`` file; a damaged one is a ValueError."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as err:
        size = Path(path).stat().st_size
        what = "is empty" if size == 0 else f"is not a readable safetensors file ({size} bytes: truncated or damaged)"
        raise ValueError(f"{path}: {what} [{err}]; copy it again, or write it anew with "
                         f"`zoo export CKPT --format safetensors`") from None
