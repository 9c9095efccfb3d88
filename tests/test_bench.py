"""zoo.bench and `zoo bench`: what is timed, in which order, and what is written (no timing asserts)."""
import functools
import json
import os

import pytest
import torch

from zoo import bench
from zoo.cli import main
from zoo.cli.bench import parse_batches
from zoo.factory import create_model


def test_paths_are_timed_round_robin_after_warmup():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("a", "b", "c")}
    medians = bench.interleaved_medians(calls, repeats=3, warmup=2)
    assert order == ["a", "b", "c"] * 5
    assert medians.keys() == {"a", "b", "c"} and all(v >= 0 for v in medians.values())
    with pytest.raises(ValueError, match="repeats"):
        bench.interleaved_medians(calls, repeats=0)


def test_training_step_is_forward_ctc_backward_and_optimiser_step():
    model = create_model("grcnn_small", hidden_size=32)
    before = model.head[1].proj.weight.detach().clone()
    step = bench.TrainingStep(model, bench.images(2, width=40), model.num_classes)
    loss = step()
    assert model.training and torch.isfinite(torch.tensor(loss)) and loss > 0
    assert step.targets.shape == (2, 5) and (step.targets >= 1).all()  # never the blank
    assert not torch.equal(model.head[1].proj.weight, before)


def test_channels_last_training_step_gives_the_same_loss_and_update():
    """The layout the bench's `zoo channels_last` path trains in changes speed, not the numbers of a
    step (over many Adadelta steps at lr 1 the float rounding differences grow: 2% after 18 steps)."""
    plain = create_model("grcnn_small", hidden_size=32)
    tuned = create_model("grcnn_small", hidden_size=32)
    tuned.load_state_dict(plain.state_dict())
    batch = bench.images(2, width=40)
    tuned_step = bench.TrainingStep(tuned, batch, tuned.num_classes, channels_last=True)
    convs = [p for p in tuned.parameters() if p.dim() == 4]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(w.is_contiguous() for w in convs)  # converted, not NCHW that happens to qualify
    losses = [bench.TrainingStep(plain, batch, plain.num_classes)(), tuned_step()]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    for (name, p), q in zip(plain.named_parameters(), tuned.parameters()):
        torch.testing.assert_close(q, p, atol=1e-5, rtol=1e-4, msg=name)


def test_bf16_training_step_is_the_fp32_step_to_bf16_precision():
    """`zoo bf16` (train.bf16) computes the same step in bf16: the first loss within 2%, the update
    in the same direction (bf16 keeps 8 bits of mantissa; the weights and the CTC loss stay fp32)."""
    plain = create_model("grcnn_small", hidden_size=32)
    fast = create_model("grcnn_small", hidden_size=32)
    fast.load_state_dict(plain.state_dict())
    start = [p.detach().clone() for p in plain.parameters()]
    batch = bench.images(4, width=40)
    losses = [bench.TrainingStep(plain, batch, plain.num_classes)(),
              bench.TrainingStep(fast, batch, fast.num_classes, bf16=True)()]
    assert losses[1] == pytest.approx(losses[0], rel=2e-2)
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    plain_update = torch.cat([(p.detach() - s).flatten() for p, s in zip(plain.parameters(), start)])
    fast_update = torch.cat([(p.detach() - s).flatten() for p, s in zip(fast.parameters(), start)])
    assert torch.nn.functional.cosine_similarity(plain_update, fast_update, dim=0) > 0.9


def test_the_trainers_path_follows_the_plain_fp32_losses_over_10_steps():
    """10 Adadelta steps on one batch: channels_last (fp32) stays within 2% of the plain NCHW losses
    at every step, channels_last + bf16 autocast (what `zoo train` runs with train.bf16) within 5%
    (measured over 20 steps: 0.6% and 1.1%, one thread); all three drop more than 4-fold by step 10
    (20 steps reach 4.6-fold: the first 10 are the test)."""
    torch.manual_seed(0)
    models = [create_model("grcnn_small", hidden_size=32) for _ in range(3)]
    for m in models[1:]:
        m.load_state_dict(models[0].state_dict())
    batch = bench.images(8, width=100)
    steps = [bench.TrainingStep(models[0], batch, models[0].num_classes),
             bench.TrainingStep(models[1], batch, models[1].num_classes, channels_last=True),
             bench.TrainingStep(models[2], batch, models[2].num_classes, bf16=True, channels_last=True)]
    plain, tuned, trainer = (torch.tensor([step() for _ in range(10)]) for step in steps)
    assert (tuned / plain - 1).abs().max() < 0.02
    assert (trainer / plain - 1).abs().max() < 0.05
    assert plain[0] > 3 * plain[-1]


def compiled_and_plain_losses(steps: int = 2) -> tuple[list[float], list[float]]:
    """The trainer's step (bf16, channels_last) and the same step through torch.compile, from the same
    weights on the same batch: their losses over ``steps`` steps."""
    plain = create_model("grcnn_small", hidden_size=32)
    fast = create_model("grcnn_small", hidden_size=32)
    fast.load_state_dict(plain.state_dict())
    batch = bench.images(4, width=100)
    runs = [bench.TrainingStep(m, batch, m.num_classes, bf16=True, channels_last=True, compiled=compiled)
            for m, compiled in ((plain, False), (fast, True))]
    return [[run() for _ in range(steps)] for run in runs]


def test_compiled_training_step_traces_bf16_autocast_channels_last_and_ctc_backward(monkeypatch):
    """The `zoo bf16 channels_last compiled` path through dynamo and AOTAutograd (the graphs inductor
    gets) without inductor's C++ compile, minutes on this CPU (that: the opt-in test below)."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    plain, compiled = compiled_and_plain_losses()
    assert compiled == pytest.approx(plain, rel=1e-2)
    steps = bench.training_paths(create_model("grcnn_small", hidden_size=32), bench.images(2, width=40),
                                 compile=True, names=())
    assert list(steps) == [bench.COMPILED] and steps[bench.COMPILED].net is not steps[bench.COMPILED].model


@pytest.mark.skipif(not os.environ.get("ZOO_TEST_INDUCTOR"), reason="inductor's C++ compile takes minutes on "
                    "a 2-core CPU (121 s for this tiny model beside a training job): ZOO_TEST_INDUCTOR=1 runs it")
def test_inductor_compiled_training_step_gives_the_losses_of_the_eager_step():
    plain, compiled = compiled_and_plain_losses()
    assert compiled == pytest.approx(plain, rel=1e-2)


def test_parse_batches():
    assert parse_batches("64,1, 64") == [1, 64]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_batches("1;64")
    with pytest.raises(ValueError, match="positive"):
        parse_batches("0,64")


def test_zoo_bench_writes_one_row_per_path(tmp_path, capsys):
    assert main(["bench", "grcnn_small", "--batch", "1,2", "--no-train", "--repeats", "1", "--threads", "1",
                 "--onnx", "--out", str(tmp_path), "--json"]) == 0
    payload = json.loads((tmp_path / "bench.json").read_text())
    printed = json.loads(capsys.readouterr().out)  # --json: the same rows, alone on stdout
    assert printed["rows"] == payload["rows"] and printed["title"] == payload["title"]
    rows = payload["rows"]
    assert [r["path"] for r in rows] == ["reference", "zoo", "fast fp32", "fast bf16", "int8", "onnx fp32"]
    assert rows[0]["infer x ref"] == 1 and rows[0]["max abs logit diff"] == 0
    assert rows[2]["max abs logit diff"] < 1e-4 and rows[5]["max abs logit diff"] < 1e-4  # fp32: the same function
    assert payload["meta"]["conv GFLOP/s"] > 0 and "load average after (1/5/15 min)" in payload["meta"]
    assert 0 < rows[4]["max abs logit diff"] < 1  # int8 (ONNX Runtime): close, not equal
    assert all(r["infer img/s (b2)"] > 0 for r in rows)
    assert (tmp_path / "bench.md").read_text().count("| grcnn_small |") == 6


# -- end to end: `zoo bench --train-recipe` ------------------------------------------------------

def test_parse_variant_splits_recipe_overrides_from_threads():
    assert bench.parse_variant("data.workers=1 threads=1") == (["data.workers=1"], 1)
    assert bench.parse_variant("'data.real_val=[a, b]'") == (["data.real_val=[a, b]"], None)
    with pytest.raises(ValueError, match="threads"):
        bench.parse_variant("threads=0")


def test_trainer_steps_are_the_trainers_own_iterations_with_each_variants_workers(tiny_recipe, tmp_path):
    """Each variant is a Trainer of the recipe: its DataLoader (data.workers from the variant) yields the
    batches, 3 steps train 3 x batch 4 real images, and a variant's threads hold only during its steps."""
    trainers = bench.recipe_trainers(str(tiny_recipe), ["train.batch_size=4"],
                                     ["data.workers=0", "data.workers=1 threads=1"], str(tmp_path / "scratch"))
    assert list(trainers) == ["zoo train data.workers=0", "zoo train data.workers=1 threads=1"]
    threads = torch.get_num_threads()
    for steps, workers in zip(trainers.values(), (0, 1)):
        trainer = steps.trainer
        assert trainer.loader.num_workers == workers and trainer.loader.batch_size == 4
        assert trainer.recipe.data.val == "" and trainer.val_loader is None  # validation is never timed
        weights = next(trainer.model.parameters()).detach().clone()
        assert steps(3) == 12 and steps(1) == 4
        assert trainer.state.step == 4 and trainer.state.batch_in_epoch == 4  # drawn from its loader
        assert not torch.equal(next(trainer.model.parameters()), weights)
        assert steps.settle == 2 * workers + 2 and torch.get_num_threads() == threads
    assert trainers["zoo train data.workers=1 threads=1"].threads == 1
    with pytest.raises(ValueError, match="twice"):
        bench.recipe_trainers(str(tiny_recipe), [], ["data.workers=0", "data.workers=0"], str(tmp_path / "again"))


def test_windowed_rates_settle_then_time_each_path_in_turn():
    calls = []

    def path(name):
        def advance(steps):
            calls.append((name, steps))
            return 4 * steps
        return advance

    rates = bench.windowed_rates({"a": path("a"), "b": path("b")}, steps=3, repeats=2, settle={"a": 1, "b": 2})
    assert calls == [("a", 1), ("a", 3), ("b", 2), ("b", 3)] * 3  # a warm-up round, then 2 timed
    assert rates.keys() == {"a", "b"} and all(r > 0 for r in rates.values())


def test_the_reference_of_a_recipes_model_options_computes_it(randomised):
    """The CPU recipes train grcnn with a BiLSTM-256 head; the end-to-end rows compare against the
    plain reference of that model, not of the paper's."""
    model = randomised(create_model("grcnn", recurrent_steps=1, hidden_size=32))
    batch = bench.images(2)
    with torch.no_grad():
        torch.testing.assert_close(bench.find_reference().from_zoo(model)(batch), model(batch), atol=1e-6, rtol=1e-6)


def test_zoo_bench_train_recipe_times_zoo_train_beside_the_reference(tiny_recipe, word_lmdbs, tmp_path, capsys):
    assert main(["bench", "grcnn", "--train-recipe", str(tiny_recipe), "--train-data", word_lmdbs[0],
                 "--set", "train.batch_size=4", "--set", "train.bf16=true", "--variant", "data.workers=0",
                 "--variant", "data.workers=1", "--train-steps", "2", "--repeats", "1", "--threads", "1",
                 "--out", str(tmp_path / "bench"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["path"] for r in rows] == ["reference", "zoo bf16 channels_last", "zoo train data.workers=0",
                                         "zoo train data.workers=1"]
    assert all(r["train img/s (b4)"] > 0 and r["train x ref"] > 0 for r in rows) and rows[0]["train x ref"] == 1
    assert [r["data.workers"] for r in rows] == [None, None, 0, 1] and rows[2]["threads"] == 1
    meta = json.loads((tmp_path / "bench" / "bench.json").read_text())["meta"]
    assert meta["steps per window"] == 2 and meta["overrides"][0] == f"data.train={word_lmdbs[0]}"


@pytest.mark.parametrize("args, message", [
    (["--variant", "data.workers=0"], "give it with --train-recipe"),
    (["--train-recipe", "RECIPE", "--train-batch", "8"], "training only"),
    (["crnn_vgg", "--train-recipe", "RECIPE"], "trains grcnn"),
])
def test_zoo_bench_refuses_what_an_end_to_end_run_cannot_mean(tiny_recipe, capsys, args, message):
    args = [str(tiny_recipe) if a == "RECIPE" else a for a in args]
    assert main(["bench", *args]) == 1
    assert message in capsys.readouterr().err
