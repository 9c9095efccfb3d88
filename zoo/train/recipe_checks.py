"""Checks of recipe values against what will use them: timm's optimizers and their arguments, the
trainer's schedulers, the renderer's presets and settings. They run when a recipe loads
(``zoo.train.recipe._build``), so a bad value is named by its key before any data is built, and
each imports its library only when the recipe sets what it checks."""
from __future__ import annotations

from zoo.hints import did_you_mean

SCHEDULERS = ("none", "cosine", "tanh", "step", "plateau", "poly")


def synth_problems(synth: dict, where: str) -> list[str]:
    """A render section's preset, font source and settings checked when the recipe loads, not when the
    LMDB is rendered after the model is built."""
    if not {"preset", "settings", "fonts"} & set(synth):
        return []
    if synth.get("fonts", "all") not in ("all", "pip"):
        return [f"recipe key '{where}.fonts' must be all or pip, got {synth['fonts']!r}"]
    from zoo.data.synth.render import PRESETS, render_config

    preset = synth.get("preset", "baseline")
    if preset not in PRESETS:
        return [f"recipe key '{where}.preset' must be one of {', '.join(PRESETS)}, got {preset!r}."
                f"{did_you_mean(str(preset), PRESETS)}"]
    try:
        render_config(preset, synth.get("settings"))
    except ValueError as err:
        return [f"recipe key '{where}.settings': {err}"]
    return []


def schedule_problems(train: dict) -> list[str]:
    """An optimizer timm does not have or a scheduler the trainer does not step, named at load time
    rather than by timm once the data is built."""
    problems = []
    if "optimizer" in train and train["optimizer"] not in ("adadelta", "adam", "adamw", "sgd"):
        from timm.optim import list_optimizers

        known = list_optimizers()
        if train["optimizer"].lower() not in known:
            problems.append(f"recipe key 'train.optimizer': timm has no optimizer {train['optimizer']!r}."
                            f"{did_you_mean(train['optimizer'], known)} (timm.optim.list_optimizers() lists them)")
    if "scheduler" in train and train["scheduler"] not in SCHEDULERS:
        problems.append(f"recipe key 'train.scheduler' must be one of {', '.join(SCHEDULERS)}, got "
                        f"{train['scheduler']!r}.{did_you_mean(train['scheduler'], SCHEDULERS)}")
    return problems


def optimizer_args_problems(optimizer: str, args: dict) -> list[str]:
    """``train.optimizer_args`` the optimizer does not take, or a value it refuses, named by key when the
    recipe loads rather than by the optimizer's constructor once the data is built. Each key is passed
    as the trainer passes it (timm's create_optimizer_v2) to a one-tensor stand-in: microseconds."""
    import inspect

    from timm.optim import create_optimizer_v2, get_optimizer_class

    try:
        opt_class = get_optimizer_class(optimizer.lower().split("_")[-1], bind_defaults=False)
    except (ValueError, KeyError):  # an optimizer timm lacks: schedule_problems names it
        return []
    taken = inspect.signature(opt_class.__init__).parameters
    # what timm's factory takes itself (momentum, layer_decay, ...); model, name, lr and decay are the recipe's
    accepted = [n for n in [*taken, *inspect.signature(create_optimizer_v2).parameters]
                if n not in ("self", "params", "model_or_params", "opt", "lr", "weight_decay", "kwargs")]
    any_name = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken.values())
    problems = []
    for key, value in args.items():
        name = f"train.optimizer_args.{key}"
        if key in ("lr", "weight_decay"):
            problems.append(f"recipe key {name!r}: set train.{key} instead (the trainer passes it)")
        elif key not in accepted and not any_name:
            problems.append(f"recipe key {name!r}: {optimizer} takes no argument {key!r}.{did_you_mean(str(key), accepted)} "
                            f"It takes: {', '.join(dict.fromkeys(accepted))} (another optimizer's arguments "
                            f"inherited from a _base_ are replaced with --set train.optimizer_args={{}})")
        else:
            problems.extend(_refused(optimizer, {key: value}, name))
    return problems or _refused(optimizer, args, "train.optimizer_args")  # together (SGD's nesterov needs momentum)


def _refused(optimizer: str, args: dict, name: str) -> list[str]:
    """The optimizer's own refusal of ``args``, as a problem of the recipe key ``name``."""
    import torch
    from timm.optim import create_optimizer_v2

    try:
        create_optimizer_v2([torch.nn.Parameter(torch.zeros(1))], opt=optimizer, lr=1.0, **args)
    except (ValueError, TypeError, RuntimeError) as err:
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return [f"recipe key {name!r}: {optimizer} refuses {shown} ({err})"]
    return []
