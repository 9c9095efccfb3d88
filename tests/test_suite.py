"""The combined table of `zoo eval` over several models and benchmarks: its numbers are those of the
per-benchmark files, its total is weighted by images and counts IC13 once, and reported rows stand
only beside whole standard sets."""
import csv
import json
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.data.benchmarks import SUITE, Resolved
from zoo.evaluate import Evaluation
from zoo.suite import SuiteResult, combined_table, reference_rows

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def result(model, name, evaluated, rows):
    spec = SUITE[name]
    evaluation = Evaluation(None, [{"lexicon": k, "accuracy (%)": v} for k, v in rows.items()], [], [], [],
                            {"evaluated": evaluated}, [])
    return SuiteResult(model, Resolved(Path(spec.folder), spec.protocol, spec, True), None, evaluation)


def test_the_total_is_weighted_by_images_and_counts_a_subset_once():
    results = [result("a", "svt", 647, {"None": 50.0, "50": 90.0}), result("a", "ic13-857", 857, {"None": 70.0}),
               result("a", "ic13-1015", 1015, {"None": 60.0})]
    [row, *reference] = combined_table(results, reference_rows())
    total = round((50.0 * 647 + 60.0 * 1015) / (647 + 1015), 2)  # IC13-857 lies inside IC13-1015
    assert row == {"model": "a", "SVT-647 None": 50.0, "SVT-647 50": 90.0, "IC13-857 None": 70.0,
                   "IC13-1015 None": 60.0, "total None (1662 images)": total}
    baek = next(r for r in reference if r["model"] == "reported: GRCNN, Baek et al. 2019 (MJ+ST)")
    assert baek["SVT-647 None"] == 83.7 and baek["IC13-1015 None"] == 88.8
    assert baek["total None (1662 images)"] == round((83.7 * 647 + 88.8 * 1015) / 1662, 2)
    crnn = next(r for r in reference if r["model"] == "reported: CRNN, Shi et al. 2015")
    assert crnn["SVT-647 50"] == 96.4 and crnn["IC13-857 None"] is None


def test_reported_rows_never_stand_beside_a_subset():
    rows = combined_table([result("a", "svt", 100, {"None": 50.0})], reference_rows())
    assert [r["model"] for r in rows] == ["a"]


def test_zoo_eval_of_two_models_on_three_shared_benchmarks(tmp_path, capsys):
    if not all((SHARED_DATA / f / "gt.txt").is_file() for f in ("svt", "ic13", "ic03")):
        pytest.skip(f"the shared benchmarks are not in {SHARED_DATA} (../shared/data beside the checkout)")
    out = tmp_path / "out"
    assert main(["eval", "grcnn", "crnn_vgg", "--benchmark", "svt,ic13-857,ic03", "--data-root", str(SHARED_DATA),
                 "--limit", "40", "--out", str(out)]) == 0
    assert "word accuracy (%) on SVT-647, IC13-857, IC03-860" in capsys.readouterr().out
    suite = {r["model"]: r for r in json.loads((out / "suite.json").read_text())["rows"]}
    assert list(suite) == ["grcnn", "crnn_vgg"]  # 40 images each: no reported row beside them
    for model in suite:
        for name, title, settings in [("svt", "SVT-647", ["None", "50"]), ("ic13-857", "IC13-857", ["None"]),
                                      ("ic03", "IC03-860", ["None", "50", "Full"])]:
            rows = {r["lexicon"]: r for r in json.loads((out / model / name / "eval.json").read_text())["rows"]}
            assert list(rows) == settings
            assert all(suite[model][f"{title} {s}"] == rows[s]["accuracy (%)"] for s in settings)
            per_image = list(csv.DictReader((out / model / name / "per_image.csv").open()))
            assert len(per_image) == 40
            assert rows["None"]["accuracy (%)"] == round(100 * sum(int(r["none: correct"]) for r in per_image) / 40, 2)
        nones = [suite[model][f"{t} None"] for t in ("SVT-647", "IC13-857", "IC03-860")]
        assert suite[model]["total None (120 images)"] == round(sum(nones) / 3, 2)
    assert suite["grcnn"]["IC03-860 50"] >= 80  # the shipped model reads real words (96 on these 40)


def test_an_image_no_protocol_evaluates_is_never_run_through_a_model(tmp_path):
    import torch
    from PIL import Image

    from zoo.registry import ModelConfig
    from zoo.suite import load_suite, run_suite

    for i in range(3):
        Image.new("RGB", (40, 16), "white").save(tmp_path / f"{i}.png")
    (tmp_path / "gt.txt").write_text("0.png\tshop\n1.png\t$4.00\n2.png\texit\n")

    class Counting(torch.nn.Module):
        config, seen = ModelConfig(name="counting"), 0

        def forward(self, images):
            self.seen += len(images)
            return torch.zeros(len(images), 26, 37)

    model = Counting()
    [result] = run_suite({"m": model}, load_suite([Resolved(tmp_path, "ic03-860")], None))
    assert model.seen == 2 and result.evaluation.counts["filtered by protocol"] == 1
    assert result.evaluation.counts["evaluated"] == 2
