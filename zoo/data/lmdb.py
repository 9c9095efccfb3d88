"""The public text-recognition LMDB layout (CRNN's ``create_dataset.py``, used by MJSynth/SynthText
and the benchmark LMDBs), read and written exactly:

- ``num-samples``: the number of samples, as ASCII digits;
- ``image-%09d``: the encoded image bytes (JPEG/PNG/...) of sample i, 1-based;
- ``label-%09d``: its UTF-8 label;
- ``lexicon-%09d`` (optional): its comma-separated lexicon, so a lexicon benchmark travels in one file.

The writer validates every image, grows the map as needed and writes to a temporary sibling that is
renamed onto the target only when complete (``zoo.fileio.atomic_path``). It replaces an existing
target only when that is an LMDB directory (``replaces_lmdb_only``), never a user's file or folder.
"""
from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import lmdb
from PIL import Image

from zoo.data.transforms import UnreadableImage, read_image
from zoo.fileio import atomic_path
from zoo.outputs import refuse_input_as_output

NUM_SAMPLES = b"num-samples"
LMDB_FILES = ("data.mdb", "lock.mdb")
INITIAL_MAP_SIZE = 64 << 20
COMMIT_EVERY = 1000


class SchemaError(ValueError):
    """The database does not follow the public layout (a missing count or sample key)."""


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def lexicon_key(index: int) -> bytes:
    return b"lexicon-%09d" % index


@dataclass(frozen=True)
class Sample:
    image: bytes
    label: str
    lexicon: tuple[str, ...] | None = None


def decode_image(data: bytes, name: str | None = None) -> Image.Image:
    """Image bytes decoded fully and upright (``zoo.data.transforms.read_image``; UnreadableImage)."""
    return read_image(data, name)


def check_image(data: bytes, name: str) -> None:
    try:
        decode_image(data, name)
    except UnreadableImage as err:
        raise UnreadableImage(f"{err}; fix or remove it before import") from None


_OPEN: dict[str, list] = {}  # resolved path -> [environment, number of readers using it]
LMDB_MAGIC = 0xBEEFC0DE


def check_data_file(path: Path) -> None:
    """A data.mdb that LMDB can map without faulting: its meta pages (LMDB's MDB_meta, the first two
    pages: magic, page size, last page used, transaction id) and a file at least as long as its
    last used page. A truncated copy would otherwise kill the process with SIGBUS ("Bus error") on
    the first read past its end: no error to catch, no message."""
    data = path / "data.mdb"
    with open(data, "rb") as handle:
        head = handle.read(2 * 65536)
    size = data.stat().st_size
    if len(head) < 160 or struct.unpack_from("<I", head, 16)[0] != LMDB_MAGIC:
        raise SchemaError(f"{data} is not an LMDB database file ({size} bytes, no LMDB header); copy the data set "
                          f"again, or make it anew with `zoo data import` or `zoo data synth`")
    page = struct.unpack_from("<I", head, 40)[0]  # the free-page DB's md_pad holds the page size
    metas = [struct.unpack_from("<QQ", head, offset + 136) for offset in (0, page) if offset + 152 <= len(head)]
    last_page, _ = max(metas, key=lambda meta: meta[1])  # the meta of the newest transaction
    needed = (last_page + 1) * page
    if size < needed:
        raise SchemaError(f"{data} is truncated: {size:,} bytes of the {needed:,} its last page needs (a copy cut "
                          f"short?); copy the data set again, or make it anew")


def _acquire(path: Path):
    """The process's read-only environment for ``path``, shared: LMDB allows one per database per
    process (a forked DataLoader worker inherits its parent's, and may read through it)."""
    key = str(path.resolve())
    if key not in _OPEN:
        check_data_file(path)
        try:
            env = lmdb.open(key, readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)
        except lmdb.Error as err:
            raise SchemaError(f"{path}: LMDB cannot open it ({err}); copy the data set again, or make it anew") from err
        _OPEN[key] = [env, 0]
    _OPEN[key][1] += 1
    return _OPEN[key][0]


def _release(path: Path) -> None:
    key = str(path.resolve())
    entry = _OPEN.get(key)
    if entry is not None:
        entry[1] -= 1
        if entry[1] <= 0:
            entry[0].close()
            del _OPEN[key]


class LmdbReader:
    """Random access to samples 1..len(reader). Readers of one database in a process share its
    environment, opened on first use and closed when the last reader closes, so a database
    replaced on disk is seen anew once its readers are closed. Picklable: a DataLoader worker
    started by spawn opens its own."""

    def __init__(self, path: str | Path, check_keys: bool = True):
        self.path = Path(path)
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"{self.path} is not an LMDB directory (no data.mdb inside); "
                                    f"create one with `zoo data import` or `zoo data synth`")
        self._env = None
        self.num_samples = self._read_count()
        if check_keys:
            self._check_count(self.num_samples)

    def _txn(self):
        if self._env is None:
            self._env = _acquire(self.path)
        return self._env.begin(buffers=False)

    def _read_count(self) -> int:
        with self._txn() as txn:
            raw = txn.get(NUM_SAMPLES)
        if raw is None:
            raise SchemaError(f"{self.path}: no 'num-samples' key; not a text-recognition LMDB in the "
                              f"public layout (num-samples, image-%09d, label-%09d)")
        try:
            count = int(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as err:
            raise SchemaError(f"{self.path}: 'num-samples' is {raw[:40]!r}, not an integer") from err
        return count

    def _check_count(self, count: int) -> None:
        """num-samples against the keys, in O(1) at open: a missing key would otherwise surface only
        when its sample is drawn, hours into a run."""
        with self._txn() as txn:
            entries = txn.stat()["entries"]
            edges = [k for i in {1, count} if count for k in (image_key(i), label_key(i)) if txn.get(k) is None]
            beyond = txn.get(label_key(count + 1)) is not None
        problem = None
        if count < 0:
            problem = f"'num-samples' is {count}"
        elif entries < 2 * count + 1:
            problem = (f"it holds {entries} keys but num-samples ({count}) needs at least {2 * count + 1} "
                       f"(image-, label- and the count): keys are missing")
        elif edges:
            problem = f"key {edges[0].decode()} is missing (num-samples says {count})"
        elif beyond:
            problem = f"{label_key(count + 1).decode()} exists: num-samples ({count}) understates the samples"
        if problem:
            raise SchemaError(f"{self.path}: {problem}; `zoo data verify {self.path}` lists every problem")

    def __len__(self) -> int:
        return self.num_samples

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_env": None}

    def _get(self, key: bytes) -> bytes | None:
        with self._txn() as txn:
            return txn.get(key)

    def _check_index(self, index: int) -> None:
        if not 1 <= index <= self.num_samples:
            raise IndexError(f"sample {index} is outside 1..{self.num_samples} of {self.path}")

    def image_bytes(self, index: int) -> bytes:
        self._check_index(index)
        data = self._get(image_key(index))
        if data is None:
            raise SchemaError(f"{self.path}: key {image_key(index).decode()} is missing "
                              f"(num-samples says {self.num_samples})")
        return data

    def _text(self, raw: bytes | None, key: bytes) -> str:
        """A label's or lexicon's text; a missing or non-UTF-8 one is an error naming database and key."""
        if raw is None:
            raise SchemaError(f"{self.path}: key {key.decode()} is missing (num-samples says {self.num_samples})")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SchemaError(f"{self.path}: {key.decode()} is {raw[:40]!r}, not UTF-8 ({err.reason} at byte "
                              f"{err.start}); the layout stores UTF-8 text: import the data set again from its "
                              f"source (`zoo data import` writes UTF-8); `zoo data verify {self.path}` lists "
                              f"every such key") from None

    def label(self, index: int) -> str:
        self._check_index(index)
        return self._text(self._get(label_key(index)), label_key(index))

    def labels(self) -> list[str]:
        """Every label, in order, in one read transaction (fast enough for millions)."""
        with self._txn() as txn:
            return [self._text(txn.get(label_key(i)), label_key(i)) for i in range(1, self.num_samples + 1)]

    def lexicon(self, index: int) -> tuple[str, ...] | None:
        self._check_index(index)
        raw = self._get(lexicon_key(index))
        return None if raw is None else tuple(self._text(raw, lexicon_key(index)).split(","))

    def sample(self, index: int) -> Sample:
        return Sample(self.image_bytes(index), self.label(index), self.lexicon(index))

    def image(self, index: int) -> Image.Image:
        return decode_image(self.image_bytes(index))

    def close(self) -> None:
        if self._env is not None:
            _release(self.path)
            self._env = None

    def __enter__(self) -> "LmdbReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def replaces_lmdb_only(path: Path) -> None:
    """Raise unless ``path`` may be replaced by a new database: an empty directory, or an LMDB
    directory holding only data.mdb, lock.mdb and attachments (``*.json``, ``LmdbWriter.attach``).
    A file or a folder with anything else in it is the user's, and writing there would delete it."""
    if not path.is_dir() or path.is_symlink():
        raise FileExistsError(f"{path} exists and is not an LMDB directory; refusing to replace it: "
                              f"choose another --out, or move it away first")
    names = sorted(p.name for p in path.iterdir())
    foreign = [n for n in names if n not in LMDB_FILES and not (n.endswith(".json") and (path / n).is_file())]
    if foreign or (names and "data.mdb" not in names):
        held = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise FileExistsError(f"{path} is not an LMDB directory the zoo wrote (it holds {held or 'no data.mdb'}); "
                              f"refusing to replace it: choose another --out, or move it away first")


class LmdbWriter:
    """Append samples; on a clean exit the database appears at ``path`` complete, with num-samples.

    ``with LmdbWriter("out.lmdb") as w: w.add(jpeg_bytes, "word")``. Any exception (or a kill)
    leaves no database at ``path``; an existing LMDB is replaced only on success, and anything else
    at ``path`` is refused before any sample is written (``replaces_lmdb_only``), as is a ``path``
    that is or holds one of ``inputs`` (what the database is made from).
    """

    def __init__(self, path: str | Path, validate: bool = True, map_size: int = INITIAL_MAP_SIZE,
                 inputs: Iterable[str | Path] = ()):
        self.path = Path(path)
        self.inputs = tuple(inputs)
        self.validate = validate
        self.map_size = map_size
        self.count = 0
        self._pending: list[tuple[bytes, bytes]] = []
        self._atomic = None
        self._env = None
        self._tmp: Path | None = None

    def __enter__(self) -> "LmdbWriter":
        self._atomic = atomic_path(self.path, self._replaceable)
        self._tmp = self._atomic.__enter__()
        self._env = lmdb.open(str(self._tmp), map_size=self.map_size, subdir=True, meminit=False)
        return self

    def _replaceable(self, target: Path) -> None:
        refuse_input_as_output(target, self.inputs)
        replaces_lmdb_only(target)

    def attach(self, name: str, text: str) -> None:
        """A JSON file inside the database directory (e.g. how it was made); LMDB readers ignore it.
        JSON only: so a later write can tell the zoo's own database from a folder of the user's."""
        if not name.endswith(".json"):
            raise ValueError(f"attachment {name!r}: attachments are JSON files, named *.json")
        (self._tmp / name).write_text(text, encoding="utf-8")

    def add(self, image: bytes, label: str, lexicon: Iterable[str] | None = None, name: str | None = None) -> int:
        """Add one sample; returns its 1-based index. ``name`` identifies it in error messages."""
        index = self.count + 1
        if self.validate:
            check_image(image, name or f"sample {index}")
        self._pending += [(image_key(index), image), (label_key(index), label.encode("utf-8"))]
        if lexicon is not None:
            words = list(lexicon)
            bad = [w for w in words if "," in w]
            if bad:
                raise ValueError(f"{name or f'sample {index}'}: lexicon words may not contain ',' "
                                 f"(the separator): {bad[:3]}")
            self._pending.append((lexicon_key(index), ",".join(words).encode("utf-8")))
        self.count = index
        if len(self._pending) >= 2 * COMMIT_EVERY:
            self._flush()
        return index

    def _flush(self, extra: list[tuple[bytes, bytes]] = ()) -> None:
        items = self._pending + list(extra)
        while True:
            try:
                with self._env.begin(write=True) as txn:
                    for key, value in items:
                        txn.put(key, value)
                break
            except lmdb.MapFullError:  # the transaction was aborted: grow the map and redo it
                self.map_size *= 2
                self._env.set_mapsize(self.map_size)
        self._pending = []

    def __exit__(self, exc_type, exc, tb) -> bool:
        failure = exc
        if exc is None:
            try:
                self._flush([(NUM_SAMPLES, str(self.count).encode("ascii"))])
                self._env.sync(True)
            except BaseException as err:  # a failed final commit must not be renamed into place
                failure = err
        self._env.close()
        if failure is None:
            self._atomic.__exit__(None, None, None)
            return False
        self._atomic.__exit__(type(failure), failure, failure.__traceback__)
        if failure is not exc:
            raise failure
        return False


@dataclass
class Tally:
    """Counts of problems, with up to ``MAX_EXAMPLES`` (index, label) examples of each."""
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    MAX_EXAMPLES = 5

    def add(self, problem: str, index: int, label: str) -> None:
        self.counts[problem] += 1
        examples = self.examples.setdefault(problem, [])
        if len(examples) < self.MAX_EXAMPLES:
            examples.append((index, label))
