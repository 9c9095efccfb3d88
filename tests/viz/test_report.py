"""The `zoo viz rf` report, end to end on IC03 images (evaluation data: only looked at here)."""
import json

import pytest
import torch
from PIL import Image

from zoo import list_models
from zoo.cli import main
from zoo.data.transforms import Preprocess
from zoo.decode.ctc import greedy_decode
from zoo.viz import build_report
from zoo.viz.inputs import find_images, load_subjects, open_image


_BUILT = {}


@pytest.fixture
def report_dir(ic03_dir, tmp_path_factory):
    """One report for every registered model on two IC03 images, built once for this module."""
    if not _BUILT:
        out = tmp_path_factory.mktemp("viz")
        subjects = load_subjects(list_models(), [], seed=0, untrained_names=True)
        images = find_images([str(ic03_dir)], limit=2)
        report = build_report(subjects, images, out, "gradient", iterations=(1,), max_frames=2, seed=0)
        _BUILT.update(out=out, report=report, subjects=subjects, images=images)
    return _BUILT["out"], _BUILT["report"], _BUILT["subjects"], _BUILT["images"]


def png_size(path):
    with Image.open(path) as image:
        return image.format, image.size


def test_report_covers_every_registered_model(report_dir):
    out, report, subjects, images = report_dir
    on_disk = json.loads((out / "report.json").read_text())
    assert list(on_disk["models"]) == list_models()
    assert on_disk["models"]["crnn_vgg"]["theoretical"]["receptive_field"] == 54
    assert on_disk["models"]["grcnn"]["theoretical"]["receptive_field"] == 138
    assert on_disk["images"]["found"] == 860 and on_disk["images"]["left_out_by_limit"] == 858
    assert "gt.txt" in " ".join(on_disk["images"]["ignored_non_images"])
    for subject in subjects:
        entry = on_disk["models"][subject.name]
        assert entry["trained"] is False and "seed 0" in entry["weights"]
        x = Preprocess.from_config(subject.model.config)(open_image(images.paths[0]))
        with torch.no_grad():
            decoded = greedy_decode(subject.model(x[None]), subject.model.config.charset)[0]
        assert entry["images"][0]["decoded"] == decoded
        for path, image in zip(images.paths, entry["images"]):
            x = Preprocess.from_config(subject.model.config)(open_image(path))
            assert image["truth"] == images.label(path) and image["input_size"] == list(x.shape[1:])
            frames = [f["frame"] for f in image["frames"]]
            assert len(frames) == 2 and frames[0] == 0 and frames[-1] == subject.model.num_frames(x.shape[-1]) - 1
            for frame in image["frames"]:
                assert abs(sum(frame["column_mass"]) - 1) < 1e-3
                assert frame["extent50"] <= frame["extent90"]


def test_growth_with_iterations_reports_the_theoretical_field_of_each_t(report_dir):
    _, report, _, _ = report_dir
    rows = {(r["model"], r["iterations"]): r for r in report["growth_with_iterations"]}
    assert set(rows) == {("grcnn", 1), ("grcnn_small", 1), ("rcnn", 1)}
    # 38 px without recurrence, + 20 px per iteration (3 layers x 2 px x their jumps 2, 4, 4)
    assert all(row["theoretical RF (px)"] == 58 for row in rows.values())
    assert all(0 < row["ERF 50% (px)"] < row["ERF 90% (px)"] <= 58 for row in rows.values())


def test_report_writes_figures_html_and_tables(report_dir):
    out, report, _, images = report_dir
    figures = report["figures"]
    assert {"saliency_grid", "theoretical", "growth"} <= set(figures)
    gates = sorted(k for k in figures if k.startswith("gates_"))
    assert gates == [f"gates_{m}_{p.stem}" for m in ("grcnn", "grcnn_small") for p in images.paths]
    assert len([k for k in figures if k.startswith("frames_")]) == len(list_models()) * len(images.paths)
    for relative in figures.values():
        kind, (width, height) = png_size(out / relative)
        assert kind == "PNG" and width > 400 and height > 200
    html = (out / "report.html").read_text()
    assert "Untrained models:" in html and html.count("<img ") == len(figures)
    assert "| crnn_vgg | False | 54 | 4 |" in (out / "rf_summary.md").read_text()


def test_cli_writes_a_report_and_names_bad_input(ic03_dir, tmp_path, capsys):
    image = str(ic03_dir / "img_0003.jpg")
    assert main(["viz", "rf", "--models", "crnn_vgg", "--images", image, "--out", str(tmp_path / "r"),
                 "--frames", "1", "--iterations", ""]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["models"]["crnn_vgg"]["images"][0]["file"] == image
    assert report["growth_with_iterations"] == []
    assert main(["viz", "rf", "--models", "crnn_vgg", "--images", str(tmp_path / "missing.png"), "--out",
                 str(tmp_path / "x")]) == 1
    assert "missing.png: no such image file or directory" in capsys.readouterr().err
