import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from zoo.checkpoint import load_model
from zoo.train.recipe import RecipeError, load_recipe
from zoo.train.trainer import Trainer, train


def losses(run_dir) -> list[float]:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


def test_a_run_writes_its_checkpoints_log_curves_and_recipe(tiny_recipe, tmp_path):
    summary = train(load_recipe(tiny_recipe))
    run = tmp_path / "run"
    assert summary["steps"] == 6 and summary["labels"]["kept"] == 96
    assert len(losses(run)) == 6 and all(x > 0 for x in losses(run))
    assert load_recipe(run / "recipe.yaml").train.iterations == 6
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = torch.load(run / "last.pt", weights_only=False)
    assert set(ckpt) >= {"model_spec", "state_dict", "train", "recipe", "preprocess", "charset", "provenance"}
    assert set(ckpt["train"]) == {"model", "ema", "optimizer", "scheduler", "rng", "state"}
    assert ckpt["train"]["state"]["step"] == 6 and ckpt["charset"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert ckpt["preprocess"]["width"] == 100 and ckpt["recipe"]["model"]["options"]["iterations"] == 1
    model = load_model(run / "best.pt")
    assert model.config.options["hidden_size"] == 32 and model(torch.zeros(1, 1, 32, 100)).shape == (1, 26, 37)


def zoo_train(*args: str) -> subprocess.Popen:
    """`zoo train` in a subprocess with one thread: the same thread count in every process, so
    floating-point sums are reduced in the same order and losses can be compared exactly."""
    return subprocess.Popen([sys.executable, "-m", "zoo", "train", *args], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_resume_after_sigkill_repeats_the_uninterrupted_losses(tiny_recipe, tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert zoo_train(str(tiny_recipe), "--set", f"out={reference}").wait() == 0

    proc = zoo_train(str(tiny_recipe), "--set", f"out={killed}")
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (killed / "last.pt").exists() and len(losses(killed)) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = torch.load(killed / "last.pt", weights_only=False)["train"]["state"]["step"]
    assert 2 <= stopped_at < 6, "the run should have been killed mid-way"

    assert zoo_train(str(tiny_recipe), "--set", f"out={killed}", "--resume").wait() == 0
    assert len(losses(killed)) == 6
    torch.testing.assert_close(losses(killed), losses(reference), rtol=1e-6, atol=0)


def test_sigterm_saves_the_step_reached_and_says_how_to_resume(tiny_recipe, tmp_path):
    """A preempted job (SIGTERM) stops after the current step and saves it: nothing is lost back to the
    last periodic checkpoint (here never reached: every 1000 steps)."""
    out = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "train", str(tiny_recipe), "--set", f"out={out}",
                             "--set", "train.iterations=500", "--set", "train.checkpoint_every=1000",
                             "--set", "train.val_every=1000"],
                            env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not ((out / "log.jsonl").exists() and len(losses(out)) >= 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    printed, _ = proc.communicate(timeout=120)
    saved = torch.load(out / "last.pt", weights_only=False)["train"]["state"]["step"]
    assert proc.returncode == 2 and 3 <= saved < 500
    assert saved == len(losses(out))  # the step the log reached is the step saved
    assert f"training stopped by SIGTERM at step {saved} of 500" in " ".join(printed.split())
    assert "--resume" in printed


def test_training_runs_off_the_main_thread_where_no_signal_handler_can_be_installed(tiny_recipe):
    result = {}
    thread = threading.Thread(target=lambda: result.update(train(load_recipe(tiny_recipe, ["train.iterations=2"]))))
    thread.start()
    thread.join()
    assert result["steps"] == 2


def test_init_from_reinitialises_the_classifier_for_a_new_charset(tiny_recipe, tmp_path, capsys):
    train(load_recipe(tiny_recipe, ["train.iterations=2"]))
    source = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["state_dict"]
    trainer = Trainer(load_recipe(tiny_recipe, ["data.charset=alnum62", f"out={tmp_path / 'new'}"]),
                      init_from=str(tmp_path / "run" / "last.pt"))
    assert "classifier (head.1.proj) is re-initialised" in capsys.readouterr().out
    state = trainer.model.state_dict()
    assert state["head.1.proj.weight"].shape == (63, 64)
    assert torch.equal(state["backbone.features.0.weight"], source["backbone.features.0.weight"])


def test_init_from_a_shipped_models_name_and_refusing_another_architecture(tiny_recipe):
    shipped = load_model("grcnn")  # registry/grcnn.safetensors: T=5, BiLSTM-256
    trainer = Trainer(load_recipe(tiny_recipe, ["model.options={hidden_size: 256}"]), init_from="grcnn")
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in shipped.state_dict().items())
    # the tiny recipe's GRCNN (T=1, BiLSTM-32) has other shapes: named, not half-loaded
    with pytest.raises(ValueError, match=r"--init-from grcnn: a different architecture .* differs in"):
        Trainer(load_recipe(tiny_recipe), init_from="grcnn")


def test_non_finite_losses_are_skipped_then_stop_the_run(tiny_recipe, monkeypatch):
    monkeypatch.setattr(Trainer, "_loss", lambda self, batch: torch.tensor(float("nan"), requires_grad=True))
    trainer = Trainer(load_recipe(tiny_recipe, ["train.max_bad_batches=3"]))
    with pytest.raises(FloatingPointError, match="3 batches in a row had a non-finite CTC loss"):
        trainer.run()
    assert trainer.state.bad_total == 3


def test_missing_training_data_is_named_before_any_work(tiny_recipe):
    with pytest.raises(RecipeError, match=r"data.train: '/no/such.lmdb' does not exist. Render one with `zoo data synth"):
        Trainer(load_recipe(tiny_recipe, ["data.train=/no/such.lmdb"]))


def test_two_processes_equal_one_with_the_same_global_batch(tiny_recipe, tmp_path):
    # Frozen BatchNorm: CPU (gloo) has no SyncBatchNorm, so per-process batch statistics would
    # differ from the global batch's; everything else (sharding, gradient averaging) is compared.
    common = ["--set", "train.freeze_bn=true", "--set", "train.iterations=4", "--set", "data.val=''"]
    single = tmp_path / "single"
    train(load_recipe(tiny_recipe, [a for a in common if a != "--set"] + [f"out={single}"]))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "zoo", "train",
                    str(tiny_recipe), *common, "--set", f"out={tmp_path / 'ddp'}"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    torch.testing.assert_close(losses(tmp_path / "ddp"), losses(single), rtol=1e-4, atol=1e-5)


def test_bf16_autocast_with_ema_and_a_cosine_schedule(tiny_recipe, tmp_path):
    recipe = load_recipe(tiny_recipe, ["train.bf16=true", "train.ema_decay=0.9", "train.scheduler=cosine",
                                       "train.warmup_iterations=2", "train.iterations=4", "train.optimizer=adamw",
                                       "train.lr=0.001", "train.optimizer_args={}"])
    summary = train(recipe)
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in records if "lr" in r]
    assert summary["bad_batches"] == 0 and all(x > 0 for x in losses(run))
    assert lrs[0] < lrs[1] and lrs[-1] < max(lrs)  # warm-up, then cosine decay
    ckpt = torch.load(run / "last.pt", weights_only=False)
    assert ckpt["train"]["ema"] is not None
    # the inference weights are the EMA's, not the raw ones
    assert not torch.equal(ckpt["state_dict"]["head.1.proj.weight"], ckpt["train"]["model"]["head.1.proj.weight"])


def test_the_trainer_keeps_convolutions_channels_last_and_saves_a_plain_state_dict(tiny_recipe, tmp_path):
    trainer = Trainer(load_recipe(tiny_recipe, ["train.iterations=2"]))
    # (a 1x1 or single-input-channel kernel is the same bytes in both layouts)
    convs = [m.weight for m in trainer.model.modules()
             if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1 and m.kernel_size != (1, 1)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs)
    trainer.run()
    model = load_model(tmp_path / "run" / "last.pt")  # a plain NCHW model reads the same values
    assert all(w.is_contiguous() for w in model.state_dict().values())
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=0, atol=0, msg=name)
