"""The one archive policy: real tarballs, safe and hostile, unpacked with and without tarfile's
PEP 706 filters (the branch older 3.9-3.11 patch releases take runs here too)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder import archives
from builder.archives import extract_tar, read_text
from builder.errors import DownloadError

ROOT = "demo-1.0"
# 3.12 and 3.13 warn about extracting without a filter, which the by-hand branch does.
pytestmark = pytest.mark.filterwarnings("ignore:Python 3.14 will:DeprecationWarning")


@dataclass(frozen=True)
class Entry:
    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644


def make_tar(path: Path, entries: list[Entry]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type, info.linkname, info.mode = entry.kind, entry.linkname, entry.mode
            info.size = len(entry.data) if entry.kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(entry.data) if entry.kind == tarfile.REGTYPE else None)
    return path


@pytest.fixture(params=["data-filter", "by-hand"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both extraction branches: tarfile's ``data`` filter, and the manual one older 3.9-3.11
    patch releases need (forced here by hiding the filters)."""
    if request.param == "data-filter" and not archives._HAS_FILTERS:
        pytest.skip("this interpreter's tarfile has no PEP 706 filters")
    if request.param == "by-hand":
        monkeypatch.setattr(archives, "_HAS_FILTERS", False)
    yield request.param


SAFE = [
    Entry(ROOT, tarfile.DIRTYPE, mode=0o755),
    Entry(f"{ROOT}/pkg", tarfile.DIRTYPE, mode=0o755),
    Entry(f"{ROOT}/pkg/data.txt", data=b"payload"),
    Entry(f"{ROOT}/build.sh", data=b"#!/bin/sh\n", mode=0o4777),  # setuid, world-writable
    Entry(f"{ROOT}/pkg/alias.txt", tarfile.SYMTYPE, linkname="data.txt"),
    Entry(f"{ROOT}/up.txt", tarfile.SYMTYPE, linkname="pkg/../pkg/data.txt"),
    Entry(f"{ROOT}/hard.txt", tarfile.LNKTYPE, linkname=f"{ROOT}/pkg/data.txt"),
]


def test_a_tree_with_inside_links_is_unpacked_and_modes_are_tamed(
    tmp_path: Path, mechanism: str
) -> None:
    archive = make_tar(tmp_path / f"{ROOT}.tar.gz", SAFE)
    dest = extract_tar(archive, ROOT, tmp_path / "out" / "tree")
    assert dest == tmp_path / "out" / "tree"
    assert (dest / "pkg" / "alias.txt").is_symlink()
    assert os.readlink(dest / "pkg" / "alias.txt") == "data.txt"
    assert (dest / "pkg" / "alias.txt").read_bytes() == b"payload"
    assert (dest / "up.txt").read_bytes() == b"payload"
    assert (dest / "hard.txt").read_bytes() == b"payload"
    assert os.stat(dest / "hard.txt").st_ino == os.stat(dest / "pkg" / "data.txt").st_ino
    mode = stat.S_IMODE(os.stat(dest / "build.sh").st_mode)
    assert mode & stat.S_IXUSR, "the executable bit is kept"
    assert not mode & (stat.S_ISUID | stat.S_IWGRP | stat.S_IWOTH), oct(mode)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tree"]  # no staging left


def test_unpacking_again_replaces_the_tree(tmp_path: Path, mechanism: str) -> None:
    archive = make_tar(tmp_path / f"{ROOT}.tar.gz", SAFE)
    dest = tmp_path / "tree"
    dest.mkdir()
    (dest / "stale.txt").write_text("from an earlier run")
    extract_tar(archive, ROOT, dest)
    assert not (dest / "stale.txt").exists()
    assert (dest / "pkg" / "data.txt").read_bytes() == b"payload"


HOSTILE = {
    "absolute name": ([Entry("/tmp/evil", data=b"x")], "lies outside"),
    "dot-dot name": ([Entry(f"{ROOT}/../escaped.txt", data=b"x")], "lies outside"),
    "beside the root": ([Entry(f"{ROOT}/ok", data=b"x"), Entry("other/x", data=b"x")], "outside"),
    "absolute symlink": ([Entry(f"{ROOT}/l", tarfile.SYMTYPE, linkname="/etc/passwd")], "links"),
    "escaping symlink": ([Entry(f"{ROOT}/l", tarfile.SYMTYPE, linkname="../../x")], "links"),
    "escaping hard link": ([Entry(f"{ROOT}/l", tarfile.LNKTYPE, linkname="etc/passwd")], "links"),
    "device": ([Entry(f"{ROOT}/dev", tarfile.CHRTYPE)], "device, FIFO"),
    "fifo": ([Entry(f"{ROOT}/fifo", tarfile.FIFOTYPE)], "device, FIFO"),
    # Each link looks inside by its name; on disk the second leads to the staging directory.
    "chained symlinks": (
        [
            Entry(f"{ROOT}/p/q", tarfile.DIRTYPE, mode=0o755),
            Entry(f"{ROOT}/p/q/x", tarfile.SYMTYPE, linkname="../.."),
            Entry(f"{ROOT}/p/q/s", tarfile.SYMTYPE, linkname="x/.."),
            Entry(f"{ROOT}/p/q/s/escaped.txt", data=b"x"),
        ],
        "resolves outside",
    ),
    "hard link to nothing": (
        [Entry(f"{ROOT}/l", tarfile.LNKTYPE, linkname=f"{ROOT}/n")],
        "links to a missing member",
    ),
    "empty": ([], "empty archive"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_nothing_is_left(
    tmp_path: Path, mechanism: str, case: str
) -> None:
    entries, fragment = HOSTILE[case]
    archive = make_tar(tmp_path / "in" / f"{ROOT}.tar.gz", entries)
    work = tmp_path / "work"
    with pytest.raises(DownloadError, match=rf"^{ROOT}\.tar\.gz: .*{fragment}"):
        extract_tar(archive, ROOT, work / "out" / "tree")
    assert sorted(p.name for p in work.rglob("*")) == ["out"], "nothing written, no staging left"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "work"]


def test_unreadable_archives_are_one_error(tmp_path: Path) -> None:
    corrupt = tmp_path / f"{ROOT}.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DownloadError, match=rf"{ROOT}\.tar\.gz: not a readable tar archive"):
        extract_tar(corrupt, ROOT, tmp_path / "out")
    with pytest.raises(DownloadError, match="not a readable tar archive"):
        read_text(corrupt, f"{ROOT}/PKG-INFO")
    good = make_tar(tmp_path / "good" / f"{ROOT}.tar.gz", SAFE)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DownloadError, match=r"truncated\.tar\.gz: not a readable tar archive"):
        extract_tar(truncated, ROOT, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_read_text_reads_one_member(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / f"{ROOT}.tar.gz", SAFE)
    assert read_text(archive, f"{ROOT}/pkg/data.txt") == "payload"
    assert read_text(archive, f"{ROOT}/missing.txt") is None
    assert read_text(archive, f"{ROOT}/pkg") is None  # a directory has no text
