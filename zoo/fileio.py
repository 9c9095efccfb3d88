"""Atomic file output: a reader never sees a half-written file or database."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; rename it onto ``target`` only on success.

    Works for files and directories (an LMDB environment is a directory). On any exception,
    including KeyboardInterrupt, the temporary is removed and ``target`` is left untouched.
    A process killed with SIGKILL leaves only a ``.tmp-*`` sibling, never a partial ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    _remove(tmp)
    try:
        yield tmp
        if target.is_dir() and not tmp.is_dir():
            raise IsADirectoryError(f"{target} is a directory; refusing to replace it with a file")
        if tmp.is_dir():
            _remove(target)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
