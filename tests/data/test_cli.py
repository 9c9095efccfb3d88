import json

from pathlib import Path

from PIL import Image

from zoo.cli import main
from zoo.data.lmdb import LmdbReader


def test_verify_reports_the_documented_counts(broken_lmdb, tmp_path, capsys):
    assert main(["data", "verify", str(broken_lmdb), "--charset", "alnum36", "--max-width", "100",
                 "--out", str(tmp_path / "v")]) == 0
    rows = json.loads((tmp_path / "v" / "verify.json").read_text())["rows"]
    assert {r["check"]: r["count"] for r in rows} == {
        "samples": 8, "num-samples": 8, "undecodable": 1, "not utf8": 0, "missing key": 0, "empty": 1,
        "unknown chars": 1, "too long": 1, "with lexicon": 0}
    out = capsys.readouterr().out
    assert "unknown chars, e.g. #4 'café!'" in out and "too long, e.g. #6 'aaaaaaaaaaaaaaaaaaaa'" in out


def test_verify_json_prints_the_rows_alone_on_stdout(broken_lmdb, capsys):
    assert main(["data", "verify", str(broken_lmdb), "--charset", "alnum36", "--json"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)  # stdout is the JSON and nothing else
    assert {r["check"]: r["count"] for r in payload["rows"]}["undecodable"] == 1
    assert "unknown chars, e.g. #4" in err  # the examples are notes: stderr


def test_verify_schema_mismatch_exits_nonzero(tmp_path, capsys):
    import lmdb
    env = lmdb.open(str(tmp_path / "other.lmdb"))
    with env.begin(write=True) as txn:
        txn.put(b"something", b"else")
    env.close()
    assert main(["data", "verify", str(tmp_path / "other.lmdb")]) == 1
    assert "no 'num-samples' key" in capsys.readouterr().err


def test_show_writes_a_png_grid(broken_lmdb, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["data", "show", str(broken_lmdb), "-n", "8", "--out", str(out)]) == 0
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (4 * 240, 2 * (48 + 22 + 6))
    # the truncated JPEG (sample 2) is drawn as a red cell
    assert image.getpixel((240 + 20, 10)) == (230, 80, 80)


def test_show_says_when_the_lmdb_holds_fewer_samples_than_asked(broken_lmdb, tmp_path, capsys):
    # before: -n 100000 on 8 samples drew 8 without a word
    assert main(["data", "show", str(broken_lmdb), "-n", "100000", "--out", str(tmp_path / "all.png")]) == 0
    assert "holds 8 samples, fewer than -n 100000: all of them are shown" in capsys.readouterr().err
    assert Image.open(tmp_path / "all.png").size == (4 * 240, 2 * (48 + 22 + 6))
    assert main(["data", "show", str(broken_lmdb), "-n", "8", "--out", str(tmp_path / "eight.png")]) == 0
    assert "fewer than" not in capsys.readouterr().err


def test_import_and_synth_commands(tmp_path, capsys):
    assert main(["data", "synth", "--n", "10", "--out", str(tmp_path / "s.lmdb"), "--seed", "2", "--workers", "1"]) == 0
    assert len(LmdbReader(tmp_path / "s.lmdb")) == 10
    assert "rendered" in capsys.readouterr().out
    src = tmp_path / "src"
    src.mkdir()
    reader = LmdbReader(tmp_path / "s.lmdb")
    (src / "one.jpg").write_bytes(reader.image_bytes(1))
    (src / "gt.txt").write_text(f"one.jpg\t{reader.label(1)}\n", encoding="utf-8")
    assert main(["data", "import", str(src), "--out", str(tmp_path / "i.lmdb")]) == 0
    assert LmdbReader(tmp_path / "i.lmdb").labels() == [reader.label(1)]


def test_synth_set_changes_one_renderer_setting_and_a_bad_one_writes_nothing(tmp_path, capsys):
    assert main(["data", "synth", "--n", "4", "--out", str(tmp_path / "s.lmdb"), "--workers", "0",
                 "--set", "p_light=1", "--set", "words.upper=1", "--vertical", "0.5"]) == 0
    config = json.loads((tmp_path / "s.lmdb" / "synth.json").read_text())["config"]
    assert (config["p_light"], config["words"]["upper"], config["p_vertical"], config["p_photo"]) == (1.0, 1.0, 0.5, 0.0)
    assert main(["data", "synth", "--n", "4", "--out", str(tmp_path / "bad.lmdb"), "--set", "p_light=3"]) == 1
    assert "p_light: a probability within 0..1, got 3" in capsys.readouterr().err
    assert not (tmp_path / "bad.lmdb").exists()


def test_show_and_verify_never_write_into_the_data_set_or_over_a_users_file(broken_lmdb, tmp_path, capsys):
    # before: `zoo data show X.lmdb --out X.lmdb/data.mdb` replaced the database with a PNG
    data = (Path(broken_lmdb) / "data.mdb").read_bytes()
    assert main(["data", "show", str(broken_lmdb), "--out", str(Path(broken_lmdb) / "data.mdb")]) == 1
    assert "is the input" in capsys.readouterr().err
    assert main(["data", "verify", str(broken_lmdb), "--out", str(broken_lmdb)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert (Path(broken_lmdb) / "data.mdb").read_bytes() == data and not list(Path(broken_lmdb).glob("verify.*"))
    mine = tmp_path / "holiday.png"
    Image.new("RGB", (4, 4), "red").save(mine)
    photo = mine.read_bytes()
    assert main(["data", "show", str(broken_lmdb), "--out", str(mine)]) == 1
    assert "exists and was not written by the zoo" in " ".join(capsys.readouterr().err.split())
    assert mine.read_bytes() == photo
    ours = tmp_path / "samples.png"
    assert main(["data", "show", str(broken_lmdb), "-n", "4", "--out", str(ours)]) == 0
    first = ours.read_bytes()
    assert main(["data", "show", str(broken_lmdb), "-n", "2", "--out", str(ours)]) == 0  # its own grid: replaced
    assert ours.read_bytes() != first


def test_verify_writes_its_report_beside_the_data_set_never_inside_it(broken_lmdb, tmp_path, capsys):
    # before: --out X.lmdb/reports wrote into the database folder, and --out holding X.lmdb was refused
    assert main(["data", "verify", str(broken_lmdb), "--out", str(Path(broken_lmdb) / "reports")]) == 1
    assert "is inside the input" in capsys.readouterr().err
    assert sorted(p.name for p in Path(broken_lmdb).iterdir()) == ["data.mdb", "lock.mdb"]
    assert main(["data", "verify", str(broken_lmdb), "--out", str(Path(broken_lmdb).parent)]) == 0
    assert (Path(broken_lmdb).parent / "verify.json").is_file()


def _twelve(tmp_path, word_image, **keys):
    """An LMDB of 12 samples, then ``keys`` (name -> bytes) written over it, as a damaged copy would be."""
    import lmdb

    from zoo.data.lmdb import LmdbWriter

    path = tmp_path / f"twelve-{len(list(tmp_path.iterdir()))}.lmdb"
    with LmdbWriter(path) as writer:
        for i in range(12):
            writer.add(word_image(f"w{i}"), f"w{i}")
    env = lmdb.open(str(path))
    with env.begin(write=True) as txn:
        for key, value in keys.items():
            txn.put(key.replace("_", "-").encode(), value)
    env.close()
    return path


def test_verify_reports_a_num_samples_that_is_not_the_count_and_exits_1(tmp_path, word_image, capsys):
    # before: num-samples 5 or 0 over 12 samples passed verify (exit 0, nothing wrong) while eval, train and
    # show refused the database and pointed to verify; -3 ended in "__len__() should return >= 0"
    for count, problem in ((b"5", "num-samples (5) understates the samples: label-000000006 to label-000000012"),
                           (b"0", "num-samples (0) understates the samples: label-000000001 to label-000000012"),
                           (b"-3", "'num-samples' is -3, not a count")):
        path, report = _twelve(tmp_path, word_image, num_samples=count), tmp_path / f"report{int(count)}"
        assert main(["data", "verify", str(path), "--out", str(report)]) == 1  # the table first, then the error
        err = capsys.readouterr().err
        rows = {r["check"]: r["count"] for r in json.loads((report / "verify.json").read_text())["rows"]}
        assert rows["samples"] == 12 and rows["num-samples"] == int(count) and rows["undecodable"] == 0
        assert f"error: {path} does not follow the layout: {problem}" in err and "holds 12 samples" in err, err
        # before: with --json a failing verify printed nothing on stdout; its table is still the result
        assert main(["data", "verify", str(path), "--json"]) == 1
        out, err = capsys.readouterr()
        assert {r["check"]: r["count"] for r in json.loads(out)["rows"]}["num-samples"] == int(count)
        assert f"error: {path} does not follow the layout: {problem}" in err
    assert main(["data", "verify", str(_twelve(tmp_path, word_image))]) == 0


def test_verify_help_states_the_exit_codes_it_gives(capsys):
    # before: the help promised exit 2 for a database off the layout; verify exits 1, as every failure does
    import pytest

    with pytest.raises(SystemExit):
        main(["data", "verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Exits 0 when the database follows the layout, whatever the counts; 1 when it does not" in text
    assert "Exits 2" not in text


def test_a_label_that_is_not_utf8_is_named_by_every_verb_and_counted_by_verify(tmp_path, word_image, capsys):
    # before: "'utf-8' codec can't decode byte 0xe9 in position 3: unexpected end of data", naming nothing
    path = _twelve(tmp_path, word_image, label_000000002=b"caf\xe9")
    named = f"{path}: label-000000002 is b'caf\\xe9', not UTF-8"
    for verb in (["data", "show", str(path), "--out", str(tmp_path / "show.png")],
                 ["eval", "crnn_vgg", "--untrained", "--benchmark", str(path)]):
        assert main(verb) == 1
        assert named in capsys.readouterr().err
    assert main(["data", "verify", str(path), "--out", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    rows = json.loads((tmp_path / "report" / "verify.json").read_text())["rows"]
    assert {r["check"]: r["count"] for r in rows}["not utf8"] == 1
    assert "1 labels or lexicons are not UTF-8 (e.g. #2 'caf\\\\xe9')" in err, err
