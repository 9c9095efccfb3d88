"""Atomic file output: a reader never sees a half-written file or database, and a writer replaces
only what its ``check_replaceable`` accepts (``zoo.outputs``: what the zoo recognises as its own);
and reading the text files a user gives."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator


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
        raise NotADirectoryError(_blocked(blocker, target)) from None


def _blocked(blocker: Path, target: Path) -> str:
    cannot = "" if blocker == target else f", so {target} cannot be written there"
    return f"{blocker} is a file, not a folder{cannot}; give an output folder that is a folder or does not exist yet"


def _check_writable(target: Path, tmp: Path) -> None:
    """The folder takes a file: said of the target before any work, not of a temporary's name by
    whatever library writes it (/proc, a read-only mount, a full disk)."""
    try:
        tmp.touch()
        tmp.unlink()
    except OSError as err:
        raise OSError(f"{target}: cannot write in {tmp.parent} ({err.strerror}); choose another output path") from None


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


def read_utf8(path: str | os.PathLike, what: str = "") -> str:
    """The text of a UTF-8 file without a byte-order mark (some editors write one); bytes that are not
    UTF-8 are an error naming the file, the line and the bytes, instead of only a codec's position."""
    named = f"{what} {path}" if what else str(path)
    if Path(path).is_dir():  # named, not errno 21
        raise IsADirectoryError(f"{named} is a folder, not a text file; name the file itself, or move the folder away")
    raw = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ValueError(f"{named} line {line}: not UTF-8 ({err.reason}: "
                         f"{raw[max(err.start - 10, 0):err.start + 10]!r}); save the file as UTF-8") from None


def read_lines(path: str | os.PathLike, what: str = "") -> list[str]:
    """The lines of a UTF-8 text file (``read_utf8``), split at \\n, \\r\\n or \\r only: ``str.splitlines``
    would also split at form feeds and Unicode line separators, which a label may hold."""
    lines = re.split(r"\r\n|\r|\n", read_utf8(path, what))
    return lines[:-1] if lines[-1] == "" else lines  # a final line end ends the last line, it starts none


def listed_image(folder: Path, name: str, where: str) -> Path:
    """``folder / name`` for an image an annotation lists by ``name``; refused when ``name`` is absolute,
    climbs out with '..' or is a symbolic link leading out: a data set's list reads files inside its
    folder, never the rest of the machine (a downloaded gt.txt naming ../../.ssh/id_rsa, or an archive's
    link to it). The folder itself may be a link (a data set kept on another disk)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{where}: the image path {name!r} leads outside {folder}; list the images by paths "
                         f"relative to that folder and inside it")
    image = folder / relative
    inside = folder.resolve()
    if inside not in image.resolve().parents:  # through a link: the image, or a folder on its path
        raise ValueError(f"{where}: the image {image} is a link to {image.resolve()}, outside {folder}; copy the "
                         f"image into the folder instead of linking to it")
    return image


def check_folder_takes_files(folder: str | os.PathLike) -> None:
    """Raise now, before a long job, when nothing could be written in ``folder`` at its end: it or a
    folder above it is a file, or the nearest folder that exists takes no file. Leaves nothing behind."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(_blocked(existing, folder))
    _check_writable(folder, existing / f".tmp-{os.getpid()}-probe")


LOCK_NAME = ".lock"  # the file ``exclusive`` locks in a folder (zoo.train.run_folder.LOCK)


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder/LOCK_NAME`` (created if needed) while the block runs, so two
    processes never write into one folder at once; a second is refused at once, naming the holder.
    The lock dies with its process, so a killed holder never blocks the next one. A block that fails
    before writing anything into the folder leaves no trace: the lock file this call created goes,
    and so do the folders it created (a `zoo train` refused once its data loads leaves no run folder)."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    fresh = not lock.exists()
    with open(lock, "a+") as handle:
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
        try:
            yield lock
        except BaseException:
            if fresh:
                _remove_unused_lock(lock, created)
            raise


def _remove_unused_lock(lock: Path, created: list[Path]) -> None:
    """``lock`` and the empty ``created`` folders (deepest first), when nothing but the lock was written
    there. Removed while still locked, so no other process takes the file being removed."""
    if any(p != lock for p in lock.parent.iterdir()):
        return
    lock.unlink(missing_ok=True)
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # something else was put there meanwhile: it stays
            return


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
