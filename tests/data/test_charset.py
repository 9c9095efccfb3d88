import pytest

from zoo.alphabets import ALPHANUMERIC_36
from zoo.data.charset import ALPHANUMERIC_62, PRINTABLE_94, Charset, read_charset_lines
from zoo.factory import get_config


def test_named_charsets_sizes_and_case():
    assert Charset.named("alnum36").chars == ALPHANUMERIC_36
    assert Charset.named("alnum36").case == "fold-lower"
    assert len(ALPHANUMERIC_62) == 62 and len(set(ALPHANUMERIC_62)) == 62
    assert len(PRINTABLE_94) == 94 and " " not in PRINTABLE_94
    assert Charset.named("printable94").num_classes == 95


def test_encode_decode_blank_zero_convention():
    cs = Charset.named("alnum36")
    # class i >= 1 is chars[i - 1]: '0' is 1, 'a' is 11, 'z' is 36
    assert cs.encode("0az") == [1, 11, 36]
    assert cs.encode("Hello") == [18, 15, 22, 22, 25]
    assert cs.decode([18, 0, 15, 22, 0, 22, 25]) == "hello"
    assert Charset.from_config(get_config("crnn_vgg")) == cs


def test_case_policies():
    assert Charset.named("alnum62").encode("Aa") == [37, 11]
    assert Charset("AB", "fold-upper").encode("ab") == [1, 2]
    with pytest.raises(ValueError, match="outside the charset: 'b'"):
        Charset("AB", "keep").encode("Ab")


def test_unknown_characters_are_reported_not_stripped():
    cs = Charset.named("alnum36")
    assert cs.unknown("café!") == "é!"
    with pytest.raises(ValueError, match="é!"):
        cs.encode("café!")


def test_min_frames_counts_blanks_between_repeats():
    assert Charset.min_frames("hello") == 6      # l|l needs a blank
    assert Charset.min_frames("aaa") == 5
    assert Charset.min_frames("abc") == 3
    cs = Charset.named("alnum36")
    assert cs.fits("book", 5) and not cs.fits("book", 4)
    assert cs.fits("bOok", 5) and not cs.fits("bOok", 4)  # case folding makes "oo" a repeat


def test_charset_file_round_trip(tmp_path):
    chars = "中文字 ,a"
    cs = Charset(chars)
    path = tmp_path / "chars.txt"
    path.write_text("".join(c + "\n" for c in cs.chars), encoding="utf-8")
    assert read_charset_lines(path) == list(chars)
    assert Charset.resolve(str(path)) == cs
    assert Charset.resolve("alnum62").chars == ALPHANUMERIC_62


def test_bad_charsets_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="repeats 'a'"):
        Charset("aba")
    bad = tmp_path / "bad.txt"
    bad.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt:2: expected exactly one character"):
        Charset.from_file(bad)
    with pytest.raises(FileNotFoundError, match="neither a named charset"):
        Charset.resolve("no/such/file.txt")


def test_a_charset_file_with_a_repeat_or_nothing_is_named_with_its_lines(tmp_path):
    # before: "charset repeats 'a' (positions 0 and 1)", and "a charset needs at least one character", unnamed
    twice = tmp_path / "twice.txt"
    twice.write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"charset .*twice.txt: 'a' is on line 1 and again on line 3; .*delete one"):
        Charset.resolve(str(twice))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    for read in (Charset.from_file, read_charset_lines):
        with pytest.raises(ValueError, match=r"charset .*empty.txt is empty; it needs one character per line"):
            read(empty)
