"""Atomic file output: a reader never sees a half-written file or database, and a writer replaces
only what it recognises as its own output."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator


def replaces_files_only(target: Path) -> None:
    """The default of ``atomic_path``: a file may replace a file, never a directory."""
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(f"{target} is a directory; refusing to replace it with a file")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike,
                check_replaceable: Callable[[Path], None] = replaces_files_only) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; rename it onto ``target`` only on success.

    Works for files and directories (an LMDB environment is a directory). On any exception,
    including KeyboardInterrupt, the temporary is removed and ``target`` is left untouched.
    A process killed with SIGKILL leaves only a ``.tmp-<pid>-*`` sibling, never a partial
    ``target``; the next write to ``target`` removes it once that process is gone.
    ``check_replaceable(target)`` raises when an existing ``target`` is not this writer's to
    replace; it runs before the work starts (nothing is spent on an output that would be refused)
    and again before the rename (something may have appeared there meanwhile).
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        check_replaceable(target)
    _make_folder(target)
    remove_stale_temporaries(target)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    _remove(tmp)
    _check_writable(target, tmp)
    try:
        yield tmp
        if tmp.is_file():  # some writers (safetensors) create their file private (0600): give it the usual mode
            os.chmod(tmp, 0o666 & ~_umask())
        with _swapping(target.parent):
            if target.exists() or target.is_symlink():
                check_replaceable(target)
                if tmp.is_dir():
                    _remove(target)
            os.replace(tmp, target)
    finally:
        _remove(tmp)


def _make_folder(target: Path) -> None:
    """The folder ``target`` goes into; a file where a folder must be is named (``--out notes.txt``
    given where a folder is wanted), not errno 17 or 20 of some path below it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in (target.parent, *target.parent.parents) if p.exists() and not p.is_dir())
        raise NotADirectoryError(f"{blocker} is a file, not a folder, so {target} cannot be written there; give an "
                                 f"output folder that is a folder or does not exist yet") from None


def _check_writable(target: Path, tmp: Path) -> None:
    """The folder takes a file: said of the target before any work, not of a temporary's name by
    whatever library writes it (/proc, a read-only mount, a full disk)."""
    try:
        tmp.touch()
        tmp.unlink()
    except OSError as err:
        raise OSError(f"{target}: cannot write in {target.parent} ({err.strerror}); choose another output path") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _swapping(folder: Path) -> Iterator[None]:
    """One swap at a time in ``folder``: two writers of one directory target (two `zoo data synth`
    onto one path) would otherwise remove each other's new target while replacing it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def remove_stale_temporaries(target: Path) -> None:
    """Remove the ``.tmp-<pid>-<name>`` siblings of ``target`` left by processes no longer alive
    (killed mid-write; a checkpoint's is tens of MB). A live process's temporary is its work in
    progress and stays."""
    pattern = re.compile(r"\.tmp-(\d+)-" + re.escape(target.name))
    for path in target.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def refuse_input_as_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], flag: str = "--out") -> None:
    """Raise when writing ``out`` would replace one of ``inputs`` (``out`` is an input or holds one):
    an output replaces its target, and must never destroy what it is being made from."""
    out = Path(out).resolve()
    for path in inputs:
        resolved = Path(path).resolve()
        if resolved == out or out in resolved.parents:
            relation = "is" if resolved == out else "holds"
            raise ValueError(f"{flag} {out} {relation} the input {path}: writing it would destroy what is being "
                             f"read; choose an {flag} outside the inputs")


def read_utf8(path: str | os.PathLike, what: str = "") -> str:
    """The text of a UTF-8 file without a byte-order mark (some editors write one); bytes that are not
    UTF-8 are an error naming the file, the line and the bytes, instead of only a codec's position."""
    raw = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ValueError(f"{what + ' ' if what else ''}{path} line {line}: not UTF-8 ({err.reason}: "
                         f"{raw[max(err.start - 10, 0):err.start + 10]!r}); save the file as UTF-8") from None


def refuse_foreign_file(out: str | os.PathLike, ours: Callable[[Path], bool], flag: str = "--out") -> None:
    """Raise when ``out`` exists and is not something the zoo wrote (``ours`` tells): an output may
    replace the zoo's own earlier output, never a user's file or folder."""
    out = Path(out)
    if out.is_dir():
        raise IsADirectoryError(f"{flag} {out} is a folder; give a file path")
    if out.exists() and not ours(out):
        raise FileExistsError(f"{flag} {out} exists and was not written by the zoo; writing would replace it: "
                              f"remove it yourself or choose another {flag}")


ZOO_PNG = ("Software", "grcnn-zoo")  # the text chunk of every PNG the zoo draws: what it may replace


def png_info():
    """PNG metadata that marks a figure as the zoo's (``refuse_foreign_file(out, is_zoo_png)``)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(*ZOO_PNG)
    return info


def is_zoo_png(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.text.get(ZOO_PNG[0]) == ZOO_PNG[1]
    except (UnidentifiedImageError, OSError):
        return False


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder/.lock`` (created if needed) while the block runs, so two
    processes never write into one folder at once; a second is refused at once, naming the holder.
    The lock dies with its process, so a killed holder never blocks the next one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RuntimeError(f"{folder} is in use by another {what} (pid {holder}); wait for it to finish, "
                               f"or choose another output folder") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield folder / ".lock"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
