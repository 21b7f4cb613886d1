"""Unpacking tar archives (TensorFlow's source from GitHub, sdists from the index) under one policy.

The policy, checked for every member before anything is written:

* it lies below the archive's one top-level directory ``ROOT/`` (the only check of the archive's
  shape): no absolute name, no ``..`` component, nothing beside ``ROOT/``;
* it is a regular file, a directory, or a link; devices, FIFOs and anything else are refused;
* a link, symbolic or hard, must point inside ``ROOT/``: TensorFlow's archives hold relative
  symlinks within the tree and sdists may, so links are allowed where they stay inside and
  refused (absolute targets included) where they leave it.

While extracting, every member's destination and link target is resolved again on disk
(``realpath``), so a chain of links that looks harmless name by name cannot lead outside either.
Modes lose setuid/setgid/sticky and group/other write bits and owners are not restored, as
tarfile's ``data`` filter does. Where tarfile has that filter (3.12+, and the security releases
3.9.17, 3.10.12, 3.11.4 on) each member also goes through it; older interpreters get the same
sanitising by hand below. The tree is unpacked into a staging directory beside the destination
and renamed into place, so the destination never holds half an archive.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .console import console
from .errors import DownloadError

# What a corrupt or truncated archive raises while it is opened or read.
_UNREADABLE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
_HAS_FILTERS = hasattr(tarfile, "data_filter")
_FILTER_ERRORS: tuple[type[Exception], ...] = (tarfile.FilterError,) if _HAS_FILTERS else ()


def extract_tar(archive: Path, root: str, dest: Path) -> Path:
    """Unpack ``archive``, whose top-level directory is ``root``, to ``dest`` (replacing it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extracting", dir=dest.parent))
    try:
        with console.status(f"extracting {archive.name}"), open_tar(archive) as tar:
            _unpack(tar, root, staging, archive.name)
        shutil.rmtree(dest, ignore_errors=True)
        (staging / root).rename(dest)
    except _UNREADABLE as exc:
        raise DownloadError(f"{archive.name}: not a readable tar archive: {exc}") from None
    except OSError as exc:
        raise DownloadError(f"{archive.name}: cannot unpack: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _unpack(tar: tarfile.TarFile, root: str, staging: Path, archive_name: str) -> None:
    """Every member checked first (nothing is written for a refused archive), then extracted."""
    members = tar.getmembers()
    if not members:
        raise DownloadError(f"{archive_name}: empty archive, no top-level directory {root}/")
    for member in members:
        check_member(member, root, archive_name)
    for member in members:
        _extract_member(tar, member, staging, root, archive_name)


def read_text(archive: Path, name: str) -> str | None:
    """The UTF-8 text of member ``name``, or None if the archive has no such regular file."""
    try:
        with open_tar(archive) as tar:
            try:
                member = tar.getmember(name)
            except KeyError:
                return None
            stream = tar.extractfile(member) if member.isfile() else None
            return None if stream is None else stream.read().decode("utf-8")
    except (*_UNREADABLE, OSError) as exc:
        raise DownloadError(f"{archive.name}: not a readable tar archive: {exc}") from None


@contextlib.contextmanager
def open_tar(archive: Path) -> Iterator[tarfile.TarFile]:
    with tarfile.open(archive, "r:*") as tar:
        yield tar


def check_member(member: tarfile.TarInfo, root: str, archive_name: str) -> None:
    """Refuse a member the policy above does not allow, naming the archive and the member."""
    problem = _problem(member, root)
    if problem:
        raise DownloadError(f"{archive_name}: unsafe member refused: {member.name!r} {problem}")


def _problem(member: tarfile.TarInfo, root: str) -> str | None:
    if not _below(member.name, root):
        return f"lies outside {root}/"
    if member.issym():
        target = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if _absolute(member.linkname) or not _below(posixpath.normpath(target), root):
            return f"links outside {root}/ (to {member.linkname!r})"
    elif member.islnk():
        if not _below(member.linkname, root):
            return f"links outside {root}/ (to {member.linkname!r})"
    elif not (member.isfile() or member.isdir()):
        return "is a device, FIFO or other special file"
    return None


def _below(name: str, root: str) -> bool:
    """``name`` is ``root`` or lies below it, spelled without absolute parts or ``..``."""
    parts = name.replace("\\", "/").split("/")
    return not _absolute(name) and ".." not in parts and parts[0] == root


def _absolute(name: str) -> bool:
    """Absolute on any system: ``/x``, ``\\x``, ``C:x``."""
    return name.startswith(("/", "\\")) or name[1:2] == ":"


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path, root: str, archive_name: str
) -> None:
    """Check where the member really lands (links already on disk resolved), then write it."""
    tree = os.path.realpath(staging / root)
    path = staging / member.name
    lands = os.path.realpath(path.parent) if member.issym() else os.path.realpath(path)
    if member.issym():
        target = os.path.realpath(path.parent / member.linkname)
    elif member.islnk():
        target = os.path.realpath(staging / member.linkname)
    else:
        target = lands
    if not (_within(lands, tree) and _within(target, tree)):
        raise DownloadError(
            f"{archive_name}: unsafe member refused: {member.name!r} resolves outside {root}/"
        )
    try:
        if _HAS_FILTERS:
            tar.extract(member, staging, filter="data")
        else:  # interpreters without PEP 706; the tests run this branch everywhere
            tar.extract(_sanitised(member), staging)
    except KeyError:  # a hard link to a member the archive does not hold
        raise DownloadError(f"{archive_name}: {member.name!r} links to a missing member") from None
    except _FILTER_ERRORS as exc:
        raise DownloadError(f"{archive_name}: unsafe member refused: {exc}") from None


def _within(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree + os.sep)


def _sanitised(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """What the ``data`` filter makes of a member: no special mode bits, owned by us."""
    clean = copy.copy(member)
    if member.isfile() or member.islnk():
        clean.mode = (member.mode & 0o755) | 0o600
    elif member.isdir():
        clean.mode = (member.mode & 0o755) | 0o700
    # As root, tarfile chowns to these: root again. Otherwise it does not chown at all.
    clean.uid, clean.gid, clean.uname, clean.gname = 0, 0, "", ""
    return clean
