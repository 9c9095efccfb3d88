"""What the README states about the main job is what the main job does."""
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_the_readme_main_job_is_what_ci_runs_and_renders_what_it_says():
    readme = " ".join((REPO / "README.md").read_text().split())
    command = re.search(r'pip install -e "\.\[dev\]" && (zoo ablate \S+)', readme)[1]
    assert command in (REPO / ".ci/run").read_text()
    study = yaml.safe_load((REPO / command.split()[-1]).read_text())
    assert study["weights"] == "shipped" and sorted(study["models"]) == ["crnn_vgg", "densenet", "grcnn", "rcnn"]
    rendered = [b["synth"]["n"] for b in study["benchmarks"] if "synth" in b]
    stated = re.search(r"and ([\d,]+) held-out rendered words it renders itself", readme)
    assert stated and [int(stated[1].replace(",", ""))] == rendered == [500]
    assert all(b.get("optional") for b in study["benchmarks"] if "name" in b)  # runs without ../shared


def test_the_quick_pipeline_study_trains_every_backbone_for_thirty_steps():
    from zoo.study import load_study

    study = load_study(REPO / "recipes/ablations/quick.yaml")
    assert sorted(a.model for a in study.arms()) == ["crnn_vgg", "densenet", "grcnn", "rcnn"]
    assert "train.iterations=30" in study.overrides and study.seeds == [0, 1] and study.weights == "trained"
