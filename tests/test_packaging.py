"""What a regular (non-editable) install needs: everything inside the package, found the same way
from any directory. The wheel itself is built and tried by hand (the report of issue #19 lists the
commands); these tests check, without building anything, what that relies on."""
import importlib.resources
import sys
import tomllib
from pathlib import Path

import pytest
import torch

import zoo
from zoo import checkpoint
from zoo.checkpoint import REGISTRY_DIR, weights_dir
from zoo.factory import load_model, shipped_models

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_shipped_weights_are_the_package_zoo_weights_and_every_one_loads_by_name():
    assert REGISTRY_DIR == Path(str(importlib.resources.files("zoo.weights"))) == weights_dir()
    assert REGISTRY_DIR.resolve() == (REPO / "registry").resolve()  # an editable install: the folder itself
    assert set(shipped_models()) == {"grcnn", "crnn_vgg", "rcnn", "densenet"}
    for name in shipped_models():
        assert (REGISTRY_DIR / f"{name}.yaml").is_file()
        model = zoo.create_model(name, pretrained=True)
        assert not model.training and model.config.name == name
        shipped = load_model(name).state_dict()
        assert all(torch.equal(v, shipped[k]) for k, v in model.state_dict().items())


def test_zoo_weights_points_at_another_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_WEIGHTS", str(tmp_path))
    assert weights_dir() == tmp_path
    monkeypatch.setattr(checkpoint, "REGISTRY_DIR", weights_dir())
    assert shipped_models() == []  # nothing there: no shipped model is found elsewhere
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn'"):
        load_model("grcnn")


def test_the_wheel_holds_every_package_and_the_weights_as_package_data():
    tool = PYPROJECT["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "zoo").rglob("*.py")}
    assert on_disk | {"zoo.weights"} == set(tool["packages"]), "list every folder of zoo/ in pyproject.toml"
    assert tool["package-dir"] == {"zoo.weights": "registry"}
    assert {"*.safetensors", "*.yaml"} <= set(tool["package-data"]["zoo.weights"])


def test_zoo_bench_finds_its_reference_networks_inside_the_package():
    from zoo.bench import find_reference

    reference = find_reference()
    assert reference.__name__ == "zoo.models.reference" and not (REPO / "benchmarks" / "reference.py").exists()
    assert {"grcnn", "rcnn", "crnn_vgg"} <= set(reference.BUILDERS)


def test_einops_is_dropped_as_nothing_uses_it():
    """The zoo's one-step transposes read well as they are (recorded in issue #19's report)."""
    assert not any(d.startswith("einops") for d in PYPROJECT["project"]["dependencies"])
    assert not any("einops" in p.read_text() for p in (REPO / "zoo").rglob("*.py"))
    assert "einops" not in sys.modules
