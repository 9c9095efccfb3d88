"""Evaluation: benchmark loading and its bad-input messages, protocols, metrics, order-free lexicon
decoding on IC03, and `zoo eval` end to end on an untrained model."""
import csv
import json
import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo.cli import main
from zoo.data.lmdb import LmdbWriter
from zoo.data.benchmarks import SUITE, Resolved, get_protocol, load_benchmark, paper_numbers
from zoo.evaluate import accuracy_by_length, confusions, evaluate, fold_case, lexicon_kind, one_minus_ned
from zoo.factory import get_config

CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
WORDS = ["house", "Shop", "june", "2002"]
LEXICONS = ["house,shop,june", "june,shop,hose", "june,house,jane", "2002,2003,june"]


def make_folder(root, words=WORDS, lexicons=LEXICONS, gt_lines=None):
    root.mkdir(parents=True, exist_ok=True)
    for i, _ in enumerate(words):
        Image.new("RGB", (60 + 10 * i, 20), (200, 30 * i, 90)).save(root / f"img_{i + 1}.png")
    lines = gt_lines or [f"img_{i + 1}.png\t{w}" for i, w in enumerate(words)]
    (root / "gt.txt").write_text("\n".join(lines) + "\n")
    if lexicons is not None:
        (root / "lexicon_50.txt").write_text("\n".join(lexicons) + "\n")
    return root


def spelled(words, frames=26, generator=None):
    """Log-probs whose frames spell each word (case-folded) clearly, with a little noise."""
    generator = generator or torch.Generator().manual_seed(0)
    logits = torch.randn(len(words), frames, len(CHARSET) + 1, generator=generator) * 0.3
    logits[..., 0] += 4
    for row, word in enumerate(words):
        for position, char in zip(range(2, frames, 3), word.lower()):
            logits[row, position, CHARSET.index(char) + 1] += 10
    return logits.log_softmax(-1)


def test_folder_benchmark_decodes_every_setting(tmp_path):
    bench = load_benchmark(make_folder(tmp_path / "b"))
    assert bench.lexicon_names == ["50"] and [s.label for s in bench.samples] == WORDS
    item = Resolved(bench.path, "ic03-860", SUITE["ic03"])
    result = evaluate(spelled(WORDS), CHARSET, bench, get_protocol("ic03-860"), ["none", "50", "full"],
                      paper=paper_numbers({"IC03-860": {"None": 91.2, "50": 98.8}}, item, 4))
    # 4 images are not the papers' 860: no paper number beside them
    assert [(r["lexicon"], r["accuracy (%)"], r["paper (%)"]) for r in result.rows] == [
        ("None", 100.0, None), ("50", 100.0, None), ("Full", 100.0, None)]
    assert result.per_image[1]["ground truth"] == "shop" and result.per_image[1]["50: choice"] == "shop"
    assert result.counts["evaluated"] == 4 and result.counts["filtered by protocol"] == 0
    assert result.counts["ground truth not in lexicon 50"] == 0
    beam = evaluate(spelled(WORDS), CHARSET, bench, get_protocol("ic03-860"), ["none"], decoder="beam", beam_width=5)
    assert beam.rows[0]["accuracy (%)"] == 100.0 and beam.per_image[3]["none: choice"] == "2002"


def test_the_papers_number_stands_beside_the_whole_ic03_860_only():
    ic03 = Resolved(Path("ic03"), "ic03-860", SUITE["ic03"])
    assert paper_numbers(get_config("grcnn").reported, ic03, 860)["50"] == 98.8
    assert paper_numbers(get_config("crnn_vgg").reported, ic03, 860)["None"] == 89.4
    assert "Full" not in paper_numbers(get_config("rcnn").reported, ic03, 860)  # RCNN reported no IC03 number
    assert paper_numbers(get_config("grcnn").reported, ic03, 100) == {}  # a subset (--limit 100)
    assert paper_numbers(get_config("grcnn").reported, Resolved(Path("x"), "alphanumeric"), 860) == {}  # not a suite set
    assert paper_numbers(get_config("grcnn").reported, Resolved(Path("svt"), "alphanumeric", SUITE["svt"]), 647) == \
        {"None": 81.5, "50": 96.3}


@pytest.mark.parametrize("method", ["edit", "trie", "exhaustive"])
def test_large_lexicon_methods(tmp_path, method):
    bench = load_benchmark(make_folder(tmp_path / "b"))
    vocabulary = ["house", "hose", "shop", "shoe", "june", "jane", "2002", "zzzzzzzzzz"]
    frames = spelled(["housr", "shop", "jume", "qqqqqqqq"])  # the last is far from every word
    result = evaluate(frames, CHARSET, bench, get_protocol("ic03-860"), ["none", "50k"], large_method=method,
                      vocabulary=lambda: vocabulary)
    choices = [r["50k: choice"] for r in result.per_image]
    assert choices[:3] == ["house", "shop", "june"]
    if method == "edit":  # nothing within delta 3 of "qqqqqqqq": the lexicon-free output stands, counted
        assert choices[3] == "qqqqqqqq" and result.counts["no candidate (50k)"] == 1
    elif method == "exhaustive":  # every word is scored: some word is always chosen
        assert choices[3] in vocabulary
    else:  # the beam kept no complete word: an empty answer, counted
        assert choices[3] == "" and result.counts["no candidate (50k)"] == 1
    assert result.counts["ground truth not in lexicon 50k"] == 0


def test_lexicon_choice_over_the_model_output_not_the_string(tmp_path):
    # the frames spell "hose" (not in image 1's lexicon): the likelihood must prefer "house" to "shop"
    bench = load_benchmark(make_folder(tmp_path / "b"))
    log_probs = spelled(["hose", "shop", "jume", "2002"])
    result = evaluate(log_probs, CHARSET, bench, get_protocol("ic03-860"), ["none", "50"])
    assert [r["50: choice"] for r in result.per_image] == ["house", "shop", "june", "2002"]
    assert [r["none: choice"] for r in result.per_image] == ["hose", "shop", "jume", "2002"]


def test_protocol_filters_and_counts(tmp_path):
    words = ["house", "ab", "e-mail", "Shop"]
    bench = load_benchmark(make_folder(tmp_path / "b", words, lexicons=None))
    result = evaluate(spelled(["house", "ab", "email", "shop"]), CHARSET, bench, get_protocol("ic03-860"), ["none", "full"])
    assert result.counts["evaluated"] == 2 and result.counts["filtered by protocol"] == 2
    assert [r["file"] for r in result.per_image] == ["img_1.png", "img_4.png"]
    exact = get_protocol("exact")
    assert exact.normalise("Shop") == "Shop" and get_protocol("ic03-860").normalise("Shop!") == "shop"
    assert get_protocol("ic03-860").label == "ic03-860, case-insensitive, alphanumeric, >= 3 characters"


def test_gt_line_without_tab_names_file_and_line(tmp_path):
    root = make_folder(tmp_path / "b", gt_lines=["img_1.png\thouse", "img_2.png shop", "img_3.png\tjune", "img_4.png\t2002"])
    with pytest.raises(ValueError, match=r"gt.txt line 2: expected 'file<TAB>word'"):
        load_benchmark(root)


def test_missing_images_fail_unless_allowed_and_are_counted(tmp_path):
    root = make_folder(tmp_path / "b")
    (root / "img_3.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\).*gt.txt line 3: img_3.png"):
        load_benchmark(root)
    bench = load_benchmark(root, allow_missing=True)
    assert [s.name for s in bench.samples] == ["img_1.png", "img_2.png", "img_4.png"]
    assert bench.samples[2].lexicons["50"] == ["2002", "2003", "june"]  # line 4 still goes with image 4
    result = evaluate(spelled(["house", "shop", "2002"]), CHARSET, bench, get_protocol("ic03-860"), ["none", "50", "full"])
    assert result.counts["missing images"] == 1 and result.counts["images listed"] == 4
    assert result.rows[1]["accuracy (%)"] == 100.0 and result.rows[1]["images"] == 3
    assert "june" in load_benchmark(root, allow_missing=True).labels  # Full keeps the missing image's word
    assert any("img_3.png" in p for p in result.problems)


def test_lexicon_line_count_mismatch_and_empty_lexicon(tmp_path):
    root = make_folder(tmp_path / "short", lexicons=LEXICONS[:3])
    with pytest.raises(ValueError, match=r"lexicon_50.txt: 3 lines for the 4 images"):
        load_benchmark(root)
    root = make_folder(tmp_path / "empty", lexicons=[LEXICONS[0], LEXICONS[1], " , ", LEXICONS[3]])
    with pytest.raises(ValueError, match=r"lexicon_50.txt line 3: empty lexicon"):
        load_benchmark(root)


def test_lexicon_without_the_ground_truth_is_reported(tmp_path):
    root = make_folder(tmp_path / "b", lexicons=[LEXICONS[0], "jane,hose,shoe", LEXICONS[2], LEXICONS[3]])
    result = evaluate(spelled(WORDS), CHARSET, load_benchmark(root), get_protocol("ic03-860"), ["none", "50"])
    assert result.counts["ground truth not in lexicon 50"] == 1
    assert any("'shop' of img_2.png (gt.txt line 2) is not in its lexicon" in p for p in result.problems)
    assert result.rows[1]["accuracy (%)"] == 75.0


def test_each_lexicon_setting_is_of_one_kind_and_an_unknown_one_names_those_there_are(tmp_path):
    bench = load_benchmark(make_folder(tmp_path / "b"))
    assert [lexicon_kind(s, bench) for s in ("50", "full", "50k")] == ["per-image", "full", "large"]
    with pytest.raises(ValueError, match=r"lexicon setting '1k' is not available for .*; available: none, full, 50k, 50"):
        evaluate(spelled(WORDS), CHARSET, bench, get_protocol("ic03-860"), ["none", "1k"])


def test_lmdb_benchmark_with_per_sample_lexicons(tmp_path):
    root = make_folder(tmp_path / "b")
    with LmdbWriter(tmp_path / "b.lmdb") as writer:
        for i, (word, lexicon) in enumerate(zip(WORDS, LEXICONS), 1):
            writer.add((root / f"img_{i}.png").read_bytes(), word, lexicon.split(","))
    bench = load_benchmark(tmp_path / "b.lmdb")
    assert bench.lexicon_names == ["3"] and bench.samples[3].lexicons["3"] == ["2002", "2003", "june"]
    result = evaluate(spelled(WORDS), CHARSET, bench, get_protocol("ic03-860"), ["none", "3", "full"])
    assert [r["accuracy (%)"] for r in result.rows] == [100.0, 100.0, 100.0]
    with LmdbWriter(tmp_path / "partial.lmdb") as writer:
        writer.add((root / "img_1.png").read_bytes(), "house", ["house"])
        writer.add((root / "img_2.png").read_bytes(), "shop")
    with pytest.raises(ValueError, match="1 of 2 samples have a lexicon"):
        load_benchmark(tmp_path / "partial.lmdb")


def test_metrics_on_known_strings():
    assert one_minus_ned(["hose", "shop"], ["house", "shop"]) == pytest.approx((1 - 1 / 5 + 1) / 2)
    assert accuracy_by_length(["abc", "abd", "abcd"], ["abc", "abc", "abcd"]) == [
        {"length": 3, "images": 2, "correct": 1, "accuracy (%)": 50.0},
        {"length": 4, "images": 1, "correct": 1, "accuracy (%)": 100.0}]
    assert confusions(["hoose", "sh0p", "jun"], ["house", "shop", "june"]) == [
        {"truth": "u", "predicted": "o", "count": 1}, {"truth": "o", "predicted": "0", "count": 1},
        {"truth": "e", "predicted": "(deleted)", "count": 1}]


def test_fold_case_adds_the_probabilities_of_both_cases():
    probs = torch.tensor([[[0.1, 0.2, 0.3, 0.4]]])  # blank, a, A, b
    folded, charset = fold_case(probs.log(), "aAb")
    assert charset == "ab"
    torch.testing.assert_close(folded.exp(), torch.tensor([[[0.1, 0.5, 0.4]]]))


def test_ic03_lexicon_choices_ignore_word_order_and_constant_outputs_score_near_chance(ic03_dir):
    bench = load_benchmark(ic03_dir)
    protocol = get_protocol("ic03-860")
    # the published file lists the ground truth first: order must not matter (first 200 images)
    subset = bench.first(200)
    generator = torch.Generator().manual_seed(1)
    noisy = (torch.randn(len(subset.samples), 26, 37, generator=generator) * 3).log_softmax(-1)
    first = evaluate(noisy, CHARSET, subset, protocol, ["50"])
    rng = random.Random(0)
    for sample in subset.samples:
        rng.shuffle(sample.lexicons["50"])
    shuffled = evaluate(noisy, CHARSET, subset, protocol, ["50"])
    assert [r["50: choice"] for r in first.per_image] == [r["50: choice"] for r in shuffled.per_image]
    assert first.rows[1]["accuracy (%)"] < 5.0
    bench = load_benchmark(ic03_dir)  # unshuffled
    # an empty prediction (certain blanks) and a constant uniform one: near the 2% of chance, never
    # the 17% that favouring the first word would give (an empty output favours short words, and 3-letter
    # words are 17% of IC03, hence a little above 2%)
    empty = torch.full((len(bench.samples), 26, 37), -10.0)
    empty[..., 0] = 0.0
    whole = paper_numbers(get_config("grcnn").reported, Resolved(ic03_dir, "ic03-860", SUITE["ic03"]), 860)
    result = evaluate(empty.log_softmax(-1), CHARSET, bench, protocol, ["50", "full"], paper=whole)
    assert result.rows[1]["accuracy (%)"] < 5.0 and result.rows[2]["accuracy (%)"] < 1.0
    # all 860 images: the paper's numbers stand beside; the 200-image subset had none
    assert [r["paper (%)"] for r in result.rows] == [91.2, 98.8, 97.8] and result.counts["evaluated"] == 860
    partial = paper_numbers(get_config("grcnn").reported, Resolved(ic03_dir, "ic03-860", SUITE["ic03"]), 200)
    assert evaluate(noisy, CHARSET, subset, protocol, ["50"], paper=partial).rows[1]["paper (%)"] is None
    uniform = evaluate(torch.zeros(len(bench.samples), 26, 37).log_softmax(-1), CHARSET, bench, protocol, ["50"])
    assert uniform.rows[1]["accuracy (%)"] < 5.0


def test_zoo_eval_json_is_the_combined_table(tmp_path, capsys):
    root = make_folder(tmp_path / "bench")
    assert main(["eval", "grcnn_small", "--untrained", "--benchmark", str(root), "--lexicon", "none,50", "--json"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["title"].startswith("UNTRAINED word accuracy (%) on bench") and "UNTRAINED MODEL" in err
    assert payload["rows"][0]["model"] == "grcnn_small" and "bench None" in payload["rows"][0]


def test_zoo_eval_end_to_end_on_an_untrained_model(tmp_path, capsys):
    root = make_folder(tmp_path / "bench")
    out = tmp_path / "out"
    code = main(["eval", "grcnn_small", "--untrained", "--benchmark", str(root), "--lexicon", "none,50,full",
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0 and "UNTRAINED MODEL" in printed.err and "ic03-860, case-insensitive" in printed.out
    payload = json.loads((out / "grcnn_small" / "bench" / "eval.json").read_text())
    assert [r["lexicon"] for r in payload["rows"]] == ["None", "50", "Full"]
    assert payload["meta"]["untrained"] is True and payload["meta"]["counts"]["evaluated"] == 4
    suite = json.loads((out / "suite.json").read_text())["rows"]
    assert [r["model"] for r in suite] == ["grcnn_small"]  # a path is no standard set: no reported rows
    assert suite[0]["bench 50"] == payload["rows"][1]["accuracy (%)"]
    assert suite[0]["total None (4 images)"] == payload["rows"][0]["accuracy (%)"]
    out = out / "grcnn_small" / "bench"
    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert [r["file"] for r in rows] == [f"img_{i}.png" for i in range(1, 5)]
    assert {"ground truth", "raw prediction", "50: choice", "50: correct", "full: score"} <= set(rows[0])
    assert all(r["50: choice"] in lex.split(",") for r, lex in zip(rows, LEXICONS))
    assert (out / "by_length.md").is_file() and (out / "confusions.csv").is_file()


def test_zoo_eval_reads_a_recipe_and_reports_bad_input(tmp_path, capsys):
    from zoo.cli import build_parser
    from zoo.cli.eval import resolve_options

    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: grcnn\nbenchmark: ic03\nlexicon: [none, 50, full]\ndecoder: beam\n")
    options = resolve_options(build_parser().parse_args(["eval", "--recipe", str(recipe), "--decoder", "greedy"]))
    assert options["benchmark"] == "ic03" and options["lexicon"] == "none,50,full"
    assert options["model"] == ["grcnn"] and options["decoder"] == "greedy" and options["delta"] == 3
    recipe.write_text("model: grcnn_small\nlexicons: [none]\n")
    assert main(["eval", "--recipe", str(recipe)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown recipe key 'lexicons'. Did you mean 'lexicon' or" in err  # read as training recipes are
    recipe.write_text("model: grcnn\nbeam_width: wide\n")
    assert main(["eval", "--recipe", str(recipe)]) == 1
    assert "recipe key 'beam_width' must be int, got 'wide'" in capsys.readouterr().err
    recipe.write_text("- grcnn\n")  # before: "unknown key(s) ['grcnn']"
    assert main(["eval", "--recipe", str(recipe)]) == 1
    assert "an evaluation recipe is a mapping of keys" in capsys.readouterr().err
    assert main(["eval", "grcnn_small", "--untrained", "--benchmark", str(tmp_path / "nowhere")]) == 1
    assert "no such path" in capsys.readouterr().err
    assert main(["eval", "grcnn_small", "--untrained", "--benchmark", "ic13-875"]) == 1
    assert "Did you mean 'ic13-857'" in capsys.readouterr().err


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_zoo_eval_at_lower_precision_calibrates_on_rendered_words(precision, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # int8 renders its calibration words under ./runs/data
    root = make_folder(tmp_path / "bench")
    assert main(["eval", "crnn_vgg", "--untrained", "--precision", precision, "--benchmark", str(root),
                 "--out", str(tmp_path / "out")]) == 0
    assert f"crnn_vgg ({precision})" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "crnn_vgg" / "bench" / "eval.json").read_text())["meta"]["precision"] == precision
    assert (tmp_path / "runs/data/calibration-256.lmdb").is_dir() == (precision == "int8")
