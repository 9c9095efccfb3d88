import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.study import (image_folder, load_study, paired_bootstrap, run_study, stop_children, study_status,
                       with_verdicts)
from zoo.train.recipe import RecipeError
from zoo.train.stopping import Interrupted


def test_paired_bootstrap_by_hand():
    a = np.array([[1, 1, 1, 0, 1, 1, 1, 1], [1, 1, 0, 0, 1, 1, 1, 1]], float)
    b = np.array([[0, 1, 0, 0, 1, 0, 1, 0], [0, 1, 0, 0, 1, 0, 1, 1]], float)
    result = paired_bootstrap(a, b, resamples=4000)
    assert result["difference (pts)"] == 37.5  # 13 of 16 against 7 of 16
    assert 0 < result["95% CI low"] < 37.5 < result["95% CI high"] <= 75
    assert result["p"] < 0.05  # A wins every image it does not tie, on both seeds
    same = paired_bootstrap(a, a, resamples=1000)
    assert same["difference (pts)"] == 0 and same["p"] == 1.0


def test_a_model_that_wins_only_with_some_seeds_is_not_called_better():
    # 4000 images: B reads the same 60% with every seed; A reads 90% with seeds 0 and 1 and 10% with
    # seed 2 (a run stuck on the CTC plateau). A's mean, 63.3%, beats B's 60% on the images alone
    # (per-image mean differences: z ~ 5), but one seed in three loses by 50 points: resampling
    # seeds, A falls below B whenever two of its three draws are seed 2 (7/27), so p ~ 2 * 7/27.
    images = 4000
    b = np.tile(np.arange(images) < 0.6 * images, (3, 1)).astype(float)
    a = np.stack([np.arange(images) < 0.9 * images] * 2 + [np.arange(images) < 0.1 * images]).astype(float)
    result = paired_bootstrap(a, b, resamples=4000)
    assert result["difference (pts)"] == 3.33
    assert 0.4 < result["p"] < 0.65 and result["95% CI low"] < 0 < result["95% CI high"]
    single = paired_bootstrap(a[:1], b[:1], resamples=4000)  # one seed each: images alone decide
    assert single["difference (pts)"] == 30.0 and single["p"] == round(2 / 4001, 4)


def test_a_study_needs_models_and_existing_benchmarks(tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\nmodels: {}\n")
    with pytest.raises(RecipeError, match="at least one entry under 'models'"):
        load_study(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("models: {grcnn: {}}\nbenchmarks: [{path: /no/ic03}]\n")
    with pytest.raises(FileNotFoundError, match="benchmark /no/ic03 does not exist"):
        load_study(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("models: {grcnn: {}}\nbenchmarks: [{path: /no/ic03, optional: true}]\n")
    with pytest.raises(FileNotFoundError, match="none of the benchmarks exists"):
        load_study(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text(f"models: {{grcnn: {{}}}}\nbenchmarks: [{{path: /no/ic03, optional: true}}, "
                                     f"{{path: {tmp_path}/words.lmdb, synth: {{n: 4, seed: 3}}}}]\n")
    study = load_study(tmp_path / "s.yaml")  # the rendered one is made at run time, the optional one skipped
    assert [b.path for b in study.benchmarks] == [f"{tmp_path}/words.lmdb"]
    assert study.skipped_benchmarks == ["/no/ic03"]
    (tmp_path / "s.yaml").write_text("models: {grcnn: {}}\nseed: [1]\n")
    with pytest.raises(RecipeError, match="unknown recipe key 'seed'. Did you mean 'seeds'"):
        load_study(tmp_path / "s.yaml")


def test_verdicts_hold_the_tables_family_wise_error_with_holm():
    """p 0.001, 0.02, 0.03, 0.5 over 4 pairs: Holm's thresholds 0.0125, 0.0167, 0.025, 0.05 stop at the
    second, so one difference is real (p < 0.05 alone would have called three)."""
    rows = [{"A": "a", "B": "b", "difference (pts)": d, "p": p}
            for d, p in [(-2.0, 0.02), (3.0, 0.001), (1.0, 0.5), (2.5, 0.03)]]
    assert [r["verdict"] for r in with_verdicts(rows, 0.05)] == [
        "no real difference", "a better", "no real difference", "no real difference"]
    rows[1]["difference (pts)"] = -3.0
    assert with_verdicts(rows, 0.05)[1]["verdict"] == "b better"
    assert [r["verdict"] for r in with_verdicts(rows, 0.1)] == ["b better", "b better", "no real difference", "a better"]


def test_stopping_a_study_stops_its_runs_and_names_them(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(Interrupted, match=r"study stopped by SIGTERM: 1 running run\(s\) saved .*grcnn-s0.log"):
        stop_children({child: tmp_path / "grcnn-s0.log"}, "SIGTERM")
    assert child.returncode == -signal.SIGTERM


def test_tiny_study_end_to_end_and_resumable(tmp_path, tiny_recipe, ic03_dir, capsys):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(f"""
name: tiny
recipe: {tiny_recipe}
models: {{crnn_vgg: {{hidden_size: 16}}, grcnn: {{recurrent_steps: 1, hidden_size: 16}}}}
seeds: [0, 1]
overrides: [train.iterations=2, train.val_every=2, train.checkpoint_every=2]
benchmarks:
  - {{path: {ic03_dir}, lexicons: [none, "50"], limit: 6}}
  - {{path: {tmp_path / 'held-out.lmdb'}, synth: {{n: 5, seed: 3}}, protocol: alphanumeric, lexicons: [none, full]}}
speed_batch: 2
receptive_field_images: 1
bootstrap: 200
out: {tmp_path / 'study'}
""")
    report = run_study(load_study(study_file), source=str(study_file), jobs=2)  # runs as child processes
    out = tmp_path / "study"
    assert "evaluating grcnn seed 1" in (out / "runs" / "grcnn-s1.log").read_text()  # the child logged its run
    data = json.loads((out / "report.json").read_text())
    rows = data["accuracy"]["ic03[:6] 50"]
    assert [r["model"] for r in data["accuracy"]["held-out.lmdb full"]] == ["crnn_vgg", "grcnn"]
    assert [r["model"] for r in rows] == ["crnn_vgg", "grcnn"]
    assert all(len(r["per seed"].split()) == 2 and r["params (M)"] > 0 and r["infer img/s"] > 0 for r in rows)
    # the paper's numbers are for all 860 images: none beside a 6-image subset or a rendered set
    assert rows[1]["paper"] is None and data["accuracy"]["held-out.lmdb full"][1]["paper"] is None
    pair = data["significance"]["ic03[:6] none"][0]
    assert (pair["A"], pair["B"]) == ("crnn_vgg", "grcnn") and 0 <= pair["p"] <= 1 and "verdict" in pair
    first = data["summary"][0]  # one row per model: "mean ± std" of every setting, then the costs
    assert first["model"] == "crnn_vgg" and first["params (M)"] == rows[0]["params (M)"]
    assert first["ic03[:6] 50"] == f"{rows[0]['accuracy % (mean)']:.2f} ± {rows[0]['std']:.2f}"
    assert data["meta"]["seeds"] == [0, 1] and data["meta"]["iterations"] == 2 and "commit" in data["meta"]
    for name in ["report.md", "report.html", "curves.png", "cost_ic03-first6_none.png", "receptive_fields/report.html",
                 "tables/accuracy_ic03-first6_50.csv", "tables/significance_ic03-first6_50.md", "tables/summary.csv"]:
        assert (out / name).is_file(), name
    assert "| grcnn |" in report.read_text()
    evaluated = {p: p.stat().st_mtime for p in out.glob("runs/*/eval.json")}
    assert len(evaluated) == 4
    capsys.readouterr()
    run_study(load_study(study_file))  # finished runs are not redone
    assert "seed 0" not in capsys.readouterr().err
    assert {p: p.stat().st_mtime for p in out.glob("runs/*/eval.json")} == evaluated
    assert json.loads((out / "report.json").read_text())["receptive_fields"]["seed"] == 0
    record = json.loads((out / "runs" / "grcnn-s1" / "eval.json").read_text())
    assert record["step"] == 2 and record["trained"]["commit"] == record["evaluated"]["commit"] != ""


def test_the_receptive_field_grid_takes_the_first_seed_whose_checkpoints_are_all_on_disk(tmp_path, tiny_recipe, ic03_dir):
    """Studies commit each run's record, not its checkpoints: a report written on a fresh checkout draws the
    fields of the seed it still has every model of, or says that it has none."""
    study_file = tmp_path / "study.yaml"
    study_file.write_text(f"""
recipe: {tiny_recipe}
models: {{crnn_vgg: {{hidden_size: 16}}, grcnn: {{recurrent_steps: 1, hidden_size: 16}}}}
seeds: [0, 1]
overrides: [train.iterations=1, train.val_every=1, train.checkpoint_every=1]
benchmarks: [{{path: {ic03_dir}, lexicons: [none], limit: 2}}]
speed_batch: 2
receptive_field_images: 1
bootstrap: 100
out: {tmp_path / 'study'}
""")
    out = tmp_path / "study"
    run_study(load_study(study_file))
    for checkpoint in out.glob("runs/grcnn-s0/*.pt"):
        checkpoint.unlink()
    (out / "runs" / "crnn_vgg-s2").mkdir()
    (out / "runs" / "crnn_vgg-s2" / "log.jsonl").write_text('{"step": 1, "loss": 4.0}\n')
    status = {r["run"]: r for r in study_status(load_study(study_file, ["seeds=[0, 1, 2]"]))}
    assert list(status) == ["crnn_vgg-s0", "grcnn-s0", "crnn_vgg-s1", "grcnn-s1", "crnn_vgg-s2", "grcnn-s2"]
    record = json.loads((out / "runs" / "grcnn-s0" / "eval.json").read_text())["benchmarks"]
    assert status["grcnn-s0"] == {"run": "grcnn-s0", "state": "finished", "step": 1, "checkpoint on disk": False,
                                  "ic03[:2] None": next(iter(record.values()))["rows"][0]["accuracy (%)"]}
    assert status["crnn_vgg-s1"]["checkpoint on disk"] is True
    assert (status["crnn_vgg-s2"]["state"], status["crnn_vgg-s2"]["step"]) == ("training (1 of 1 logged)", 1)
    assert (status["grcnn-s2"]["state"], status["grcnn-s2"]["checkpoint on disk"]) == ("not started", False)
    run_study(load_study(study_file))
    report = json.loads((out / "report.json").read_text())
    assert report["receptive_fields"] == {"seed": 1, "report": "receptive_fields/report.html"}
    drawn = json.loads((out / "receptive_fields" / "report.json").read_text())["models"].values()
    assert sorted(Path(m["weights"]).parent.name for m in drawn) == ["crnn_vgg-s1", "grcnn-s1"]
    assert all(len(m["images"]) == 1 for m in drawn)  # receptive_field_images: 1 of the benchmark's images
    for checkpoint in out.glob("runs/crnn_vgg-s1/*.pt"):
        checkpoint.unlink()
    run_study(load_study(study_file))
    assert json.loads((out / "report.json").read_text())["receptive_fields"] == {"seed": None, "report": None}
    assert "Not drawn: no seed had a checkpoint of every model" in (out / "report.md").read_text()


def test_a_failing_child_run_is_named_with_its_log_and_finished_runs_are_kept(tmp_path, tiny_recipe, ic03_dir):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(f"""
recipe: {tiny_recipe}
models: {{crnn_vgg: {{hidden_size: 16}}, grcnn: {{no_such_option: 1}}}}
seeds: [0]
overrides: [train.iterations=1, train.val_every=1, train.checkpoint_every=1]
benchmarks: [{{path: {ic03_dir}, lexicons: [none], limit: 2}}]
out: {tmp_path / 'study'}
""")
    with pytest.raises(RuntimeError, match=r"1 run\(s\) failed, see their logs: .*grcnn-s0.log \(exit code"):
        run_study(load_study(study_file), jobs=2)
    assert (tmp_path / "study" / "runs" / "crnn_vgg-s0" / "eval.json").is_file()
    assert "no_such_option" in (tmp_path / "study" / "runs" / "grcnn-s0.log").read_text()


def test_an_lmdb_benchmark_lends_its_first_images_to_the_receptive_field_grid(tmp_path, word_lmdbs):
    folder = image_folder(word_lmdbs[1], tmp_path / "inputs", 3)
    assert sorted(p.name for p in folder.glob("*.png")) == ["001.png", "002.png", "003.png"]
    assert (folder / "gt.txt").read_text().splitlines()[0] == "001.png\tcat"


def test_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path, tiny_recipe):
    """Its log is all it left: nothing to resume, so the study's own run is trained anew (a user's
    `zoo train` into such a folder is refused instead)."""
    from zoo.study import Study, train_run

    study = Study(recipe=str(tiny_recipe), models={"grcnn": {"recurrent_steps": 1, "hidden_size": 16}},
                  overrides=["train.iterations=1", "data.val=''"])
    run_dir = tmp_path / "runs" / "grcnn-s0"
    run_dir.mkdir(parents=True)
    (run_dir / "log.jsonl").write_text('{"step": 1, "loss": 99.0}\n')
    train_run(study, "grcnn", 0, run_dir)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert (run_dir / "last.pt").is_file() and [r["step"] for r in records] == [1] and records[0]["loss"] != 99.0


# ------------------------------------------------------------------------------------------------
# Data studies: variants of one model's data, from the same weights, chosen before the test sets


REPO = Path(__file__).resolve().parent.parent


def _word_image(word: str, shade: int):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (100, 32), 230 - shade)
    ImageDraw.Draw(image).text((6, 8), word, fill=20 + shade, font=ImageFont.load_default(14))
    return image


def _real_words(folder: Path, words: list[str]) -> Path:
    """A folder of word crops with gt.txt, as the dev folders and benchmarks are laid out."""
    folder.mkdir()
    for i, word in enumerate(words):
        _word_image(word, 10 * i).save(folder / f"{i}.png")
    (folder / "gt.txt").write_text("".join(f"{i}.png\t{word}\n" for i, word in enumerate(words)))
    return folder


def _lmdb(path: Path, words: list[str], shade: int) -> Path:
    import io

    from zoo.data.lmdb import LmdbWriter

    with LmdbWriter(path) as writer:
        for word in words:
            buffer = io.BytesIO()
            _word_image(word, shade).save(buffer, "PNG")
            writer.add(buffer.getvalue(), word.lower())
    return path


def _variant_study(tmp_path: Path, recipe: Path) -> Path:
    import torch

    from zoo.checkpoint import save_weights
    from zoo.factory import create_model

    words = ["cat", "dog", "tree", "house", "river", "stone", "light", "paper", "12", "404"] * 3
    init = save_weights(tmp_path / "init.safetensors", create_model("grcnn", num_classes=37, recurrent_steps=1,
                                                                    hidden_size=16), dtype=torch.float32)
    dev = _real_words(tmp_path / "dev_words", ["CAT", "dog", "Tree!", "404", "Fish", "bird"])
    test = _real_words(tmp_path / "test_words", ["stone", "LIGHT", "12"])
    study_file = tmp_path / "data.yaml"
    study_file.write_text(f"""
name: data
recipe: {recipe}
model: {{name: grcnn, options: {{recurrent_steps: 1, hidden_size: 16}}}}
init_from: {init}
variants:
  baseline: [data.train={_lmdb(tmp_path / 'plain.lmdb', words, 0)}]
  dark: [data.train={_lmdb(tmp_path / 'dark.lmdb', words, 60)}]
seeds: [0]
overrides: [train.iterations=2, train.val_every=2, train.checkpoint_every=2, "data.real_val=[{dev}]",
            train.select_on=real]
benchmarks: [{{path: {dev}, protocol: alphanumeric-strip}}]
final_benchmarks: [{{path: {test}, protocol: alphanumeric}}]
speed_batch: 2
receptive_field_images: 1
bootstrap: 100
out: {tmp_path / 'study'}
""")
    return study_file


def test_a_data_study_continues_every_variant_from_one_checkpoint_and_holds_the_test_set_back(tmp_path, tiny_recipe):
    from zoo.checkpoint import read_checkpoint
    from zoo.cli import main

    study_file = _variant_study(tmp_path, tiny_recipe)
    out, init = tmp_path / "study", str(tmp_path / "init.safetensors")
    run_study(load_study(study_file), source=str(study_file))
    for variant, lmdb in [("baseline", "plain.lmdb"), ("dark", "dark.lmdb")]:
        segment = read_checkpoint(out / "runs" / f"{variant}-s0" / "last.pt")["lineage"][-1]
        assert (segment["init_from"], segment["train data"], segment["steps"]) == (init, str(tmp_path / lmdb), 2)
        assert not (out / "runs" / f"{variant}-s0" / "final.json").exists()  # the test set is held back
    data = json.loads((out / "report.json").read_text())
    assert [r["variant"] for r in data["accuracy"]["dev_words none"]] == ["baseline", "dark"]
    assert [r["variant"] for r in data["summary"]] == ["baseline", "dark"]
    pair = data["significance"]["dev_words none"][0]
    assert (pair["A"], pair["B"]) == ("dark", "baseline") and "verdict" in pair  # each variant against baseline
    assert data["meta"]["init_from"] == init and data["meta"]["reference"] == "baseline"
    assert data["meta"]["train data"] == {"baseline": str(tmp_path / "plain.lmdb"), "dark": str(tmp_path / "dark.lmdb")}
    assert data["samples"] == {"baseline": "samples/baseline.png", "dark": "samples/dark.png"}
    assert all((out / p).is_file() for p in data["samples"].values())
    assert data["final"] == {"benchmarks": ["test_words"], "evaluated": False, "chosen": ""}
    assert not list(out.glob("cost_*.png"))  # one model: every variant costs the same
    markdown = (out / "report.md").read_text()
    assert "![dark](samples/dark.png)" in markdown and "test_words: not evaluated yet" in markdown
    assert "samples/baseline.png" in (out / "report.html").read_text()
    with pytest.raises(RecipeError, match="record the arm you chose"):
        run_study(load_study(study_file), final=True)
    evaluated = {p: p.stat().st_mtime for p in out.glob("runs/*/eval.json")}
    assert main(["ablate", str(study_file), "--set", "chosen=dark", "--final"]) == 0
    assert {p: p.stat().st_mtime for p in out.glob("runs/*/eval.json")} == evaluated  # runs not redone
    record = json.loads((out / "runs" / "dark-s0" / "final.json").read_text())
    assert record["chosen before"] == "dark" and list(record["benchmarks"]) == ["test_words"]
    final = json.loads((out / "report.json").read_text())["final"]
    assert final["evaluated"] and final["chosen"] == "dark"
    assert [r["variant"] for r in final["accuracy"]["test_words none"]] == ["baseline", "dark"]
    assert final["significance"]["test_words none"][0]["A"] == "dark"
    assert (out / "tables" / "final_accuracy_test_words_none.csv").is_file()
    assert "after **dark** had been chosen" in (out / "report.md").read_text()
    status = study_status(load_study(study_file))
    assert [(r["run"], r["state"]) for r in status] == [("baseline-s0", "finished"), ("dark-s0", "finished")]


def test_one_run_of_its_own_renders_the_benchmarks_the_study_renders_first(tmp_path, tiny_recipe):
    # before: `--only ARM:SEED` trained its 3000 steps, then failed "benchmark ... does not exist"
    # (only the whole study rendered its synth benchmarks)
    from zoo.cli import main

    study_file = _variant_study(tmp_path, tiny_recipe)
    rendered = tmp_path / "held_out.lmdb"
    text = study_file.read_text().replace("protocol: alphanumeric-strip}]",
                                          f"protocol: alphanumeric-strip}}, {{path: {rendered}, synth: {{n: 8, seed: 3}}}}]")
    study_file.write_text(text)
    assert main(["ablate", str(study_file), "--only", "dark:0"]) == 0
    record = json.loads((tmp_path / "study" / "runs" / "dark-s0" / "eval.json").read_text())
    assert rendered.is_dir() and len(record["benchmarks"]) == 2
    assert not (tmp_path / "study" / "runs" / "baseline-s0").exists()  # the one run only


def test_final_needs_every_run_finished_and_the_choice_recorded(tmp_path, tiny_recipe):
    study_file = _variant_study(tmp_path, tiny_recipe)
    with pytest.raises(RecipeError, match=r"--final: 2 run\(s\) are not finished \(baseline-s0, dark-s0\)"):
        run_study(load_study(study_file, ["chosen=dark"]), final=True)
    assert not (tmp_path / "study" / "runs").exists()  # refused before any work
    with pytest.raises(RecipeError, match="chosen 'bright' is not an arm; the arms: baseline, dark"):
        load_study(study_file, ["chosen=bright"])


def test_arms_of_models_variants_and_both(tmp_path):
    from zoo.study import Study

    models = Study(models={"crnn_vgg": {}, "rcnn": {}, "grcnn": {}})
    assert [a.label for a in models.arms()] == ["crnn_vgg", "rcnn", "grcnn"] and models.label_column == "model"
    assert models.pairs() == [("crnn_vgg", "rcnn"), ("crnn_vgg", "grcnn"), ("rcnn", "grcnn")]  # as before
    data = load_study_text(tmp_path, "model: {name: grcnn, options: {hidden_size: 16}}\n"
                                     "variants: {base: [a.b=1], fonts: [a.b=2], all: [a.b=3]}\n")
    assert [(a.label, a.model, a.options, a.overrides) for a in data.arms()] == [
        ("base", "grcnn", {"hidden_size": 16}, ["a.b=1"]), ("fonts", "grcnn", {"hidden_size": 16}, ["a.b=2"]),
        ("all", "grcnn", {"hidden_size": 16}, ["a.b=3"])]
    assert data.pairs() == [("fonts", "base"), ("all", "base"), ("fonts", "all")]
    data.compare = "reference"
    assert data.pairs() == [("fonts", "base"), ("all", "base")]
    both = load_study_text(tmp_path, "models: {crnn_vgg: {}, grcnn: {}}\nvariants: {base: [], fonts: [a.b=2]}\n")
    assert [a.label for a in both.arms()] == ["crnn_vgg-base", "crnn_vgg-fonts", "grcnn-base", "grcnn-fonts"]
    assert both.label_column == "variant" and both.arm("grcnn-fonts").variant == "fonts"
    for text, message in [
            ("models: {grcnn: {}}\nmodel: {name: grcnn}\n", "not both"),
            ("model: {name: grcnn}\nvariants: {base: data.train=x}\n", "must be a list of KEY=VALUE"),
            ("model: {name: grcnn}\nvariants: {a/b: []}\n", "plain folder name"),
            ("model: {name: grcnn}\nvariants: {base: []}\nreference: fonts\n", "reference 'fonts' is not an arm"),
            ("models: {grcnn: {}}\ncompare: reference\n", "compare: reference needs a `reference:` arm"),
            ("models: {grcnn: {}}\ninit_from: /no/weights.pt\n", "init_from '/no/weights.pt' is neither a file")]:
        with pytest.raises((RecipeError, FileNotFoundError), match=message):
            load_study_text(tmp_path, text)


def load_study_text(tmp_path: Path, text: str):
    (tmp_path / "s.yaml").write_text(text + f"benchmarks: [{{path: {tmp_path}}}]\n")
    return load_study(tmp_path / "s.yaml")


def test_named_benchmarks_survive_the_study_file_jobs_children_read(tmp_path, monkeypatch):
    """``--jobs`` children read OUT/study.yaml: a benchmark named there must load again by its name."""
    import yaml

    from zoo.data.benchmarks import DATA_ROOT_ENV
    from zoo.study.config import study_tree

    (tmp_path / "root" / "ic03").mkdir(parents=True)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "root"))
    (tmp_path / "s.yaml").write_text("models: {grcnn: {}}\nbenchmarks: [{name: ic03}]\n"
                                     "final_benchmarks: [{name: ic03, lexicons: [none]}]\n")
    study = load_study(tmp_path / "s.yaml")
    (tmp_path / "child.yaml").write_text(yaml.safe_dump(study_tree(study), sort_keys=False))
    again = load_study(tmp_path / "child.yaml")
    for before, after in [(study.benchmarks[0], again.benchmarks[0]), (study.final_benchmarks[0], again.final_benchmarks[0])]:
        assert after == before and after.path == str(tmp_path / "root" / "ic03")
    assert again.benchmarks[0].lexicons == ["none", "full"] and again.final_benchmarks[0].lexicons == ["none"]


def test_the_renderer_study_compares_nine_renderers_of_one_model_from_the_shipped_weights(monkeypatch):
    if not (REPO.parent / "shared" / "data" / "dev" / "svt_train" / "gt.txt").is_file():
        pytest.skip("the dev folders (../shared/data/dev) are not beside the checkout")
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", "9d30029^{commit}"], capture_output=True).returncode:
        pytest.skip("the checkout lacks commit 9d30029 (a shallow clone), whose grcnn the study starts from")
    monkeypatch.chdir(REPO)
    study = load_study("recipes/ablations/renderer.yaml")
    assert [a.label for a in study.arms()] == ["baseline", "fonts_unfiltered", "fonts", "scene", "words", "crops",
                                               "backgrounds", "capture", "all"]
    assert {(a.model, json.dumps(a.options)) for a in study.arms()} == {("grcnn", '{"hidden_size": 256}')}
    # every run from the grcnn its first runs started from (9d30029's), though grcnn has been shipped again
    assert study.init_from == "grcnn@9d30029" and study.seeds == [0, 1] and study.reference_arm() == "baseline"
    trains = [next(o for o in a.overrides if o.startswith("data.train=")) for a in study.arms()]
    assert len(set(trains)) == 9 and all("seed: 21" in a.overrides[1] and "n: 96000" in a.overrides[1]
                                         for a in study.arms())
    assert [b.protocol for b in study.benchmarks[:2]] == ["alphanumeric-strip"] * 2
    assert [b.name for b in study.final_benchmarks] == ["ic03", "svt", "ic13-857"]
    from zoo.study.runs import run_recipe

    # the scene preset's parts: one feature group each over the baseline preset, with pip's fonts
    synth = {label: run_recipe(study, label, 0, Path("unused")).data.train_synth for label in ("words", "backgrounds")}
    assert [(s.preset, s.fonts, s.settings) for s in synth.values()] == [
        ("baseline", "pip", {"words": "signs"}), ("baseline", "pip", {"p_photo": 0.3})]


def test_a_study_of_shipped_weights_trains_nothing_and_evaluates_a_reshipped_model_again(tmp_path, monkeypatch,
                                                                                       ic03_dir):
    import hashlib
    import shutil

    import torch

    from zoo import checkpoint
    from zoo.checkpoint import save_weights
    from zoo.evaluate import evaluate_model
    from zoo.factory import load_model
    from zoo.study.config import BenchmarkSpec, resolved

    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("crnn_vgg", "rcnn"):
        for suffix in (".safetensors", ".yaml"):
            shutil.copy(checkpoint.REGISTRY_DIR / f"{name}{suffix}", weights)
    monkeypatch.setattr(checkpoint, "REGISTRY_DIR", weights)
    study_file = tmp_path / "study.yaml"
    study_file.write_text(f"""
name: shipped-tiny
weights: shipped
models: {{crnn_vgg: {{}}, rcnn: {{}}}}
seeds: [0]
overrides: ["data.real_val=[]", "train.batch_size=2"]   # costs measured at batch 2: cheap
benchmarks: [{{path: {ic03_dir}, lexicons: [none, "50"], limit: 30}}]
speed_batch: 2
receptive_field_images: 1
bootstrap: 500
out: {tmp_path / 'study'}
""")
    run_study(load_study(study_file), source=str(study_file))
    out = tmp_path / "study"
    data = json.loads((out / "report.json").read_text())
    assert not list(out.glob("runs/*/*.pt")) and not (out / "curves.png").exists()  # nothing trained
    rows = {r["model"]: r for r in data["accuracy"]["ic03[:30] none"]}
    for name in ("crnn_vgg", "rcnn"):  # the shipped file's accuracy, as zoo eval measures it
        _, ev = evaluate_model(load_model(name), resolved(BenchmarkSpec(path=str(ic03_dir))), ["none"], 30)
        assert rows[name]["accuracy %"] == ev.rows[0]["accuracy (%)"]
        assert rows[name]["correct"] == f"{sum(r['none: correct'] for r in ev.per_image)}/30"
        assert rows[name]["params (M)"] > 4  # the shipped BiLSTM-256 models, not the registry's defaults
    assert data["summary"][0]["ic03[:30] none"] == f"{rows['crnn_vgg']['accuracy %']:.2f}"  # no "± 0.00" of one run
    assert data["meta"]["weights"]["rcnn"]["sha256"] == hashlib.sha256((weights / "rcnn.safetensors").read_bytes()).hexdigest()
    assert "Bootstrap over test images" in (out / "report.md").read_text()
    evaluated = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/eval.json")}
    assert sorted(evaluated) == ["crnn_vgg-s0", "rcnn-s0"]

    model = load_model("rcnn")  # re-ship rcnn: one weight changed
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    save_weights(weights / "rcnn.safetensors", model)
    run_study(load_study(study_file), source=str(study_file))
    again = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/eval.json")}
    assert again["crnn_vgg-s0"] == evaluated["crnn_vgg-s0"] and again["rcnn-s0"] != evaluated["rcnn-s0"]


@pytest.mark.parametrize("body, message", [
    ("models: {grcnn: {}}\nseeds: [0, 1]", "give one seed"),
    ("models: {grcnn: {hidden_size: 64}}\nseeds: [0]", "fix the architecture"),
    ("models: {grcnn_small: {}}\nseeds: [0]", "no shipped weights for 'grcnn_small'"),
    ("model: {name: grcnn}\nvariants: {a: [data.train=x]}\nseeds: [0]", "neither variants nor init_from"),
    ("models: {grcnn: {}}\nweights: pretrained", "weights must be trained"),
])
def test_a_study_of_shipped_weights_refuses_what_would_need_training(tmp_path, body, message):
    (tmp_path / "s.yaml").write_text(f"{body}\nweights: shipped\n" if "weights:" not in body else body + "\n")
    with pytest.raises(RecipeError, match=message):
        load_study(tmp_path / "s.yaml")


@pytest.mark.parametrize("body, message", [
    ("models: {nosuch: {}}", "nosuch: no such registered model"),
    ("models: {grcnn: {}}\nseeds: []", "seeds must be a non-empty list of whole numbers of at least 0, got []"),
    ("models: {grcnn: {}}\nseeds: [-1]", "seeds must be a non-empty list"),
    ("models: {grcnn: {}}\nspeed_batch: 0", "recipe key 'speed_batch' must be at least 1, got 0"),
    ("models: {grcnn: {}}\nreceptive_field_images: 0", "recipe key 'receptive_field_images' must be at least 1, got 0"),
])
def test_a_study_of_unknown_models_or_no_seeds_is_refused_before_any_work(tmp_path, body, message):
    # before: --status listed "nosuch-s0 not started", and seeds: [] ended in an IndexError
    (tmp_path / "s.yaml").write_text(body + "\n")
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_study(tmp_path / "s.yaml")


def test_a_study_that_is_not_a_mapping_names_its_file(tmp_path):
    (tmp_path / "s.yaml").write_text("- grcnn\n")  # before: "recipe key 'top level' must be a mapping, got [1]"
    with pytest.raises(RecipeError, match=r"study .*s.yaml: the top level must be a mapping of keys .*not a list"):
        load_study(tmp_path / "s.yaml")


def test_a_studys_recipe_is_read_beside_the_study_file_else_from_where_zoo_runs(tmp_path, monkeypatch):
    # before: `recipe:` was read from the current directory only, wherever the study file was
    studies, here = tmp_path / "studies", tmp_path / "here"
    for folder in (studies, here):
        (folder / "recipes").mkdir(parents=True)
        (folder / "recipes" / "mine.yaml").write_text("seed: 1\n")
    (here / "recipes" / "shared.yaml").write_text("seed: 2\n")
    monkeypatch.chdir(here)
    body = f"models: {{grcnn: {{}}}}\nbenchmarks: [{{path: {tmp_path}}}]\n"
    (studies / "s.yaml").write_text(body + "recipe: recipes/mine.yaml\n")
    assert load_study(studies / "s.yaml").recipe == str(studies / "recipes" / "mine.yaml")  # beside it first
    (studies / "s.yaml").write_text(body + "recipe: recipes/shared.yaml\n")
    assert load_study(studies / "s.yaml").recipe == "recipes/shared.yaml"
    (studies / "s.yaml").write_text(body + "recipe: recipes/nowhere.yaml\n")
    with pytest.raises(FileNotFoundError, match=rf"recipe recipes/nowhere.yaml is neither beside the study file "
                                                rf"\({studies / 'recipes/nowhere.yaml'}\) nor under the directory "
                                                rf"zoo runs in \({here / 'recipes/nowhere.yaml'}\)"):
        load_study(studies / "s.yaml")


def test_the_shipped_studies_name_their_recipe_from_the_repo_root(monkeypatch):
    import yaml

    from zoo.study.config import study_recipe

    monkeypatch.chdir(REPO)
    for path in sorted((REPO / "recipes" / "ablations").glob("*.yaml")):
        recipe = yaml.safe_load(path.read_text())["recipe"]
        assert Path(study_recipe(recipe, path.relative_to(REPO))).resolve() == (REPO / recipe).resolve()


def test_a_studys_set_takes_the_recipes_dotted_keys(tmp_path):
    (tmp_path / "s.yaml").write_text(f"model: {{name: grcnn, options: {{hidden_size: 16}}}}\n"
                                     f"variants: {{base: []}}\nbenchmarks: [{{path: {tmp_path}}}]\n")
    study = load_study(tmp_path / "s.yaml", ["model.options.recurrent_steps=2", "seeds=[4]"])
    assert study.model.options == {"hidden_size": 16, "recurrent_steps": 2} and study.seeds == [4]
    with pytest.raises(RecipeError, match=r"--set 'seeds': expected KEY=VALUE, e.g. seeds=\[0,1\]"):
        load_study(tmp_path / "s.yaml", ["seeds"])
