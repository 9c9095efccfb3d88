import re
import signal
import subprocess
import sys

import lmdb
import pytest

from zoo.data.lmdb import LmdbReader, LmdbWriter, SchemaError, image_key


def test_public_layout_round_trip(tmp_path, word_image):
    path = tmp_path / "x.lmdb"
    jpg = word_image("abc")
    with LmdbWriter(path) as writer:
        writer.add(jpg, "abc", lexicon=["abc", "abd", "xyz"])
        writer.add(jpg, "Straße")
    # the raw keys are exactly the public ones, 1-based
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        keys = sorted(k for k, _ in txn.cursor())
        assert keys == [b"image-000000001", b"image-000000002", b"label-000000001", b"label-000000002",
                        b"lexicon-000000001", b"num-samples"]
        assert txn.get(b"num-samples") == b"2"
        assert txn.get(b"lexicon-000000001") == b"abc,abd,xyz"
        assert txn.get(b"label-000000002") == "Straße".encode()
        assert txn.get(image_key(1)) == jpg
    env.close()
    reader = LmdbReader(path)
    assert len(reader) == 2
    assert reader.labels() == ["abc", "Straße"]
    assert reader.lexicon(1) == ("abc", "abd", "xyz") and reader.lexicon(2) is None
    assert reader.image(1).size == (100, 32)
    with pytest.raises(IndexError):
        reader.label(3)


def test_writer_grows_map_and_refuses_bad_images(tmp_path, word_image):
    jpg = word_image("grow", width=400)
    with LmdbWriter(tmp_path / "g.lmdb", map_size=1 << 15) as writer:
        for _ in range(300):
            writer.add(jpg, "grow")
    assert writer.map_size > 1 << 15
    assert len(LmdbReader(tmp_path / "g.lmdb")) == 300
    with pytest.raises(ValueError, match=r"broken.jpg: not a readable image \(.*\); fix or remove it before import"):
        with LmdbWriter(tmp_path / "bad.lmdb") as writer:
            writer.add(jpg, "ok")
            writer.add(jpg[:100], "bad", name="broken.jpg")
    assert not (tmp_path / "bad.lmdb").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "g.lmdb"]


def test_writer_replaces_only_an_lmdb_and_refuses_anything_else_at_its_target(tmp_path, word_image):
    jpg = word_image("abc")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.jpg").write_bytes(jpg)
    for target, message in [(notes, "notes.txt exists and is not an LMDB directory"),
                            (folder, r"photos is not an LMDB directory the zoo wrote \(it holds 0.jpg, 1.jpg, 2.jpg "
                                     r"and 2 more\); refusing to replace it")]:
        with pytest.raises(FileExistsError, match=message):
            with LmdbWriter(target) as writer:
                writer.add(jpg, "abc")
    assert notes.read_text() == "my notes" and len(list(folder.iterdir())) == 5
    own = tmp_path / "own.lmdb"
    for label in ("first", "second"):  # the zoo's own database (with an attachment) is replaced
        with LmdbWriter(own) as writer:
            writer.add(jpg, label)
            writer.attach("made.json", "{}")
    assert LmdbReader(own).labels() == ["second"]


def test_schema_errors(tmp_path):
    env = lmdb.open(str(tmp_path / "s.lmdb"))
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"2")
        txn.put(b"label-000000001", b"a")
    env.close()
    # found when the database is opened, not hours later when sample 2 is drawn
    with pytest.raises(SchemaError, match=r"holds 2 keys but num-samples \(2\) needs at least 5"):
        LmdbReader(tmp_path / "s.lmdb")
    with pytest.raises(SchemaError, match="label-000000002 is missing"):
        LmdbReader(tmp_path / "s.lmdb", check_keys=False).labels()
    with pytest.raises(FileNotFoundError, match="not an LMDB"):
        LmdbReader(tmp_path)


WRITER_SCRIPT = """
import io, sys, time
from PIL import Image
from zoo.data.lmdb import LmdbWriter
buf = io.BytesIO()
Image.new("RGB", (100, 32), (200, 200, 200)).save(buf, "JPEG")
jpg = buf.getvalue()
with LmdbWriter(sys.argv[1]) as writer:
    for i in range(1_000_000):
        writer.add(jpg, "slow")
        if i == 2500:
            print("written", flush=True)
        if i > 2500:
            time.sleep(0.001)
"""


def test_killed_writer_leaves_no_database(tmp_path):
    target = tmp_path / "killed.lmdb"
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"  # at least two commits have reached the disk
    temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert temporaries and (temporaries[0] / "data.mdb").stat().st_size > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not target.exists()


def test_num_samples_is_checked_against_the_keys_when_opened(tmp_path):
    def database(name, count, samples, skip=()):
        env = lmdb.open(str(tmp_path / name))
        with env.begin(write=True) as txn:
            txn.put(b"num-samples", str(count).encode())
            for i in range(1, samples + 1):
                for key in (b"image-%09d" % i, b"label-%09d" % i):
                    if key not in skip:
                        txn.put(key, b"x")
            txn.put(b"lexicon-000000001", b"a,b")  # one extra key: the count check alone would pass
        env.close()
        return tmp_path / name

    with pytest.raises(SchemaError, match="understates"):
        LmdbReader(database("under.lmdb", 2, 3))
    with pytest.raises(SchemaError, match="image-000000003 is missing"):
        LmdbReader(database("edge.lmdb", 3, 3, skip=(b"image-000000003",)))
    assert len(LmdbReader(database("ok.lmdb", 3, 3))) == 3


@pytest.mark.parametrize("damage, message", [
    ("truncate", "is truncated: "), ("garbage", "is not an LMDB database file"), ("empty", "is not an LMDB database file"),
])
def test_a_damaged_database_file_is_a_named_error_not_a_bus_error(tmp_path, word_image, damage, message):
    # before: a data.mdb cut to a third killed every verb with SIGBUS ("Bus error", exit 135, no message)
    # and random bytes or an empty file ended in lmdb's traceback
    path = tmp_path / "words.lmdb"
    with LmdbWriter(path) as writer:
        for i in range(300):
            writer.add(word_image(f"w{i}"), f"w{i}")
    data = path / "data.mdb"
    raw = data.read_bytes()
    data.write_bytes({"truncate": raw[: len(raw) // 3], "garbage": bytes(range(256)) * 400, "empty": b""}[damage])
    result = subprocess.run([sys.executable, "-m", "zoo", "data", "verify", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"error: {data} ") and message in result.stderr


def test_text_that_is_not_utf8_is_an_error_naming_the_database_and_key(tmp_path, word_image):
    # before: "'utf-8' codec can't decode byte 0xe9 in position 3: unexpected end of data", naming nothing,
    # from the label reads of eval, train and show alike
    from zoo.data.charset import Charset
    from zoo.data.dataset import LmdbDataset
    from zoo.data.transforms import Preprocess

    path = tmp_path / "latin1.lmdb"
    with LmdbWriter(path) as writer:
        for word in ("one", "two", "three"):
            writer.add(word_image(word), word, lexicon=[word, "other"])
    env = lmdb.open(str(path))
    with env.begin(write=True) as txn:
        txn.put(b"label-000000002", b"caf\xe9")
        txn.put(b"lexicon-000000003", b"na\xefve,other")
    env.close()
    reader = LmdbReader(path)
    fix = r"not UTF-8 \(unexpected end of data at byte 3\); .*import the data set again from its source"
    where = re.escape(str(path))
    for read in (reader.labels, lambda: reader.label(2),
                 lambda: LmdbDataset(path, Preprocess(), Charset.named("alnum36"))):  # what training opens
        with pytest.raises(SchemaError, match=rf"^{where}: label-000000002 is b'caf\\xe9', {fix}"):
            read()
    with pytest.raises(SchemaError, match=rf"^{where}: lexicon-000000003 is b'na\\xefve,other', not UTF-8 "
                                          r"\(invalid continuation byte"):
        reader.lexicon(3)
    assert reader.label(1) == "one" and reader.lexicon(1) == ("one", "other")
