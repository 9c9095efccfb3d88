import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.ablate import (image_folder, load_study, paired_bootstrap, run_study, stop_children, study_status,
                        with_verdicts)
from zoo.train.recipe import RecipeError
from zoo.train.trainer import Interrupted


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
models: {{crnn_vgg: {{hidden_size: 16}}, grcnn: {{iterations: 1, hidden_size: 16}}}}
seeds: [0, 1]
overrides: [train.iterations=2, train.val_every=2, train.checkpoint_every=2]
benchmarks:
  - {{path: {ic03_dir}, lexicons: [none, "50"], limit: 6}}
  - {{path: {tmp_path / 'held-out.lmdb'}, synth: {{n: 5, seed: 3}}, protocol: alphanumeric, lexicons: [none, full]}}
speed_batch: 2
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
    for name in ["report.md", "report.html", "curves.png", "cost_ic03[:6]_none.png", "receptive_fields/report.html",
                 "tables/accuracy_ic03[:6]_50.csv", "tables/significance_ic03[:6]_50.md", "tables/summary.csv"]:
        assert (out / name).is_file(), name
    assert "| grcnn |" in report.read_text()
    evaluated = {p: p.stat().st_mtime for p in out.glob("runs/*/eval.json")}
    assert len(evaluated) == 4
    capsys.readouterr()
    run_study(load_study(study_file))  # finished runs are not redone
    assert "seed 0" not in capsys.readouterr().out
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
models: {{crnn_vgg: {{hidden_size: 16}}, grcnn: {{iterations: 1, hidden_size: 16}}}}
seeds: [0, 1]
overrides: [train.iterations=1, train.val_every=1, train.checkpoint_every=1]
benchmarks: [{{path: {ic03_dir}, lexicons: [none], limit: 2}}]
speed_batch: 2
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
    from zoo.ablate import Study, train_run

    study = Study(recipe=str(tiny_recipe), models={"grcnn": {"iterations": 1, "hidden_size": 16}},
                  overrides=["train.iterations=1", "data.val=''"])
    run_dir = tmp_path / "runs" / "grcnn-s0"
    run_dir.mkdir(parents=True)
    (run_dir / "log.jsonl").write_text('{"step": 1, "loss": 99.0}\n')
    train_run(study, "grcnn", 0, run_dir)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert (run_dir / "last.pt").is_file() and [r["step"] for r in records] == [1] and records[0]["loss"] != 99.0
