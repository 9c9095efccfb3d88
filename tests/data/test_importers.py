import pytest

from zoo.data.charset import Charset
from zoo.data.dataset import CtcCollate, LmdbDataset
from zoo.data.importers import import_dataset
from zoo.data.lmdb import LmdbReader
from zoo.data.transforms import Preprocess
from zoo.factory import get_config


def _images(folder, names, word_image):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(word_image(name.split(".")[0], fmt="PNG" if name.endswith("png") else "JPEG"))


def test_gt_folder_with_lexicon(tmp_path, word_image):
    src = tmp_path / "gt"
    _images(src, ["a.jpg", "b.png"], word_image)
    (src / "gt.txt").write_text("a.jpg\tHello\nb.png\tNew York\n", encoding="utf-8")
    (src / "lex.txt").write_text("Hello,World\nNew York,Boston\n", encoding="utf-8")
    assert import_dataset(src, tmp_path / "gt.lmdb", lexicon_file=src / "lex.txt") == 2
    reader = LmdbReader(tmp_path / "gt.lmdb")
    assert reader.labels() == ["Hello", "New York"]
    assert reader.lexicon(2) == ("New York", "Boston")
    assert reader.image_bytes(2) == (src / "b.png").read_bytes()  # stored as given, not re-encoded


def test_file_word_list(tmp_path, word_image):
    _images(tmp_path / "imgs", ["x.jpg", "y.jpg"], word_image)
    listing = tmp_path / "train.txt"
    listing.write_text("imgs/x.jpg street\nimgs/y.jpg two words\n", encoding="utf-8")
    import_dataset(listing, tmp_path / "l.lmdb")
    assert LmdbReader(tmp_path / "l.lmdb").labels() == ["street", "two words"]


def test_index_labels_into_charset_file(tmp_path, word_image):
    _images(tmp_path, ["p.jpg", "q.jpg"], word_image)
    chars = tmp_path / "chars.txt"
    chars.write_text("中\n文\n字\n1\n", encoding="utf-8")
    listing = tmp_path / "data_train.txt"
    listing.write_text("p.jpg 0 1 2\nq.jpg 3 3 0\n", encoding="utf-8")
    import_dataset(listing, tmp_path / "zh.lmdb", charset_file=chars)
    assert LmdbReader(tmp_path / "zh.lmdb").labels() == ["中文字", "11中"]
    listing.write_text("p.jpg 1 2 3\nq.jpg 4 4 1\n", encoding="utf-8")
    import_dataset(listing, tmp_path / "zh1.lmdb", charset_file=chars, index_base=1)
    assert LmdbReader(tmp_path / "zh1.lmdb").labels() == ["中文字", "11中"]


def test_bad_sources_are_named_errors_and_leave_nothing(tmp_path, word_image):
    _images(tmp_path, ["ok.jpg"], word_image)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    listing = tmp_path / "list.txt"
    listing.write_text("ok.jpg fine\nbad.jpg broken\n", encoding="utf-8")
    # the message names the file, never an in-memory buffer (<_io.BytesIO object at 0x7f...>)
    with pytest.raises(ValueError, match=r"list.txt:2 \(bad.jpg\): not a readable image \(12 bytes in no format PIL "
                                         r"reads\)"):
        import_dataset(listing, tmp_path / "out.lmdb")
    listing.write_text("ok.jpg fine\nmissing.jpg gone\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"list.txt:2: image .*missing.jpg does not exist"):
        import_dataset(listing, tmp_path / "out.lmdb")
    listing.write_text("ok.jpg\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list.txt:1: expected 'file word'"):
        import_dataset(listing, tmp_path / "out.lmdb")
    chars = tmp_path / "c.txt"
    chars.write_text("a\nb\n", encoding="utf-8")
    listing.write_text("ok.jpg 0 7\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"indices \['0', '7'\] are not all integers in 0..1"):
        import_dataset(listing, tmp_path / "out.lmdb", charset_file=chars)
    assert not (tmp_path / "out.lmdb").exists()


def test_an_import_never_writes_over_its_own_input(tmp_path, word_image):
    src = tmp_path / "gt"
    _images(src, ["a.jpg", "b.png"], word_image)
    (src / "gt.txt").write_text("a.jpg\tHello\nb.png\tWorld\n", encoding="utf-8")
    before = sorted(p.name for p in src.iterdir())
    for out in (src, tmp_path):  # the source folder itself, or a folder holding it
        with pytest.raises(ValueError, match=r"--out .* (is|holds) the input .*: writing it would destroy"):
            import_dataset(src, out)
    assert sorted(p.name for p in src.iterdir()) == before
    assert import_dataset(src, src / "gt.lmdb") == 2  # beside the images is fine


def test_ic03_round_trip_with_lexicons(ic03_dir, tmp_path):
    """The first 12 IC03 images: gt folder -> LMDB (with their 50-word lexicons) -> loader."""
    src = tmp_path / "ic03"
    src.mkdir()
    gt = (ic03_dir / "gt.txt").read_text(encoding="utf-8").splitlines()[:12]
    lexicons = (ic03_dir / "lexicon_50.txt").read_text(encoding="utf-8").splitlines()[:12]
    for line in gt:
        name = line.split("\t")[0]
        (src / name).write_bytes((ic03_dir / name).read_bytes())
    (src / "gt.txt").write_text("\n".join(gt) + "\n", encoding="utf-8")
    (src / "lexicon_50.txt").write_text("\n".join(lexicons) + "\n", encoding="utf-8")
    out = tmp_path / "ic03.lmdb"
    assert import_dataset(src, out, lexicon_file=src / "lexicon_50.txt") == 12
    reader = LmdbReader(out)
    words = [line.split("\t")[1] for line in gt]
    assert reader.labels() == words
    for k in (1, 12):
        assert len(reader.lexicon(k)) == 50 and reader.lexicon(k)[0] == words[k - 1]
        assert reader.image_bytes(k) == (ic03_dir / gt[k - 1].split("\t")[0]).read_bytes()
    config = get_config("crnn_vgg")
    cs = Charset.from_config(config)
    ds = LmdbDataset(out, Preprocess.from_config(config, width_policy="fixed"), cs, frames=26, label_policy="error")
    batch = CtcCollate(cs)([ds[i] for i in range(len(ds))])
    assert batch.images.shape == (12, 1, 32, 100)
    assert batch.labels == [w.lower() for w in words]
    assert cs.decode(batch.targets[: batch.target_lengths[0]].tolist()) == words[0].lower()


def test_a_list_naming_images_outside_its_folder_is_refused(tmp_path, word_image):
    # before: ../ and absolute paths were read into the database from anywhere on the machine
    src = tmp_path / "gt"
    _images(src, ["a.jpg"], word_image)
    _images(tmp_path, ["secret.jpg"], word_image)
    (src / "gt.txt").write_text("a.jpg\tHello\n../secret.jpg\tWorld\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gt.txt:2: the image path '../secret.jpg' leads outside"):
        import_dataset(src, tmp_path / "out.lmdb")
    listing = src / "list.txt"
    listing.write_text(f"{tmp_path / 'secret.jpg'} World\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list.txt:1: the image path '/.*secret.jpg' leads outside"):
        import_dataset(listing, tmp_path / "out.lmdb")
    assert not (tmp_path / "out.lmdb").exists()


def test_an_empty_label_is_refused_naming_the_file_and_line(tmp_path, word_image):
    # before: 'b.png<TAB>' was imported with the label '' while a benchmark refuses the same gt.txt
    src = tmp_path / "src"
    _images(src, ["a.jpg", "b.png"], word_image)
    (src / "gt.txt").write_text("a.jpg\tHello\nb.png\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"1 sample\(s\) have an empty label: .*gt.txt:2 \(b.png\); write each "
                                         r"image's word, or remove its line"):
        import_dataset(src, tmp_path / "gt.lmdb")
    assert not (tmp_path / "gt.lmdb").exists()
