import json

from zoo.cli import main


def test_zoo_models_writes_all_formats(tmp_path, capsys):
    assert main(["models", "*rcnn*", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "grcnn_small" in out and "crnn_vgg" not in out
    rows = {r["model"]: r for r in json.loads((tmp_path / "models.json").read_text())["rows"]}
    assert set(rows) == {"grcnn", "grcnn_small", "rcnn"}
    assert rows["grcnn"]["RF (px)"] == 138 and rows["grcnn"]["frames/100px"] == 26
    assert rows["grcnn"]["params (M)"] == 14.26 and rows["grcnn"]["IC03 None"] == 91.2
    assert rows["grcnn"]["shipped IC03 None / 50 / Full"] == "69.30 / 95.47 / 92.79"  # registry/grcnn.yaml
    assert rows["grcnn_small"]["shipped IC03 None / 50 / Full"] is None  # nothing shipped
    assert (tmp_path / "models.csv").read_text().splitlines()[0].startswith("model,paper,params (M)")
    assert "| grcnn | GRCNN, Wang & Hu 2017 | 14.26 |" in (tmp_path / "models.md").read_text()


def test_unknown_pattern_is_an_error(capsys):
    assert main(["models", "nope*"]) == 2
    assert "no model matches 'nope*'" in capsys.readouterr().out
