"""The download/build cache and small file helpers shared by every step (atomic writes, hashes).

Nothing in the cache is trusted for being there: a cached download is used only while it still
has the sha256 its source gave (``cached_file_ok``); one that does not (tampered, truncated,
bit-flipped) is moved aside to a ``quarantine/`` directory beside it, with one warning line
naming where, and fetched again by the caller.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .console import info, warn

APP = "tflite-edge-builder"


def cache_dir(*parts: str, create: bool = True) -> Path:
    """``$TFLITE_EDGE_BUILDER_CACHE`` or ``$XDG_CACHE_HOME/tflite-edge-builder`` (``~/.cache``).

    ``create=False`` only computes the path (for dry runs, which must not touch the disk).
    """
    root = os.environ.get("TFLITE_EDGE_BUILDER_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / APP)
    path = Path(root, *parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_file_ok(path: Path, sha256: str, pinned_by: str) -> bool:
    """True when the cache entry ``path`` exists with ``sha256`` (``pinned_by`` says whose:
    "index's", "recipe", "recorded"). An entry that exists with other bytes is quarantined with
    one warning line: False then, as when there is none, and the caller fetches it again."""
    if not path.is_file():
        return False
    actual = sha256_file(path)
    if actual == sha256:
        return True
    moved = quarantine(path)
    warn(
        f"cached {path.name}: sha256 {actual} does not match the {pinned_by} {sha256};"
        f" moved aside to {moved}, fetching it again"
    )
    return False


def secret_key(directory: Path) -> bytes:
    """The cache's own key for signing what it stores in ``directory`` (``.key``, 32 random
    bytes, readable by this user only), created on first use. Concurrent first uses agree: the
    key is written aside and linked into place, and the first link wins."""
    path = directory / ".key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".key.", dir=directory)  # mode 0600
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(32))
        try:
            os.link(name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(name)
    return path.read_bytes()


def quarantine(path: Path) -> Path:
    """Move a cache entry that failed its check out of the cache's way, into ``quarantine/``
    beside it (kept as evidence, under a name of its own); return its new path."""
    where = path.parent / "quarantine"
    where.mkdir(exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{path.name}.", dir=where)
    os.close(fd)
    os.replace(path, name)
    return Path(name)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only if the block succeeds.

    On any exception (Ctrl-C included) the temporary file is removed and ``target`` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_copy(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def atomic_copy_all(pairs: Sequence[tuple[Path, Path]]) -> None:
    """Copy each ``(source, target)``; the targets appear together, in order, or not at all.

    All copies are made to temporary files beside their targets first; only then are they
    renamed into place (renames take microseconds, copies may take seconds). On any exception,
    Ctrl-C included, every temporary file is removed.
    """
    with contextlib.ExitStack() as stack:
        # An ExitStack closes in reverse: enter the last pair first so the renames run in order.
        staged = [(stack.enter_context(atomic_path(t)), s) for s, t in reversed(pairs)]
        for tmp, source in staged:
            shutil.copyfile(source, tmp)


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


# The scratch directories open now, innermost last (they nest: verify's inside slim's).
_SCRATCH: list[Path] = []


@contextlib.contextmanager
def build_lock(lock_file: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if needed) while inside; if another
    process holds it, say so once and wait. Builds that share a fixed directory use it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        if not _try_lock(handle, blocking=False):
            info(f"    waiting for another build of {what} to finish")
            _try_lock(handle, blocking=True)
        yield  # closing the file releases the lock


def _try_lock(handle: BinaryIO, blocking: bool) -> bool:
    if sys.platform == "win32":
        import msvcrt

        mode = msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK
        locker = functools.partial(msvcrt.locking, handle.fileno(), mode, 1)
    else:
        import fcntl

        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        locker = functools.partial(fcntl.flock, handle.fileno(), flags)
    while True:
        try:
            locker()
            return True
        except OSError:
            if not blocking:
                return False
            # msvcrt's blocking lock gives up after ten seconds: keep waiting


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory under the system temp dir, removed afterwards (Ctrl-C and SIGTERM
    included: both arrive as exceptions, see ``builder.runner.Terminated``)."""
    path = Path(tempfile.mkdtemp(prefix=f"{APP}-{prefix}-"))
    _SCRATCH.append(path)
    try:
        yield path
    finally:
        _SCRATCH.remove(path)
        shutil.rmtree(path, ignore_errors=True)


def child_temp_env() -> dict[str, str]:
    """``TMPDIR`` (``TEMP``/``TMP`` on Windows) for a child process: a directory inside the
    innermost open scratch directory, so that what the child leaves behind when it is killed
    (pip's ``pip-*`` directories) is removed with it. Empty outside any scratch directory."""
    if not _SCRATCH:
        return {}
    temp = _SCRATCH[-1] / ".tmp"
    temp.mkdir(exist_ok=True)
    return {name: str(temp) for name in ("TMPDIR", "TEMP", "TMP")}
