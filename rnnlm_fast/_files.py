"""Small file helpers shared by the vocabulary, model and n-best writers."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Union

from .errors import ConfigError, MissingFileError

PathLike = Union[str, "os.PathLike[str]"]


def require_file(path: PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path, raising MissingFileError if it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{what} '{p}' does not exist")
    if p.is_dir():
        raise MissingFileError(f"{what} '{p}' is a directory, expected a file")
    return p


def check_output(path: PathLike, what: str = "", *, overwrite: bool = True, directory: bool = False) -> Path:
    """``path`` as a Path, once it is known that it can be written, before any work: its directory
    exists (else MissingFileError), it is not a directory (a ``directory`` output: not a file),
    it is writable and, unless ``overwrite``, it does not exist yet (else ConfigError). ``what``
    (e.g. the flag) starts the messages. The one output check of every command."""
    p = Path(path)
    lead = f"{what} " if what else ""
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise MissingFileError(f"{lead}cannot write '{p}': directory '{parent}' {state}")
    if directory and p.exists() and not p.is_dir():
        raise ConfigError(f"{lead}cannot write '{p}': it is a file; this output format writes a directory")
    if not directory and p.is_dir():
        raise ConfigError(f"{lead}cannot write '{p}': it is a directory")
    target = p if p.exists() else parent
    if not os.access(target, os.W_OK):
        raise ConfigError(f"{lead}cannot write '{p}': '{target}' is not writable")
    if not overwrite and p.exists():
        raise ConfigError(f"{lead}'{p}' exists; pass --overwrite to replace it")
    return p


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask would
    briefly clear it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Write ``path`` through a temporary file in the same directory, renamed on success.

    A crash or an exception leaves either the previous complete file or the new complete
    file, never a partial one; the temporary file is removed on failure.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
