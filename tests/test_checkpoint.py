import re

import pytest
import torch

import zoo
from zoo.checkpoint import model_spec, save_checkpoint, save_weights
from zoo.cli import main
from zoo.factory import load_model


@pytest.fixture
def model():
    return zoo.create_model("grcnn_small", num_classes=11, hidden_size=16, in_chans=3).eval()


def test_checkpoint_rebuilds_the_same_model(tmp_path, model):
    x = torch.randn(2, 3, 32, 100)
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, step=7)
    loaded = load_model(path)
    assert loaded.config == model.config and loaded.num_classes == 11
    assert torch.equal(loaded(x), model(x))
    assert torch.load(path, weights_only=True)["step"] == 7  # tensors and plain data only
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind


def test_the_shipped_grcnn_files_store_the_old_option_name_and_read_as_the_new_one():
    """registry/grcnn.safetensors and its card were written when GRCL's steps were called ``iterations``."""
    import json

    import yaml

    from zoo.checkpoint import REGISTRY_DIR, read_safetensors, shipped_spec
    from zoo.registry import renamed

    header = json.loads(read_safetensors(REGISTRY_DIR / "grcnn.safetensors")[0]["model_spec"])["options"]
    card = yaml.safe_load((REGISTRY_DIR / "grcnn.yaml").read_text())["model"]["options"]
    model = load_model("grcnn")
    assert model.config.options["recurrent_steps"] == 5 and "iterations" not in model.config.options
    assert renamed(header) == renamed(card) == model.config.options == shipped_spec("grcnn")["options"]
    assert zoo.create_model("grcnn", pretrained=True).config.options == model.config.options


def test_a_checkpoint_with_the_old_option_name_rebuilds_and_resumes_under_the_new(tmp_path):
    from zoo.checkpoint import read_checkpoint

    trained = zoo.create_model("grcnn", recurrent_steps=1, hidden_size=8).eval()
    path = save_checkpoint(tmp_path / "old.pt", trained, recipe={"model": {"name": "grcnn", "options": {"hidden_size": 8}}})
    old = torch.load(path, weights_only=True)
    old["model_spec"]["options"] = {"iterations" if k == "recurrent_steps" else k: v
                                    for k, v in old["model_spec"]["options"].items()}
    old["recipe"]["model"]["options"]["iterations"] = 1
    torch.save(old, path)
    ckpt = read_checkpoint(path)
    assert ckpt["model_spec"]["options"]["recurrent_steps"] == 1 and "iterations" not in ckpt["model_spec"]["options"]
    assert ckpt["recipe"]["model"]["options"] == {"hidden_size": 8, "recurrent_steps": 1}
    x = torch.randn(1, 1, 32, 100)
    assert torch.equal(load_model(path)(x), trained(x))
    assert torch.equal(zoo.create_model("grcnn", checkpoint_path=str(path))(x), trained(x))


def test_fp16_weights_rebuild_the_model(tmp_path, model):
    x = torch.randn(2, 3, 32, 100)
    loaded = load_model(save_weights(tmp_path / "w.safetensors", model))
    assert loaded.config.in_chans == 3 and loaded.config.options == model.config.options
    torch.testing.assert_close(loaded(x), model(x), atol=5e-3, rtol=0)


def test_registry_name_without_shipped_weights_says_so():
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn_small'"):
        load_model("grcnn_small")  # a registered variant the zoo does not ship
    with pytest.raises(FileNotFoundError, match="neither a file nor a registered model"):
        load_model("no/such/file.pt")


def test_shipped_models_lists_registry_files_grcnn_first(tmp_path, monkeypatch):
    from zoo import checkpoint, factory

    monkeypatch.setattr(checkpoint, "REGISTRY_DIR", tmp_path)
    assert factory.shipped_models() == []
    for name in ["crnn_vgg", "grcnn", "not_a_model"]:
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    assert factory.shipped_models() == ["grcnn", "crnn_vgg"]


def test_name_at_commit_loads_the_weights_that_commit_shipped(tmp_path, monkeypatch, model):
    # a study that starts every run from `grcnn` compared variants from different weights once grcnn was
    # shipped again between its runs: NAME@COMMIT pins the version, read from the repository's history
    import subprocess

    from zoo import checkpoint

    repo, registry = tmp_path / "repo", tmp_path / "repo" / "registry"
    registry.mkdir(parents=True)
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True, text=True).stdout
    git("init", "-q")
    commits = []
    for version in (1, 2):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(version / 10)
        save_weights(registry / "grcnn_small.safetensors", model)
        (registry / "grcnn_small.yaml").write_text(f"lineage: [{{steps: {version * 1000}}}]\n")
        git("add", "-A")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"ship {version}")
        commits.append(git("rev-parse", "--short", "HEAD").strip())
    monkeypatch.setattr(checkpoint, "REGISTRY_DIR", registry)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, now = load_model(f"grcnn_small@{commits[0]}"), load_model("grcnn_small")
    assert next(first.parameters()).flatten()[0].item() == pytest.approx(0.1, abs=1e-3)
    assert next(now.parameters()).flatten()[0].item() == pytest.approx(0.2, abs=1e-3)
    pinned = list((tmp_path / "cache" / "grcnn-zoo" / "pinned").iterdir())
    assert len(pinned) == 1 and pinned[0].name.startswith("grcnn_small@" + commits[0])  # copied out of git once
    from zoo.train.lineage import inherited
    assert inherited(f"grcnn_small@{commits[0]}") == [{"steps": 1000}]  # that commit's card, not today's
    with pytest.raises(FileNotFoundError, match="grcnn_small@nosuchrev: `git rev-parse --verify nosuchrev"):
        load_model("grcnn_small@nosuchrev")


def test_a_checkpoint_whose_pickle_runs_code_is_refused_not_executed(tmp_path, model, code_payload):
    payload, marker = code_payload
    path = save_checkpoint(tmp_path / "evil.pt", model, extra=payload)  # otherwise a valid checkpoint
    with pytest.raises(ValueError, match=r"evil.pt: refused: its pickle asks for .*open.* never runs code from a file"):
        load_model(path)
    assert not marker.exists()


def _damaged(tmp_path, model, kind: str):
    weights = save_weights(tmp_path / "good.safetensors", model).read_bytes()
    checkpoint = save_checkpoint(tmp_path / "good.pt", model).read_bytes()
    name, data = {"truncated safetensors": ("w.safetensors", weights[: len(weights) // 2]),
                  "100-byte safetensors": ("w.safetensors", weights[:100]),
                  "empty safetensors": ("w.safetensors", b""),
                  "text named .pt": ("w.pt", b"epoch 3: loss 0.71\n"),
                  "empty .pt": ("w.pt", b""),
                  "truncated .pt": ("w.pt", checkpoint[: len(checkpoint) // 2])}[kind]
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


@pytest.mark.parametrize("kind,problem", [
    ("truncated safetensors", "is not a readable safetensors file"), ("100-byte safetensors", "100 bytes"),
    ("empty safetensors", "is empty"), ("text named .pt", "is not a PyTorch checkpoint"),
    ("empty .pt", "is empty"), ("truncated .pt", "is not a PyTorch checkpoint")])
def test_damaged_weight_files_are_errors_naming_the_file_the_problem_and_the_fix(tmp_path, model, kind, problem):
    path = _damaged(tmp_path, model, kind)
    with pytest.raises(ValueError, match=rf"{path}: .*{problem}.*; copy it again"):
        load_model(path)


@pytest.mark.parametrize("kind", ["100-byte safetensors", "text named .pt"])
def test_the_cli_prints_a_damaged_file_as_one_line_not_a_traceback(tmp_path, model, kind, capsys):
    path = _damaged(tmp_path, model, kind)
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 1
    printed = capsys.readouterr().err
    assert printed.startswith(f"error: {path}: ") and printed.count("\n") == 1 and "Traceback" not in printed


def test_a_text_file_named_pt_is_called_damaged_not_a_pickle_that_runs_code(tmp_path):
    from zoo.checkpoint import read_checkpoint
    text = tmp_path / "notes.pt"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(ValueError, match=r"is not a PyTorch checkpoint \(24 bytes"):
        read_checkpoint(text)


class RunsShell:
    """An object whose unpickling asks for os.system: a module torch blocks outright, worded otherwise."""

    def __reduce__(self):
        import os
        return (os.system, ("touch never-run",))


class RunsExec:
    def __reduce__(self):
        return (exec, ("open('never-run', 'w')",))


@pytest.mark.parametrize("payload, asked", [(RunsShell(), "posix.system"), (RunsExec(), "exec")])
def test_a_pickle_asking_for_a_blocked_module_is_refused_naming_what_it_asks(tmp_path, monkeypatch, payload, asked):
    # before: os.system was called "not a PyTorch checkpoint (1307 bytes: truncated, damaged or another format)"
    import os
    if os.name != "posix":
        pytest.skip("os.system is posix.system on POSIX only")
    monkeypatch.chdir(tmp_path)
    torch.save({"model": payload}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=rf"evil.pt: refused: its pickle asks for {asked}, not tensors"):
        load_model(tmp_path / "evil.pt")
    assert not (tmp_path / "never-run").exists()


def _with_state(tmp_path, model, change) -> str:
    ckpt = {"model_spec": model_spec(model), "state_dict": model.state_dict()}
    change(ckpt)
    torch.save(ckpt, tmp_path / "edited.pt")
    return str(tmp_path / "edited.pt")


def _drop_first(ckpt):
    ckpt["state_dict"].pop(next(iter(ckpt["state_dict"])))


@pytest.mark.parametrize("change, problem", [
    (_drop_first, r"\(missing \S+\)"),
    (lambda c: c["state_dict"].update(extra=torch.zeros(2)), r"\(unexpected extra\)"),
    (lambda c: c["model_spec"].update(num_classes=7), r"\(shapes differ: \S+ is \[11.*; the classifier is not "
                                                      r"the size of model_spec's num_classes 7\)"),
    (lambda c: c.update(model_spec="grcnn_small"), r"model_spec is a str, not a mapping"),
    (lambda c: c["model_spec"].update(name="nosuch"), r"model_spec builds no model here \(unknown"),
])
def test_a_checkpoint_whose_contents_do_not_fit_is_one_error_naming_the_file(tmp_path, model, capsys, change, problem):
    # before: torch's multi-line "Error(s) in loading state_dict for Reader", no file, no fix; a string
    # model_spec: "string indices must be integers, not 'str'"
    from PIL import Image

    path = _with_state(tmp_path, model, change)
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}: its .*{problem}.*copy it again"):
        load_model(path)
    Image.new("L", (100, 32), 200).save(tmp_path / "x.png")
    assert main(["predict", str(tmp_path / "x.png"), "--model", path]) == 1
    printed = capsys.readouterr().err
    assert printed.startswith(f"error: {path}: its ") and printed.count("\n") == 1, printed


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_weights_that_are_not_finite_are_refused_at_load_naming_the_file_and_tensor(tmp_path, model, fmt):
    # before: `predict --model nan.pt` read '' with probability nan and exit code 0
    floats = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    first = floats[0] if fmt == "pt" else sorted(floats)[0]  # a safetensors file keeps its tensors sorted by name
    for t in model.state_dict().values():  # what a diverged run saves
        if t.is_floating_point():
            t.fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.pt", model) if fmt == "pt" else save_weights(tmp_path / "nan.safetensors", model)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: its weights are not finite: {first} holds NaN "
                                         rf"\(and \d+ more .*use an earlier checkpoint"):
        load_model(path)
    with pytest.raises(ValueError, match="not finite"):
        zoo.create_model("grcnn_small", checkpoint_path=path, num_classes=11, hidden_size=16, in_chans=3)


def test_a_plain_pickle_named_pt_is_one_error_without_torchs_warning(tmp_path):
    # before: torch's two-line UserWarning on stderr came before the one-line error
    import pickle
    import warnings

    from zoo.checkpoint import read_checkpoint
    path = tmp_path / "plain.pt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {"w": [1.0, 2.0]}}, f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=rf"{path}: "):
            read_checkpoint(path)
    assert [str(w.message) for w in caught] == []
