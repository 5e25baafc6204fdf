"""The files bromsync writes, each readable by its owner only (docs/personal-data.md, rule 1).

Plans, reports, exports, recordings and the state hold children's personal data, so every
writer in the engine goes through here: `private_dir` makes folders 0700, `write_private`
writes files 0600 (in one step: a reader sees the old file or the new one, never half of one).
Both set the mode themselves, so they hold whatever the process's umask. Files that libraries
create on bromsync's behalf (DuckDB's state file, its write-ahead log and temporary folder)
take their mode from the umask, so the CLI calls `restrict_umask` before it does anything
(and the state's folder is kept 0700, see engine/state/store.py).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def restrict_umask() -> None:
    """Make every file and folder this process creates from now on its owner's alone.

    The umask is the process's, so this is for a program's start (bromsync.py), not for a
    library call: it only ever adds 077 to what the umask already withholds.
    """
    os.umask(os.umask(0o077) | 0o077)


def private_dir(path: Path) -> Path:
    """`path` as a folder: it and every missing parent are created 0700; existing ones are kept.

    `Path.mkdir(parents=True)` would give the parents the umask's mode, not the one asked for.
    """
    missing: list[Path] = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by another process meanwhile; its mode is its maker's
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return path


def tighten(path: Path, mode: int) -> None:
    """Take group and other access away from an existing `path` (left as it is if absent).

    For files and folders an older bromsync made, or that were made under a looser umask.
    """
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        os.chmod(path, (current & 0o700) | (mode & 0o700))


def write_private(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write `data` to `path` as a 0600 file, replacing any file there in one step.

    Text is written as given (no newline translation). The folder is made with `private_dir`.
    A file replaced keeps none of its old mode: the new one is made 0600 by `mkstemp`.
    """
    payload = data.encode(encoding) if isinstance(data, str) else data
    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
