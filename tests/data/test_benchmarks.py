"""The benchmark suite: each protocol's counts on the shared folders, name resolution under a data
root, and the errors for an absent benchmark or a folder with the wrong count."""
from pathlib import Path

import pytest
from PIL import Image

from zoo.data.benchmarks import (DATA_ROOT_ENV, SUITE, data_root, get_protocol, load_benchmark, load_resolved,
                                 paper_numbers, resolve_benchmarks)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(folder: str) -> Path:
    path = SHARED_DATA / folder
    if not (path / "gt.txt").is_file():
        pytest.skip(f"{path} not found (the shared benchmarks live in ../shared/data beside the checkout)")
    return path


def kept(name: str, folder: Path) -> list[str]:
    protocol = get_protocol(SUITE[name].protocol)
    return [s.name for s in load_benchmark(folder).samples if protocol.exclusion(s.label) is None]


def listed(gt: Path) -> list[str]:
    return [line.split("\t")[0] for line in gt.read_text().splitlines() if line.strip()]


def test_ic13_protocols_keep_1095_then_1015_then_857_the_listed_words():
    ic13 = shared("ic13")
    assert len(load_benchmark(ic13).samples) == 1095
    assert kept("ic13-1015", ic13) == listed(ic13 / "gt_1015.txt")  # the same images, in order
    assert kept("ic13-857", ic13) == listed(ic13 / "gt_857.txt")
    assert len(listed(ic13 / "gt_857.txt")) == 857


@pytest.mark.parametrize("name, folder, count, lexicons", [
    ("svt", "svt", 647, ["none", "50"]), ("ic03", "ic03", 860, ["none", "50", "full"]),
    ("ic13-857", "ic13", 857, ["none"]), ("ic13-1015", "ic13", 1015, ["none"])])
def test_each_shared_benchmark_resolves_by_name_with_its_count_and_lexicons(name, folder, count, lexicons):
    shared(folder)
    [item] = resolve_benchmarks(name, SHARED_DATA)
    assert item.path == SHARED_DATA / folder and item.spec.count == count
    benchmark = load_resolved(item)
    assert len(kept(name, item.path)) == count
    assert item.spec.settings(benchmark) == lexicons


def test_all_is_every_suite_benchmark_whose_folder_is_present(tmp_path):
    for folder in ("svt", "ic13"):
        (tmp_path / folder).mkdir()
    assert [r.spec.name for r in resolve_benchmarks("all", tmp_path)] == ["svt", "ic13-857", "ic13-1015"]
    with pytest.raises(FileNotFoundError, match=f"no suite folder under the data root {tmp_path / 'none'}"):
        resolve_benchmarks("all", tmp_path / "none")


def test_an_absent_benchmark_is_named_with_where_it_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"benchmark iiit5k: no folder {tmp_path / 'iiit5k'}"):
        resolve_benchmarks("iiit5k", tmp_path)
    with pytest.raises(FileNotFoundError, match="Did you mean 'cute80'"):
        resolve_benchmarks("cute8", tmp_path)
    with pytest.raises(ValueError, match="listed twice"):
        resolve_benchmarks("svt,svt", SHARED_DATA)


def test_a_folder_with_the_wrong_count_for_its_protocol_is_an_error(tmp_path):
    folder = tmp_path / "ic13"
    folder.mkdir()
    for i, word in enumerate(["Tiredness", "kills", "A"]):
        Image.new("RGB", (40, 16), "white").save(folder / f"word_{i}.png")
    (folder / "gt.txt").write_text("word_0.png\tTiredness\nword_1.png\tkills\nword_2.png\tA\n")
    [item] = resolve_benchmarks("ic13-857", tmp_path)
    with pytest.raises(ValueError, match="keeps 2 of the 3 words .* not the standard 857 of IC13-857"):
        load_resolved(item)
    # given as a path it is a plain folder: evaluated as it is, and never beside the papers' numbers
    [item] = resolve_benchmarks(str(folder), tmp_path, protocol="alphanumeric")
    assert not item.named and len(load_resolved(item).samples) == 3
    assert paper_numbers({"IC13-1015": {"None": 86.7}}, item, 3) == {}


def test_a_path_named_like_a_suite_folder_is_that_benchmark():
    ic03 = shared("ic03")
    [item] = resolve_benchmarks(str(ic03), Path("/nowhere"))
    assert item.spec.name == "ic03" and item.protocol == "ic03-860"


def test_the_data_root_is_the_flag_then_the_environment_then_shared(monkeypatch):
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert data_root() == Path("../shared/data")
    monkeypatch.setenv(DATA_ROOT_ENV, "/data/str")
    assert data_root() == Path("/data/str") and data_root("/flag") == Path("/flag")


def test_the_strip_protocol_keeps_every_word_and_drops_other_characters():
    strip = get_protocol("alphanumeric-strip")
    assert strip.exclusion("$4.00") is None and strip.normalise("$4.00") == "400"
    assert strip.exclusion("--") == "shorter than 1 characters"
    assert get_protocol("alphanumeric").exclusion("$4.00") == "non-alphanumeric characters"


def test_bad_text_files_are_errors_naming_the_file_and_line(tmp_path):
    Image.new("RGB", (40, 16), "white").save(tmp_path / "a.png")
    (tmp_path / "gt.txt").write_bytes(b"\xef\xbb\xbfa.png\tcafe\n")  # a byte-order mark: read as any editor would
    assert load_benchmark(tmp_path).samples[0].name == "a.png"
    (tmp_path / "gt.txt").write_bytes(b"a.png\tcaf\xe9\n")
    with pytest.raises(ValueError, match=r"gt.txt line 1: not UTF-8 .* save the file as UTF-8"):
        load_benchmark(tmp_path)
    (tmp_path / "gt.txt").write_bytes(b"a.png\tcafe\n")
    (tmp_path / "lexicon_50.txt").write_bytes(b"cafe,caf\xe9\n")
    with pytest.raises(ValueError, match="lexicon_50.txt line 1: not UTF-8"):
        load_benchmark(tmp_path)
    (tmp_path / "lexicon_50.txt").unlink()
    (tmp_path / "gt.txt").write_text("\n")
    with pytest.raises(ValueError, match="lists no image"):
        load_benchmark(tmp_path)


def test_a_gt_path_outside_the_benchmark_folder_is_refused_naming_the_file_line_and_path(tmp_path):
    # before: the image beside the folder (or anywhere, by an absolute path) was read as a benchmark image
    bench = tmp_path / "bench"
    bench.mkdir()
    Image.new("RGB", (40, 16), "white").save(bench / "a.png")
    Image.new("RGB", (40, 16), "white").save(tmp_path / "secret.png")
    for name in ("../secret.png", str(tmp_path / "secret.png")):
        (bench / "gt.txt").write_text(f"a.png\tok\n{name}\tword\n")
        with pytest.raises(ValueError, match=rf"gt.txt line 2: the image path '{name}' leads outside {bench}"):
            load_benchmark(bench)


def test_a_lexicon_file_that_is_a_folder_is_named(tmp_path):
    # before: [Errno 21] Is a directory: '.../lexicon_50.txt'
    Image.new("RGB", (40, 16), "white").save(tmp_path / "a.png")
    (tmp_path / "gt.txt").write_text("a.png\tok\n")
    (tmp_path / "lexicon_50.txt").mkdir()
    with pytest.raises(IsADirectoryError, match=r"lexicon .*lexicon_50.txt is a folder, not a text file"):
        load_benchmark(tmp_path)


@pytest.mark.parametrize("name", ["full", "none", "50k", "Full"])
def test_a_lexicon_file_named_like_a_setting_every_benchmark_has_is_refused(tmp_path, name):
    # before: lexicon_full.txt silently took the place of the Full setting (all ground truths), and
    # lexicon_none.txt could never be chosen
    Image.new("L", (40, 16), 255).save(tmp_path / "a.png")
    (tmp_path / "gt.txt").write_text("a.png\tword\n", encoding="utf-8")
    (tmp_path / f"lexicon_{name}.txt").write_text("word,other\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"lexicon_{name}.txt: '{name}' is a lexicon setting every benchmark has "
                                         rf".*rename the file"):
        load_benchmark(tmp_path)
    (tmp_path / f"lexicon_{name}.txt").rename(tmp_path / f"lexicon_{name}_own.txt")
    assert load_benchmark(tmp_path).lexicon_names == [f"{name}_own"]
