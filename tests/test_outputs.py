"""What an output may replace (zoo.outputs): never an input, never a user's file; the zoo's own
PNGs (marked by a text chunk), tables and JSON (marked by their provenance) and Markdown, HTML and
YAML (marked by a first-line comment), whichever writer wrote them."""
import json

import pytest
from PIL import Image

from zoo.outputs import is_zoo_json, is_zoo_png, is_zoo_table, is_zoo_text, refuse_input_as_output, save_png
from zoo.report import provenance, to_json, write_table, write_text


def test_an_output_may_not_be_or_hold_an_input(tmp_path):
    images = tmp_path / "images"
    with pytest.raises(ValueError, match=r"--out .*images is the input .*images: writing it would destroy"):
        refuse_input_as_output(images, [images])
    with pytest.raises(ValueError, match=r"--out .* holds the input .*gt.txt"):
        refuse_input_as_output(tmp_path, [images / "gt.txt"])
    refuse_input_as_output(images / "words.lmdb", [images / "gt.txt", images])  # beside the inputs is fine


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [1, 0])
    return fig


def _viz_figure(path):
    from zoo.viz.figures import save
    return save(_figure(), path)


def _training_curves(path):
    from zoo.train.curves import plot_curves
    log = path.with_name("log.jsonl")
    log.write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n" + json.dumps({"step": 2, "val_accuracy": 0.5}) + "\n")
    return plot_curves(log, path)


def _study_figure(path):
    from zoo.study.figures import cost_figure
    rows = [{"model": "grcnn", "GFLOPs": 1.0, "params (M)": 8.0, "infer img/s": 100.0, "accuracy %": 50.0}]
    return cost_figure(rows, "IC03 None", path, "one run")


def _pil_image(path):
    return save_png(Image.new("L", (4, 4)), path)


@pytest.mark.parametrize("draw", [_viz_figure, _training_curves, _study_figure, _pil_image],
                         ids=["viz", "training curves", "study", "PIL image"])
def test_every_png_the_zoo_writes_is_marked_and_replaces_only_a_marked_png(draw, tmp_path):
    # before: only `zoo data show` marked its PNGs; curves, viz and study figures replaced a user's PNG
    mine = tmp_path / "figure.png"
    Image.new("RGB", (4, 4), "red").save(mine)
    photo = mine.read_bytes()
    with pytest.raises(FileExistsError, match=r"figure.png exists and was not written by the zoo; .*remove it yourself"):
        draw(mine)
    assert mine.read_bytes() == photo
    mine.unlink()
    draw(mine)
    assert is_zoo_png(mine)
    draw(mine)  # the zoo's own figure, whichever writer drew it: replaced
    assert is_zoo_png(mine)


def test_a_table_replaces_only_a_table_the_zoo_wrote_and_checks_all_three_files_first(tmp_path):
    write_table([{"a": 1}], tmp_path, "t")
    assert all(is_zoo_table(tmp_path / f"t.{ext}") for ext in ("md", "csv", "json"))
    write_table([{"a": 2}], tmp_path, "t")  # its own: replaced
    assert json.loads((tmp_path / "t.json").read_text())["rows"] == [{"a": 2}]
    (tmp_path / "u.json").write_text('{"rows": [], "meta": {"mine": 1}}')  # a JSON without the zoo's provenance
    (tmp_path / "v.csv").write_text("my,data\n")  # a CSV without the zoo's JSON beside it
    for stem, theirs in (("u", "u.json"), ("v", "v.csv")):
        with pytest.raises(FileExistsError, match=rf"{theirs} exists and was not written by the zoo"):
            write_table([{"a": 3}], tmp_path, stem)
        assert not (tmp_path / f"{stem}.md").exists()  # refused before any of the three was written
    assert (tmp_path / "v.csv").read_text() == "my,data\n"


@pytest.mark.parametrize("name, first_line", [("report.md", "<!-- written by grcnn-zoo -->"),
                                              ("report.html", "<!-- written by grcnn-zoo -->"),
                                              ("study.yaml", "# written by grcnn-zoo")])
def test_markdown_html_and_yaml_carry_a_first_line_comment_and_replace_only_a_file_carrying_it(tmp_path, name,
                                                                                              first_line):
    # before: report.md, report.html and study.yaml replaced whatever file held their name
    import yaml

    out = write_text(tmp_path / name, "a: 1\n")
    assert out.read_text().splitlines() == [first_line, "a: 1"] and is_zoo_text(out)
    assert yaml.safe_load(out.read_text()) == {"a": 1} if name.endswith(".yaml") else True
    write_text(out, "a: 2\n")  # its own: replaced, marked once
    assert out.read_text().splitlines() == [first_line, "a: 2"]
    mine = tmp_path / f"notes{out.suffix}"
    mine.write_text("# my notes, not the zoo's\n")
    with pytest.raises(FileExistsError, match=rf"notes{out.suffix} exists and was not written by the zoo"):
        write_text(mine, "a: 3\n")
    assert mine.read_text() == "# my notes, not the zoo's\n"


def test_json_replaces_only_json_recording_the_zoos_provenance(tmp_path):
    report = to_json({"meta": provenance(), "rows": [1]}, tmp_path / "report.json")
    assert is_zoo_json(report)
    to_json({"evaluated": provenance(), "top1": 0.5}, report)  # a run's record: provenance one level down
    assert json.loads(report.read_text())["top1"] == 0.5
    for theirs in ('{"meta": {"mine": 1}}', "[1, 2]", "not json"):
        mine = tmp_path / "mine.json"
        mine.write_text(theirs)
        assert not is_zoo_json(mine)
        with pytest.raises(FileExistsError, match="mine.json exists and was not written by the zoo"):
            to_json({"meta": provenance()}, mine)
        assert mine.read_text() == theirs


def test_a_format_without_comments_names_what_it_replaces(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("a.png\tmine\n")
    with pytest.raises(FileExistsError, match="gt.txt exists and was not written by the zoo"):
        write_text(gt, "a.png\tzoo\n")  # plain text has no mark: the default refuses it
    write_text(gt, "a.png\tzoo\n", ours=lambda path: True)
    assert gt.read_text() == "a.png\tzoo\n"  # no comment added to a format without comments
