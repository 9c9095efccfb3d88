"""zoo.bench and `zoo bench`: what is timed, in which order, and what is written (no timing asserts)."""
import json

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


def test_the_trainers_path_follows_the_plain_fp32_losses_over_20_steps():
    """20 Adadelta steps on one batch: channels_last (fp32) stays within 2% of the plain NCHW losses
    at every step, channels_last + bf16 autocast (what `zoo train` runs with train.bf16) within 5%
    (measured: 0.9% and 1.3%); all three drop from ~15 to ~3.4 together."""
    torch.manual_seed(0)
    models = [create_model("grcnn_small", hidden_size=32) for _ in range(3)]
    for m in models[1:]:
        m.load_state_dict(models[0].state_dict())
    batch = bench.images(8, width=100)
    steps = [bench.TrainingStep(models[0], batch, models[0].num_classes),
             bench.TrainingStep(models[1], batch, models[1].num_classes, channels_last=True),
             bench.TrainingStep(models[2], batch, models[2].num_classes, bf16=True, channels_last=True)]
    plain, tuned, trainer = (torch.tensor([step() for _ in range(20)]) for step in steps)
    assert (tuned / plain - 1).abs().max() < 0.02
    assert (trainer / plain - 1).abs().max() < 0.05
    assert plain[0] > 3 * plain[-1]


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
