"""The training loop: CTC on a ``Recognizer``, full-state checkpoints, exact resume, DDP. Its data
is built by ``zoo.train.data``, its loss by ``zoo.train.loss``, its validation by
``zoo.train.validation``, its processes by ``zoo.train.distributed``, its stops on a signal by
``zoo.train.stopping``; what it writes into ``out`` is ``zoo.train.run_folder``'s layout.

One process or a ``torchrun`` job (DistributedDataParallel; gloo on CPU, NCCL on GPU). Process 0
logs, validates and writes checkpoints. A checkpoint holds everything a run needs to continue
exactly: weights, optimiser, scheduler, EMA, RNG states, the position in the data order, the
resolved recipe, charset and preprocessing.
"""
from __future__ import annotations

import os
import random
import sys
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from zoo import __version__
from zoo.checkpoint import read_checkpoint, save_checkpoint, with_config
from zoo.data.charset import Charset
from zoo.factory import create_model, load_model
from zoo.fileio import exclusive
from zoo.report import console, err_console, git_commit, progress, provenance
from zoo.train import lineage, run_folder
from zoo.train.loss import ctc_training_loss
from zoo.train.recipe import Recipe, RecipeError, recipe_changes, save_recipe
from zoo.train.data import build_data
from zoo.train.distributed import init_distributed
from zoo.train.stopping import Interrupted, stop_requests
from zoo.train.validation import selected_accuracy, validate, validation_summary


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    bad_in_row: int = 0
    bad_total: int = 0
    skipped: Counter = field(default_factory=Counter)
    best_accuracy: float = -1.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(recipe: Recipe, charset: Charset, init_from: str | None = None, source=None):
    """The recipe's model; its config carries the recipe's charset and width policy, the contract every
    checkpoint of the run hands to inference (set the way a loaded file's stored config is).
    ``source``: the model of ``init_from`` when already loaded."""
    model = create_model(recipe.model.name, num_classes=charset.num_classes, **recipe.model.options)
    width_policy = recipe.data.width_policy or model.config.width_policy
    with_config(model, charset=charset.chars, case=charset.case, width_policy=width_policy)
    if init_from:
        load_initial_weights(model, init_from, source)
    return model


def load_initial_weights(model, spec: str, source=None) -> None:
    """Weights only (no optimiser, no step) from a checkpoint, a .safetensors file or a shipped model's
    name (``load_model`` reads all three; ``source``: what it read, when already read). When the charset
    differs the classifier (the last Linear) is re-initialised; any other difference is a different
    architecture, an error."""
    source = load_model(spec) if source is None else source
    state, own = source.state_dict(), model.state_dict()
    if source.config.charset != model.config.charset:
        classifier = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1] + "."
        state = {k: v for k, v in state.items() if not k.startswith(classifier)}
        own = {k: v for k, v in own.items() if not k.startswith(classifier)}
        err_console.print(f"[yellow]--init-from {spec}: its charset differs from the recipe's; the classifier "
                      f"({classifier[:-1]}) is re-initialised[/]")
    differ = sorted(set(state) ^ set(own)) + [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if differ:
        raise ValueError(f"--init-from {spec}: a different architecture ({source.config.name} with "
                         f"{source.config.options}; differs in {', '.join(differ[:3])}); it must be a "
                         f"{model.config.name} with the recipe's model options {model.config.options}")
    model.load_state_dict(state, strict=False)


def build_optimizer(recipe: Recipe, model):
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2

    t = recipe.train
    optimizer = create_optimizer_v2(model, opt=t.optimizer, lr=t.lr, weight_decay=t.weight_decay, **t.optimizer_args)
    if t.scheduler == "none":
        return optimizer, None
    # timm schedulers count "epochs"; here one epoch is one iteration, stepped with step_update().
    scheduler, _ = create_scheduler_v2(
        optimizer, sched=t.scheduler, num_epochs=t.iterations, warmup_epochs=t.warmup_iterations,
        min_lr=t.min_lr, decay_epochs=t.decay_iterations or None, decay_rate=t.decay_rate,
        step_on_epochs=False, updates_per_epoch=1)
    return optimizer, scheduler


class Trainer:
    def __init__(self, recipe: Recipe, resume: bool = False, init_from: str | None = None,
                 allow_recipe_change: bool = False, init_source=None):
        run_folder.check_start(resume, init_from, allow_recipe_change)
        self.recipe, self.d = recipe, init_distributed()
        self.out = Path(recipe.out)
        git_commit()  # the checkout as this run starts is the code it runs: what every checkpoint records
        # checked before any work, so a refusal costs nothing
        resumed = self._read_resume(allow_recipe_change) if resume else None
        if not resume:
            run_folder.refuse_existing_run(self.out)
        seed_everything(recipe.seed)
        self.charset = Charset.resolve(recipe.data.charset)
        # channels_last: the layout oneDNN's (and cuDNN's) convolutions prefer, 1.3-1.5x the training
        # images/s of NCHW on CPU (docs/performance.md); the values, and the saved state dict, are the same
        self.model = build_model(recipe, self.charset, init_from, init_source).to(
            self.d.device, memory_format=torch.channels_last)
        self.loader, self.sampler, self.val_loader, self.real_val, self.preprocess, self.label_report = \
            build_data(recipe, self.model, self.charset, self.d)
        self.optimizer, self.scheduler = build_optimizer(recipe, self.model)
        self.ema = self._build_ema()
        self.state = TrainState()
        self._stream = None  # train_steps' batches, kept from one call to the next
        self.net = self._wrap_distributed()
        # the lineage of the starting weights; a resumed run's own segment is rewritten at each checkpoint
        self.inherited, self.init_from = lineage.inherited(init_from), init_from
        if resumed is not None:
            self._resume(resumed)
        elif self.d.main:
            run_folder.start_log(self.out)
        if self.d.main:
            save_recipe(recipe, self.out / run_folder.RECIPE)

    def _build_ema(self):
        if not self.recipe.train.ema_decay:
            return None
        from timm.utils import ModelEmaV3
        return ModelEmaV3(self.model, decay=self.recipe.train.ema_decay)

    def _wrap_distributed(self):
        if self.d.world == 1:
            return self.model
        if self.d.device.type == "cuda" and self.recipe.train.sync_bn:
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        return torch.nn.parallel.DistributedDataParallel(self.model)

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, name: str) -> None:
        eval_model = self.ema.module if self.ema else self.model
        save_checkpoint(
            self.out / name, eval_model, train={
                "model": self.model.state_dict(), "ema": self.ema.state_dict() if self.ema else None,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": {"torch": torch.get_rng_state(), "numpy": _numpy_rng_state(), "python": random.getstate()},
                "state": {**asdict(self.state), "skipped": dict(self.state.skipped)}},
            recipe=self.recipe.as_dict(), preprocess=self.preprocess.as_dict(), charset=self.charset.chars,
            provenance={**provenance(), "zoo_version": __version__},
            lineage=[*self.inherited, lineage.segment(self.recipe, self.init_from, self.state.step, provenance()["commit"])])

    def _read_resume(self, allow_recipe_change: bool) -> dict:
        """out/last.pt, refused when the recipe differs from the one it was trained with (another batch,
        model or data makes the rest no continuation of that run) unless ``allow_recipe_change``."""
        path = self.out / run_folder.LAST
        if not path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {path}; start without --resume")
        ckpt = read_checkpoint(path)
        if "train" not in ckpt or "recipe" not in ckpt:
            raise ValueError(f"--resume: {path} is not a training checkpoint of `zoo train` (no train state)")
        changes = "; ".join(recipe_changes(ckpt["recipe"], self.recipe.as_dict()))
        if changes and not allow_recipe_change:
            raise RecipeError(f"--resume: the recipe differs from the one {path} was trained with ({changes}), so "
                              f"the rest would not continue that run: undo the change, train anew with a new out, "
                              f"or add --allow-recipe-change to continue anyway")
        if changes and self.d.main:
            print(f"warning: --resume --allow-recipe-change: {path} continues with a changed recipe ({changes}); "
                  f"its losses are no longer those of one uninterrupted run", file=sys.stderr)
        return ckpt

    def _resume(self, ckpt: dict) -> None:
        path = self.out / run_folder.LAST
        train = ckpt["train"]
        if ckpt.get("lineage"):
            self.inherited, self.init_from = ckpt["lineage"][:-1], ckpt["lineage"][-1]["init_from"]
        self.model.load_state_dict(train["model"])
        if self.ema:
            self.ema.load_state_dict(train["ema"])
        self.optimizer.load_state_dict(train["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(train["scheduler"])
        torch.set_rng_state(train["rng"]["torch"])
        np.random.set_state(tuple(train["rng"]["numpy"]))
        random.setstate(train["rng"]["python"])
        self.state = TrainState(**{**train["state"], "skipped": Counter(train["state"]["skipped"])})
        if self.d.main:
            run_folder.truncate_log(self.out / run_folder.LOG, self.state.step)
            err_console.print(f"resumed {path} at step {self.state.step}")
            if self.state.step >= self.recipe.train.iterations:  # a run that is done: say so, not a silent exit 0
                err_console.print(f"note: {path} is at step {self.state.step} and train.iterations is "
                                  f"{self.recipe.train.iterations}: nothing to train; raise train.iterations to continue")

    # -- steps -------------------------------------------------------------------------------
    def _batches(self):
        """Batches forever, epoch after epoch, starting where the state says."""
        while True:
            self.sampler.set_position(self.state.epoch, self.state.batch_in_epoch)
            self.loader.dataset.set_epoch(self.state.epoch)
            for batch in self.loader:
                self.state.batch_in_epoch += 1
                yield batch
            if self.d.main and self.state.skipped:
                err_console.print(f"epoch {self.state.epoch}: samples skipped so far: {dict(self.state.skipped)}")
            self.state.epoch, self.state.batch_in_epoch = self.state.epoch + 1, 0

    def _loss(self, batch) -> torch.Tensor:
        images = batch.images.to(self.d.device, memory_format=torch.channels_last)
        return ctc_training_loss(self.net, images, batch.targets, batch.target_lengths, self.recipe.train.bf16)

    def _step(self, batch) -> float | None:
        """One optimiser step; None when the loss was not finite (skipped and counted)."""
        self.net.train()
        if self.recipe.train.freeze_bn:
            for m in self.net.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        loss = self._loss(batch)
        reported = self._global_mean(loss.detach())
        if not torch.isfinite(reported):  # decided on the global value, so every process skips together
            self.state.bad_in_row += 1
            self.state.bad_total += 1
            if self.state.bad_in_row >= self.recipe.train.max_bad_batches:
                raise FloatingPointError(
                    f"{self.state.bad_in_row} batches in a row had a non-finite CTC loss (step {self.state.step}): "
                    f"lower train.lr, set train.grad_clip, or check the data with `zoo data verify`")
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recipe.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.recipe.train.grad_clip)
        self.optimizer.step()
        self.state.bad_in_row = 0
        if self.ema:
            self.ema.update(self.model, step=self.state.step)
        return reported.item()

    def _global_mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean over processes of each one's batch mean: the loss of the global batch."""
        if self.d.world > 1:
            value = value.clone()
            dist.all_reduce(value)
            value /= self.d.world
        return value

    def _log(self, record: dict) -> None:
        run_folder.append_log(self.out / run_folder.LOG, record)

    def run(self) -> dict:
        t = self.recipe.train
        batches = self._batches()
        images_since, since = 0, time.perf_counter()
        bar = progress() if self.d.main else None
        with bar or nullcontext(), stop_requests() as received:
            task = bar.add_task("train", total=t.iterations, completed=self.state.step, unit="step") if bar else None
            while self.state.step < t.iterations:
                trained, loss = self._next_step(batches)
                if not trained:
                    continue
                images_since += trained * self.d.world
                if self.d.main:
                    rate = images_since / max(time.perf_counter() - since, 1e-9)
                    shown = f"{loss:.3f}" if loss is not None else "skipped (non-finite)"
                    bar.update(task, advance=1, description=f"train loss {shown} | {rate:.0f} img/s")
                    self._periodic(loss, rate)
                    if self.state.step % t.log_every == 0:
                        images_since, since = 0, time.perf_counter()
                if self._stop_agreed(received):
                    self._stop(received)
        return self._finish()

    def _next_step(self, batches) -> tuple[int, float | None]:
        """One pass of ``run``'s loop before its logging: the next batch and, unless every sample of it
        was skipped (0 images), the scheduler's update and one step. (images trained on, loss)"""
        batch = next(batches)
        self.state.skipped.update(batch.skipped)
        if batch.images is None:
            return 0, None
        if self.scheduler:
            self.scheduler.step_update(self.state.step)
        loss = self._step(batch)
        self.state.step += 1
        return len(batch), loss

    def train_steps(self, n: int) -> int:
        """``n`` more steps exactly as ``run`` takes them (the loader's next batches, the scheduler, the
        step, the EMA) without its logging, validation and checkpoints: what `zoo bench --train-recipe`
        times. The batches continue across calls, so the loader's workers live on between them as in a
        run. Returns the images this process trained on."""
        if self._stream is None:
            self._stream = self._batches()
        images, target = 0, self.state.step + n
        while self.state.step < target:
            images += self._next_step(self._stream)[0]
        return images

    def _stop_agreed(self, received: list[str]) -> bool:
        """Whether any process was asked to stop: all of them stop after the same step."""
        flag = torch.tensor(float(bool(received)))
        if self.d.world > 1:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag)

    def _stop(self, received: list[str]) -> None:
        s = self.state
        if self.d.main:
            self._checkpoint(run_folder.LAST)
        raise Interrupted(f"training stopped by {received[0] if received else 'another process'} at step "
                          f"{s.step} of {self.recipe.train.iterations}; {self.out / run_folder.LAST} holds that step: "
                          f"`zoo train RECIPE --resume` continues it (in a study, run `zoo ablate STUDY` again)",
                          received[0] if received else "SIGTERM")

    def _periodic(self, loss: float | None, images_per_s: float) -> None:
        t, s = self.recipe.train, self.state
        if s.step % t.log_every == 0 or s.step == t.iterations:
            self._log({"step": s.step, "epoch": s.epoch, "loss": loss, "lr": self.optimizer.param_groups[0]["lr"],
                       "images_per_s": round(images_per_s, 1), "bad_batches": s.bad_total,
                       "skipped": dict(s.skipped)})
        validates = self.val_loader is not None or self.real_val
        if validates and (s.step % t.val_every == 0 or s.step == t.iterations):
            result = validate(self.ema.module if self.ema else self.model, self.val_loader, self.real_val,
                              self.charset.chars, self.d.device)
            self._log({"step": s.step, **result})
            err_console.print(f"step {s.step}: " + validation_summary(result))
            if selected_accuracy(result, t.select_on) > s.best_accuracy:
                s.best_accuracy = selected_accuracy(result, t.select_on)
                self._checkpoint(run_folder.BEST)
        if s.step % t.checkpoint_every == 0 or s.step == t.iterations:
            self._checkpoint(run_folder.LAST)

    def _finish(self) -> dict:
        summary = {"steps": self.state.step, "best_val_accuracy": self.state.best_accuracy,
                   "bad_batches": self.state.bad_total, "skipped_samples": dict(self.state.skipped),
                   "labels": self.label_report.as_dict(), "out": str(self.out)}
        if self.d.main:
            from zoo.train.curves import plot_curves
            plot_curves(self.out / run_folder.LOG, self.out / run_folder.CURVES, title=self.recipe.model.name)
            console.print(f"done: {summary}")
        if self.d.world > 1:
            dist.destroy_process_group()
        return summary


def _numpy_rng_state() -> list:
    """numpy's global RNG state as plain data (a checkpoint holds no numpy objects, so it loads with
    weights_only=True): ["MT19937", keys, pos, has_gauss, cached_gaussian]."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return [name, keys.tolist(), pos, has_gauss, cached]


def train(recipe: Recipe, resume: bool = False, init_from: str | None = None,
          allow_recipe_change: bool = False) -> dict:
    """Train ``recipe``. Process 0 holds ``out/.lock`` for the whole run, so a second run into the
    same ``out`` is refused rather than interleaving one log and one set of checkpoints. What refuses
    a run (out, --resume, --init-from) is checked before that lock and its folder are made."""
    main_process = int(os.environ.get("RANK", "0")) == 0
    if main_process:
        run_folder.refuse_before_start(Path(recipe.out), resume, init_from, allow_recipe_change)
    source = load_model(init_from) if init_from else None  # read once, here: a bad file is refused before the lock
    with exclusive(recipe.out, "`zoo train`") if main_process else nullcontext():
        return Trainer(recipe, resume, init_from, allow_recipe_change, source).run()
