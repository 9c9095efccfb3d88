import json

import pytest

from zoo.cli import main


def test_zoo_models_writes_all_formats(tmp_path, capsys):
    assert main(["models", "*rcnn*", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "grcnn_small" in out and "crnn_vgg" not in out
    rows = {r["model"]: r for r in json.loads((tmp_path / "models.json").read_text())["rows"]}
    assert set(rows) == {"grcnn", "grcnn_small", "rcnn"}
    assert rows["grcnn"]["RF (px)"] == 138 and rows["grcnn"]["frames/100px"] == 26
    assert rows["grcnn"]["params (M)"] == 8.072 and rows["grcnn"]["IC03 None"] == 91.2  # shipped: BiLSTM-256
    import yaml

    from zoo.checkpoint import weights_dir
    measured = yaml.safe_load((weights_dir() / "grcnn.yaml").read_text())["evaluation"]["benchmarks"]["IC03-860"]
    assert rows["grcnn"]["shipped IC03 None / 50 / Full"] == " / ".join(  # as the card measured the shipped file
        f"{measured['word accuracy (%)'][k]:.2f}" for k in ("None", "50", "Full"))
    assert rows["grcnn_small"]["shipped IC03 None / 50 / Full"] is None  # nothing shipped
    assert (tmp_path / "models.csv").read_text().splitlines()[0].startswith("model,paper,measured,params (M)")
    assert "| grcnn | GRCNN, Wang & Hu 2017 | shipped | 8.072 |" in (tmp_path / "models.md").read_text()


def test_unknown_pattern_is_an_error(capsys):
    assert main(["models", "nope*"]) == 1
    assert "no model matches 'nope*'" in capsys.readouterr().err


def test_zoo_models_measures_the_shipped_configuration_where_weights_are_shipped(tmp_path):
    assert main(["models", "grcnn*", "--out", str(tmp_path)]) == 0
    rows = {r["model"]: r for r in json.loads((tmp_path / "models.json").read_text())["rows"]}
    # the shipped GRCNN has a BiLSTM-256 head: its size, not the release's BiLSTM-512 (14.26M)
    assert rows["grcnn"]["measured"] == "shipped" and rows["grcnn"]["head"] == "bilstm-256"
    assert rows["grcnn"]["params (M)"] < 14 and rows["grcnn"]["CNN params (M)"] == 5.293
    assert rows["grcnn_small"]["measured"] == "paper" and rows["grcnn_small"]["params (M)"] == 10.814


def test_results_go_to_stdout_and_messages_to_stderr(tmp_path, capsys):
    assert main(["models", "crnn*", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "crnn_vgg" in out and "wrote" not in out
    assert f"wrote {tmp_path / 'models.md'}" in err and "crnn_vgg" not in err


def test_json_prints_the_result_rows_and_nothing_else(capsys):
    assert main(["models", "crnn*", "--json"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert [r["model"] for r in payload["rows"]] == ["crnn_vgg"] and payload["title"].startswith("Registered models")
    assert err == ""
    from zoo.cli import JSON_VERBS, build_parser

    parser = build_parser()
    for path in JSON_VERBS:  # models, eval, predict, bench, data verify; each is run with --json in its tests
        assert parser.parse_args([*path, *(["x"] if path != ("models",) else []), "--json"]).json


def test_exit_codes_tell_failure_usage_and_interruption_apart(monkeypatch, capsys):
    from zoo.cli import models

    assert main(["models", "nope*"]) == 1  # a failure
    with pytest.raises(SystemExit) as usage:
        main(["models", "--no-such-option"])
    assert usage.value.code == 2  # argparse's usage error
    monkeypatch.setattr(models, "run", lambda args: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["models"]) == 130
    assert capsys.readouterr().err.strip().endswith("interrupted: stopped by SIGINT")


SLEEPS = """
import sys, time
import zoo.cli.models
def run(args):
    print("running", file=sys.stderr, flush=True)
    time.sleep(60)
zoo.cli.models.run = run
from zoo.cli import main
sys.exit(main(["models"]))
"""


def test_sigterm_stops_a_verb_with_one_line_and_143():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", SLEEPS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().strip() == "running"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and out == "" and err.strip() == "interrupted: stopped by SIGTERM"


def test_the_cli_makes_openmp_threads_wait_passively_unless_told_otherwise():
    """Set before torch loads libgomp (which reads it once): importing zoo.cli, what both entry points
    do first, must not import torch; a value the user set is kept."""
    import os
    import subprocess
    import sys
    from importlib.metadata import entry_points

    probe = "import os, sys, zoo.cli; print('torch' in sys.modules, os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "PASSIVE"]
    assert subprocess.run([sys.executable, "-c", probe], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                          capture_output=True, text=True, check=True).stdout.split() == ["False", "ACTIVE"]
    [script] = [e for e in entry_points(group="console_scripts") if e.name == "zoo"]
    assert script.value == "zoo.cli:main"


def test_help_shows_a_default_once_and_only_where_it_tells_something(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: all)" in text and "(default: None)" not in text and "(default: True)" not in text
    assert "(default: False)" not in text and "timed repeats per path (the median is reported) (default: 5)" in text


def test_the_rate_column_waits_for_a_second_of_measurements():
    from types import SimpleNamespace

    from zoo.report import rate

    Sample = SimpleNamespace
    burst = SimpleNamespace(_progress=[Sample(timestamp=10.0, completed=0), Sample(timestamp=10.0002, completed=100)],
                            speed=489_329.0, elapsed=0.3, completed=100)
    assert rate(burst) is None  # 100 images 0.2 ms apart are not 489,329 img/s
    burst.elapsed = 2.0
    assert rate(burst) == 50  # the average since the start, until the window spans a second
    steady = SimpleNamespace(_progress=[Sample(timestamp=10.0, completed=0), Sample(timestamp=12.0, completed=80)],
                             speed=40.0, elapsed=30.0, completed=900)
    assert rate(steady) == 40.0


def test_zoo_export_without_out_never_writes_into_the_weights_folder(tmp_path, monkeypatch, capsys):
    from zoo.checkpoint import REGISTRY_DIR

    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in REGISTRY_DIR.iterdir())
    assert main(["export", "rcnn", "--format", "safetensors"]) == 0
    assert (tmp_path / "runs" / "export" / "rcnn.safetensors").is_file()
    assert main(["export", str(REGISTRY_DIR / "rcnn.safetensors"), "--format", "safetensors"]) == 0
    assert sorted(p.name for p in REGISTRY_DIR.iterdir()) == before
    assert "wrote runs/export/rcnn.safetensors" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["eval", "grcnn", "--benchmark", "ic03", "--limit", "-3"], "argument --limit: must be at least 1, got -3"),
    (["eval", "grcnn", "--benchmark", "ic03", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["predict", "x.png", "--beam-width", "-1"], "argument --beam-width: must be at least 1, got -1"),
    (["viz", "rf", "--models", "grcnn", "--limit", "two"], "argument --limit: 'two' is not a whole number"),
    (["data", "synth", "--n", "-5", "--out", "x.lmdb"], "argument --n: must be at least 1, got -5"),
    (["data", "synth", "--n", "5", "--workers", "-1", "--out", "x.lmdb"], "argument --workers: must be at least 0"),
    (["data", "show", "x.lmdb", "-n", "0"], "argument -n: must be at least 1, got 0"),
    (["ablate", "study.yaml", "--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
])
def test_a_count_out_of_range_is_a_usage_error_naming_option_and_value(argv, message, capsys):
    # before: --limit -3 sliced from the end and evaluated 7 of 10 images
    with pytest.raises(SystemExit) as usage:
        main(argv)
    assert usage.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("signal_name, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_run_stopped_by_a_signal_exits_with_that_signals_code(monkeypatch, capsys, signal_name, code):
    from zoo.cli import models
    from zoo.train.stopping import Interrupted

    # the exit code follows the signal the run names, not words in its message
    stopped = Interrupted("training stopped at step 3; last.pt holds it", signal_name)
    monkeypatch.setattr(models, "run", lambda args: (_ for _ in ()).throw(stopped))
    assert main(["models"]) == code
    assert capsys.readouterr().err.strip() == "interrupted: training stopped at step 3; last.pt holds it"


@pytest.mark.parametrize("verb", ["train", "ablate", "synth-charset", "predict-lexicon", "import"])
def test_a_text_file_that_is_not_utf8_is_named_with_its_line(verb, tmp_path, capsys):
    # before: only "'utf-8' codec can't decode byte 0xe9 in position 73", no file, no line
    bad = tmp_path / "bad.txt"
    bad.write_bytes("first line\nsecond: caf".encode() + b"\xe9\n")
    image = tmp_path / "word.png"
    from PIL import Image
    Image.new("L", (100, 32), 200).save(image)
    argv = {"train": ["train", str(bad)], "ablate": ["ablate", str(bad)],
            "synth-charset": ["data", "synth", "--n", "2", "--charset", str(bad), "--out", str(tmp_path / "s.lmdb")],
            "predict-lexicon": ["predict", str(image), "--model", "crnn_vgg", "--lexicon", str(bad)],
            "import": ["data", "import", str(bad), "--out", str(tmp_path / "i.lmdb")]}[verb]
    assert main(argv) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{bad} line 2: not UTF-8" in err and "save the file as UTF-8" in err, err


def test_a_lexicon_with_a_byte_order_mark_reads_its_first_word(tmp_path, capsys):
    from PIL import Image
    image = tmp_path / "word.png"
    Image.new("L", (100, 32), 200).save(image)
    lexicon = tmp_path / "words.txt"
    lexicon.write_bytes(b"\xef\xbb\xbf311\nhouse\n")  # before: "line 1 '\ufeff311' has characters the model cannot emit"
    assert main(["predict", str(image), "--model", "crnn_vgg", "--lexicon", str(lexicon), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["lexicon word"] in ("311", "house")


@pytest.mark.parametrize("value", ["2", "-0.1", "nan", "half"])
def test_a_share_outside_0_to_1_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as usage:
        main(["data", "synth", "--n", "2", "--vertical", value, "--out", "x.lmdb"])
    assert usage.value.code == 2 and "argument --vertical" in capsys.readouterr().err


def test_models_and_predict_never_replace_a_users_tables_and_say_so_before_the_work(tmp_path, capsys):
    # before: a user's models.md or predictions.csv in --out was replaced without a word
    (tmp_path / "models.md").write_text("# my notes\n")
    assert main(["models", "crnn_vgg", "--out", str(tmp_path)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{tmp_path / 'models.md'} exists and was not written by the zoo" in err and "choose another --out" in err
    assert (tmp_path / "models.md").read_text() == "# my notes\n" and not (tmp_path / "models.json").exists()
    (tmp_path / "predictions.csv").write_text("file,text\n")
    # the image does not exist: the refusal comes before any image is looked for
    assert main(["predict", str(tmp_path / "absent.png"), "--out", str(tmp_path)]) == 1
    assert "predictions.csv exists and was not written by the zoo" in " ".join(capsys.readouterr().err.split())
    (tmp_path / "models.md").unlink()
    assert main(["models", "crnn_vgg", "--out", str(tmp_path)]) == 0
    assert main(["models", "rcnn", "--out", str(tmp_path)]) == 0  # its own tables: replaced
    assert "| rcnn |" in (tmp_path / "models.md").read_text()


def test_eval_refuses_an_out_that_cannot_take_its_tables_before_evaluating(tmp_path, monkeypatch, capsys):
    # before: a file given as --out failed with errno 17/20 after the whole evaluation
    from PIL import Image

    import zoo.suite

    monkeypatch.setattr(zoo.suite, "load_suite", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    bench = tmp_path / "bench"
    bench.mkdir()
    Image.new("L", (40, 16), 255).save(bench / "a.png")
    (bench / "gt.txt").write_text("a.png\tabc\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    argv = ["eval", "crnn_vgg", "--untrained", "--benchmark", str(bench), "--out"]
    assert main([*argv, str(notes)]) == 1
    assert f"{notes} is a file, not a folder" in " ".join(capsys.readouterr().err.split())
    assert main([*argv, str(notes / "eval")]) == 1
    assert f"{notes} is a file, not a folder, so {notes / 'eval'} cannot" in " ".join(capsys.readouterr().err.split())
    assert main([*argv, "/proc/zoo-eval"]) == 1
    assert "cannot write in /proc" in capsys.readouterr().err
    detail = tmp_path / "runs" / "crnn_vgg" / "bench"
    detail.mkdir(parents=True)
    (detail / "confusions.csv").write_text("mine\n")
    assert main([*argv, str(tmp_path / "runs")]) == 1
    assert "confusions.csv exists and was not written by the zoo" in " ".join(capsys.readouterr().err.split())
    assert notes.read_text() == "mine" and (detail / "confusions.csv").read_text() == "mine\n"
    (detail / "confusions.csv").unlink()
    (detail / "per_image.csv").write_text("mine\n")  # before: replaced after the evaluation
    assert main([*argv, str(tmp_path / "runs")]) == 1
    assert "per_image.csv exists and was not written by the zoo" in " ".join(capsys.readouterr().err.split())
    assert (detail / "per_image.csv").read_text() == "mine\n"
    (detail / "per_image.csv").unlink()
    monkeypatch.undo()  # now evaluate
    assert main([*argv, str(tmp_path / "runs")]) == 0
    assert main([*argv, str(tmp_path / "runs")]) == 0  # its own per_image.csv, beside its own eval table: replaced


def test_an_index_import_with_an_empty_charset_file_names_it(tmp_path, capsys):
    # before: "label indices ['0'] are not all integers in 0..-1", as though the list were wrong
    (tmp_path / "chars.txt").write_text("")
    (tmp_path / "list.txt").write_text("a.png 0\n")
    assert main(["data", "import", str(tmp_path / "list.txt"), "--charset", str(tmp_path / "chars.txt"),
                 "--out", str(tmp_path / "i.lmdb")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"charset {tmp_path / 'chars.txt'} is empty" in err and not (tmp_path / "i.lmdb").exists()
