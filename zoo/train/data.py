"""A run's data: the training and validation LMDBs (rendered first when the recipe says how), the
real validation words, and the checks that nothing validated on is trained on."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from zoo.data.charset import Charset
from zoo.data.dataset import CtcCollate, LmdbDataset, frame_table
from zoo.data.transforms import Preprocess
from zoo.report import err_console, note, progress
from zoo.train.distributed import Dist
from zoo.train.recipe import Recipe, RecipeError
from zoo.train.sampler import ResumableSampler
from zoo.train.validation import RealWords, refuse_as_training


def ensure_lmdb(path: str, synth, charset: Charset, key: str) -> str:
    """The LMDB at ``path``; rendered first when it is missing and the recipe says how (``*_synth``).
    A rendered one that exists is used as it is, and said when this machine's fonts would now draw it
    otherwise; one rendered with other settings than ``*_synth`` asks for is refused (a recipe whose
    settings were changed would otherwise train on the old data under the new settings' name)."""
    if Path(path).exists():
        if synth is not None and synth.n > 0:
            from zoo.data.synth import config_change, font_set_change
            from zoo.data.synth.render import render_config

            if differ := config_change(path, render_config(synth.preset, synth.settings)):
                raise RecipeError(f"data.{key}: {path} was rendered with other settings than data.{key}_synth asks "
                                  f"for ({'; '.join(differ)}): point data.{key} at a new path to render those, "
                                  f"or remove {path} to render it again")
            change = font_set_change(path, charset, synth.font_filter, synth.fonts == "all")
            if change:
                note(change)
        return path
    if synth is None or synth.n <= 0:
        raise RecipeError(f"data.{key}: {path!r} does not exist. Render one with `zoo data synth --n 20000 "
                          f"--out {path} --seed 1`, point data.{key} at your LMDB (e.g. MJSynth), or set "
                          f"data.{key}_synth: {{n: N, seed: S}} to render it automatically")
    from zoo.data.synth import synthesize
    from zoo.data.synth.render import render_config

    with progress() as bar:  # the recipe's load checked fonts, preset and settings
        report = synthesize(synth.n, path, seed=synth.seed, workers=2, charset=charset, progress=bar,
                            config=render_config(synth.preset, synth.settings), font_filter=synth.font_filter,
                            preset=synth.preset, system_fonts=synth.fonts == "all")
    err_console.print(f"rendered {report.samples} words into {path} at {report.rate:.0f} img/s "
                  f"({report.font_families} font families)" + (f"; {report.warning}" if report.warning else ""))
    return path


def build_data(recipe: Recipe, model, charset: Charset, d: Dist):
    preprocess = Preprocess.from_config(model.config)
    frames = frame_table(model, preprocess)
    check_validation(recipe)
    if d.main:  # one process renders what is missing; the others wait for it
        ensure_lmdb(recipe.data.train, recipe.data.train_synth, charset, "train")
        if recipe.data.val:
            ensure_lmdb(recipe.data.val, recipe.data.val_synth, charset, "val")
    if d.world > 1:
        dist.barrier()
    train_path = recipe.data.train
    train_set = LmdbDataset(train_path, preprocess, charset, frames, recipe.data.label_policy,
                            augment=_augmenter(recipe), seed=recipe.seed)
    sampler = ResumableSampler(len(train_set), recipe.train.batch_size, recipe.seed, d.rank, d.world)
    loader = DataLoader(train_set, batch_size=recipe.train.batch_size // d.world, sampler=sampler,
                        num_workers=recipe.data.workers, collate_fn=CtcCollate(charset))
    val_loader = None
    if recipe.data.val:
        val_set = LmdbDataset(recipe.data.val, preprocess, charset, frames, "drop")
        if recipe.data.val_samples:
            val_set = torch.utils.data.Subset(val_set, range(min(recipe.data.val_samples, len(val_set))))
        val_loader = DataLoader(val_set, batch_size=64, num_workers=recipe.data.workers,
                                collate_fn=CtcCollate(charset))
    real_val = [RealWords(folder, preprocess, recipe.data.real_val_samples) for folder in recipe.data.real_val] \
        if d.main else []
    if d.main:
        err_console.print(f"train {train_path}: {train_set.label_report.summary()}")
        for words in real_val:
            err_console.print(f"real validation words: {len(words)} from {words.name} (never trained on)")
    return loader, sampler, val_loader, real_val, preprocess, train_set.label_report


def check_validation(recipe: Recipe) -> None:
    """Validation data that exists, is never trained on, and can pick best.pt as the recipe says."""
    data, select_on = recipe.data, recipe.train.select_on
    if select_on not in ("rendered", "real"):
        raise RecipeError(f"train.select_on must be rendered or real, got {select_on!r}")
    if select_on == "real" and not data.real_val:
        raise RecipeError("train.select_on=real needs data.real_val folders (e.g. [../shared/data/dev/svt_train]); "
                          "or set train.select_on=rendered")
    if select_on == "rendered" and not data.val and data.real_val:
        raise RecipeError("train.select_on=rendered needs data.val (held-out rendered words); or set "
                          "train.select_on=real")
    for folder in data.real_val:
        if not (Path(folder) / "gt.txt").is_file():
            raise RecipeError(f"data.real_val: {folder} is not a folder of real words with gt.txt (the shared "
                              f"dev folders are ../shared/data/dev/*); remove it with --set data.real_val=[] "
                              f"train.select_on=rendered")
    refuse_as_training(data.train, data.real_val)


def _augmenter(recipe: Recipe):
    if not recipe.data.augment:
        return None
    from zoo.data.transforms import Augment
    return Augment()
