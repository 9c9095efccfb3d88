"""What the README states about the main job is what the main job does."""
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_the_readme_counts_the_words_the_quick_study_renders():
    study = yaml.safe_load((REPO / "recipes/ablations/quick.yaml").read_text())
    overrides = dict(o.split("=", 1) for o in study.get("overrides", []))
    rendered = [yaml.safe_load(overrides[k])["n"] for k in ("data.train_synth", "data.val_synth") if k in overrides]
    rendered += [b["synth"]["n"] for b in study.get("benchmarks", []) if "synth" in b]
    stated = re.search(r"renders ([\d,]+) words", " ".join((REPO / "README.md").read_text().split()))
    assert stated and int(stated[1].replace(",", "")) == sum(rendered) == 2400
