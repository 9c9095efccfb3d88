import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest
import torch

from zoo.cli import main
from zoo.factory import load_model
from zoo.train.recipe import RecipeError, load_recipe
from zoo.train.trainer import Trainer, load_initial_weights, train


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
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert set(ckpt) >= {"model_spec", "state_dict", "train", "recipe", "preprocess", "charset", "provenance"}
    assert set(ckpt["train"]) == {"model", "ema", "optimizer", "scheduler", "rng", "state"}
    assert ckpt["train"]["state"]["step"] == 6 and ckpt["charset"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert ckpt["preprocess"]["width"] == 100 and ckpt["recipe"]["model"]["options"]["recurrent_steps"] == 1
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
    stopped_at = torch.load(killed / "last.pt", weights_only=True)["train"]["state"]["step"]
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
    saved = torch.load(out / "last.pt", weights_only=True)["train"]["state"]["step"]
    assert proc.returncode == 128 + signal.SIGTERM and 3 <= saved < 500  # 143, as a shell reports SIGTERM
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
    source = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["state_dict"]
    trainer = Trainer(load_recipe(tiny_recipe, ["data.charset=alnum62", f"out={tmp_path / 'new'}"]),
                      init_from=str(tmp_path / "run" / "last.pt"))
    assert "classifier (head.1.proj) is re-initialised" in capsys.readouterr().err
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
    ckpt = torch.load(run / "last.pt", weights_only=True)
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


# ------------------------------------------------------------------------------------------------
# Nothing executed from a file, nothing lost (issue #21)


def with_payload(path, payload) -> None:
    """Rewrite the checkpoint at ``path`` with an object that runs code when unpickled."""
    ckpt = torch.load(path, weights_only=True)
    torch.save({**ckpt, "extra": payload}, path)


def test_init_from_and_resume_refuse_a_checkpoint_whose_pickle_runs_code(tiny_recipe, tmp_path, code_payload, capsys):
    payload, marker = code_payload
    train(load_recipe(tiny_recipe, ["train.iterations=2"]))
    last = tmp_path / "run" / "last.pt"
    with_payload(last, payload)
    trainer = Trainer(load_recipe(tiny_recipe, ["train.iterations=2", f"out={tmp_path / 'other'}"]))
    with pytest.raises(ValueError, match=rf"{last}: refused: its pickle asks for .*open"):
        load_initial_weights(trainer.model, str(last))
    capsys.readouterr()
    assert main(["train", str(tiny_recipe), "--set", "train.iterations=2", "--resume"]) == 1
    printed = capsys.readouterr().err
    assert printed.startswith(f"error: {last}: refused") and "never runs code from a file" in printed
    assert not marker.exists()


def test_a_checkpoint_of_the_previous_format_still_resumes_exactly(tiny_recipe, tmp_path):
    """Checkpoints written before this change held numpy's RNG state as an array, skip counts as a
    Counter and torch's version as a TorchVersion; they load (weights_only, with those types allowed)
    and continue as if never stopped. Extending train.iterations on --resume is allowed."""
    torch.set_num_threads(1)
    common = ["data.val=''", "train.checkpoint_every=100"]
    train(load_recipe(tiny_recipe, [*common, f"out={tmp_path / 'reference'}"]))
    resumed = tmp_path / "resumed"
    train(load_recipe(tiny_recipe, [*common, f"out={resumed}", "train.iterations=4"]))
    ckpt = torch.load(resumed / "last.pt", weights_only=True)
    name, keys, *rest = ckpt["train"]["rng"]["numpy"]
    ckpt["train"]["rng"]["numpy"] = (name, np.array(keys, np.uint32), *rest)
    ckpt["train"]["state"]["skipped"] = Counter(ckpt["train"]["state"]["skipped"])
    ckpt["provenance"]["torch"] = torch.__version__
    torch.save(ckpt, resumed / "last.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(resumed / "last.pt", weights_only=True)  # not plain data: the old format indeed
    train(load_recipe(tiny_recipe, [*common, f"out={resumed}"]), resume=True)
    assert losses(resumed) == losses(tmp_path / "reference") and len(losses(resumed)) == 6


def test_resume_with_a_changed_recipe_is_refused_unless_allowed(tiny_recipe, tmp_path, capsys):
    train(load_recipe(tiny_recipe, ["train.iterations=2"]))
    changed = load_recipe(tiny_recipe, ["train.iterations=2", "train.batch_size=16", "model.options.recurrent_steps=2"])
    with pytest.raises(RecipeError, match=r"--resume: the recipe differs .*\(model.options.recurrent_steps: 1 -> 2; "
                                          r"train.batch_size: 8 -> 16\).*--allow-recipe-change"):
        Trainer(changed, resume=True)
    batch = load_recipe(tiny_recipe, ["train.iterations=3", "train.batch_size=16"])
    assert train(batch, resume=True, allow_recipe_change=True)["steps"] == 3
    assert "continues with a changed recipe (train.batch_size: 8 -> 16)" in capsys.readouterr().err
    # before: a resume with no step left exited 0 without a word
    assert train(load_recipe(tiny_recipe, ["train.iterations=2", "train.batch_size=16"]), resume=True,
                 allow_recipe_change=True)["steps"] == 3
    assert "is at step 3 and train.iterations is 2: nothing to train; raise train.iterations" in \
        " ".join(capsys.readouterr().err.split())


def test_training_anew_into_a_run_folder_is_refused(tiny_recipe, tmp_path, capsys):
    train(load_recipe(tiny_recipe, ["train.iterations=2"]))
    run = tmp_path / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["train", str(tiny_recipe)]) == 1
    assert "already holds a run (last.pt, best.pt, log.jsonl); starting anew would replace it: continue it " \
           "with --resume, or choose a new out" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("foreign", ["recipe.yaml", "data.mdb", "notes.txt", "curves.png"])
def test_training_into_a_folder_of_someone_elses_files_is_refused_and_touches_none(tiny_recipe, tmp_path, capsys,
                                                                                   foreign):
    # before: out=d replaced the user's d/recipe.yaml with the resolved one; out=X.lmdb wrote a run into a data set
    out = tmp_path / "mine"
    out.mkdir()
    (out / foreign).write_text("# my own file\n")
    assert main(["train", str(tiny_recipe), "--set", f"out={out}"]) == 1
    assert f"holds files `zoo train` did not write ({foreign})" in " ".join(capsys.readouterr().err.split())
    # refused before the lock is made: no .lock left in the user's folder (nor in an LMDB, which
    # `zoo data import --out` would then refuse as not its own)
    assert (out / foreign).read_text() == "# my own file\n" and [p.name for p in out.iterdir()] == [foreign]


@pytest.mark.parametrize("start", [["--resume"], ["--init-from", "nowhere.pt"], ["--init-from", "crnn_vgg"]])
def test_a_refused_resume_or_init_from_makes_no_out_folder(tiny_recipe, tmp_path, capsys, start):
    # before: out/.lock (and out) were made first; crnn_vgg is refused only once its weights are read
    assert main(["train", str(tiny_recipe), *start]) == 1
    assert {"--resume": "--resume: no checkpoint at", "nowhere.pt": "nowhere.pt: neither a file",
            "crnn_vgg": "--init-from crnn_vgg: a different architecture"}[start[-1]] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("out, problem", [("notes.txt", "is a file, not a folder"),
                                          ("/proc/zoo", "cannot write in /proc")])
def test_an_out_that_cannot_be_a_folder_is_named_as_out(tiny_recipe, tmp_path, capsys, out, problem):
    # before: "[Errno 17] File exists: 'notes.txt'" and "[Errno 2] No such file or directory"
    (tmp_path / "notes.txt").write_text("mine\n")
    out = str(tmp_path / out) if out == "notes.txt" else out
    assert main(["train", str(tiny_recipe), "--set", f"out={out}"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: out: {out}" in err and problem in err and "out must be a folder the zoo can create" in err, err
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_a_run_killed_before_its_first_checkpoint_is_started_again_over_its_own_files(tiny_recipe, tmp_path):
    train(load_recipe(tiny_recipe, ["train.iterations=1"]))
    run = tmp_path / "run"
    for name in ("last.pt", "best.pt", "log.jsonl"):  # what a run killed before its first checkpoint leaves
        (run / name).unlink(missing_ok=True)
    assert (run / "recipe.yaml").read_text().startswith("# the resolved recipe of this run, written by `zoo train`")
    train(load_recipe(tiny_recipe, ["train.iterations=1"]))  # its own recipe.yaml and curves.png are no obstacle
    assert (run / "last.pt").is_file()


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(tiny_recipe, tmp_path, capsys):
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom zoo.fileio import exclusive\n"
                              "with exclusive(sys.argv[1], '`zoo train`'):\n    print('held', flush=True)\n"
                              "    time.sleep(60)\n", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "held"  # what a running `zoo train` holds
        assert main(["train", str(tiny_recipe)]) == 1
    finally:
        first.kill()
        first.wait()
    assert f"run is in use by another `zoo train` (pid {first.pid})" in capsys.readouterr().err
    assert not (out / "log.jsonl").exists()


SLOW_STEPS = """
import sys, time
from zoo.cli import main
from zoo.train.trainer import Trainer
step = Trainer._step
def slow(self, batch):
    print("stepping", file=sys.stderr, flush=True)
    time.sleep(5)  # room for two Ctrl-C in one step
    return step(self, batch)
Trainer._step = slow
sys.exit(main(sys.argv[1:]))
"""


def test_a_second_ctrl_c_stops_at_once_with_one_line_and_exit_code_130(tiny_recipe, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_STEPS, "train", str(tiny_recipe)],
                            env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = []  # the run's status lines (data, validation words) come first, on stderr too
    while (line := proc.stderr.readline()) and line.strip() != "stepping":
        before.append(line)
    assert line.strip() == "stepping", before
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)  # two signals, not one (signals of a kind that arrive together merge)
    proc.send_signal(signal.SIGINT)
    printed, errors = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in printed + errors
    assert "interrupted: stopped at once by a second SIGINT, without saving the step reached" in errors
