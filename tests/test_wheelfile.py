"""builder.wheelfile: every refusal on a small crafted wheel (in-process and through the CLI),
and the writer's promises: deterministic bytes, dist-info last, atomic, input untouched."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli
from packaging.version import Version
from wheel_factory import (
    EPOCH,
    build_wheel,
    corrupt_data,
    declare_compression,
    declare_encrypted,
    declare_sizes,
    default_members,
    record_hash,
    symlink_info,
    truncate,
    zip_info,
)

from builder import wheelfile
from builder.errors import ArgumentError, WheelError
from builder.wheelfile import MAX_MEMBER_BYTES, MAX_TOTAL_BYTES, Member, Wheel
from builder.zipwrite import DEFLATE, ZOPFLI, ZOPFLI_MAX, ZipEntry, write_zip

DIST = "demo-1.0.dist-info"
Maker = Callable[[Path], Path]
EMPTY_HASH = record_hash(b"")
# A correct digest of demo/core.py, but with an algorithm PEP 427 does not allow.
MD5_OF_CORE = (
    "md5="
    + base64.urlsafe_b64encode(hashlib.md5(default_members()["demo/core.py"]).digest())
    .rstrip(b"=")
    .decode()
)


def _tamper(member: str, column: int, value: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        for row in rows:
            if row[0] == member:
                row[column] = value
        return rows

    return edit


def _with(tmp: Path, basename: str, data: bytes) -> Path:
    return build_wheel(tmp, files={f"{DIST}/{basename}": data})


def _not_a_zip(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "demo-1.0-py3-none-any.whl"
    path.write_bytes(b"<html>404 Not Found</html>\n")
    return path


def _ratio_bomb(tmp: Path) -> Path:
    # Declares 1 GiB from a few hundred compressed bytes: refused before anything is inflated.
    return declare_sizes(build_wheel(tmp), {"demo/data/table.txt": (1 << 30, None)})


def _total_bomb(tmp: Path) -> Path:
    # Each member is plausible on its own (under the per-member limit, ratio 100:1); the total
    # is not.
    each = MAX_MEMBER_BYTES - 1
    names = ["demo/__init__.py", "demo/core.py", "demo/data/table.txt", "demo/tests/test_core.py"]
    assert len(names) * each > MAX_TOTAL_BYTES
    return declare_sizes(build_wheel(tmp), {n: (each, each // 100) for n in names})


# (id, how to make the bad wheel, a fragment the one-line error must contain)
REFUSALS: list[tuple[str, Maker, str]] = [
    ("dotdot", lambda t: build_wheel(t, raw=[("demo/../../evil.py", b"x")]), "escapes the tree"),
    ("absolute", lambda t: build_wheel(t, raw=[("/etc/evil.py", b"x")]), "absolute path"),
    ("symlink", lambda t: build_wheel(t, raw=[(symlink_info("demo/link"), b"/etc")]), "symlink"),
    (
        "duplicate",
        lambda t: build_wheel(t, raw=[("demo/core.py", b"def answer():\n    return 0\n")]),
        "duplicate member name demo/core.py",
    ),
    ("no-wheel", lambda t: build_wheel(t, files={f"{DIST}/WHEEL": None}), f"missing {DIST}/WHEEL"),
    (
        "bad-wheel",
        lambda t: build_wheel(t, files={f"{DIST}/WHEEL": b"this is not a header file\n"}),
        "WHEEL is malformed",
    ),
    (
        "wheel-version",
        lambda t: _with(t, "WHEEL", b"Wheel-Version: 9\nRoot-Is-Purelib: 1\n"),
        "no valid Wheel-Version",
    ),
    (
        "no-metadata",
        lambda t: build_wheel(t, files={f"{DIST}/METADATA": None}),
        f"missing {DIST}/METADATA",
    ),
    (
        "bad-metadata",
        lambda t: build_wheel(t, files={f"{DIST}/METADATA": b"<html>\n"}),
        "METADATA is malformed",
    ),
    (
        "metadata-no-version",
        lambda t: _with(t, "METADATA", b"Metadata-Version: 2.1\nName: demo\n"),
        "METADATA lacks Version",
    ),
    (
        "metadata-version-mismatch",
        lambda t: build_wheel(
            t, files={f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n"}
        ),
        "METADATA Version 2.0 does not match the file name",
    ),
    (
        "metadata-name-mismatch",
        lambda t: build_wheel(
            t, files={f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: other\nVersion: 1.0\n"}
        ),
        "METADATA Name 'other' does not match the file name",
    ),
    (
        "filename-mismatch",
        lambda t: build_wheel(t, filename="demo-2.0-py3-none-any.whl"),
        "expected one .dist-info directory for demo 2.0",
    ),
    ("bad-filename", lambda t: build_wheel(t, filename="demo.whl"), "not a valid wheel file name"),
    (
        "record-hash",
        lambda t: build_wheel(t, record=_tamper("demo/core.py", 1, record_hash(b"other"))),
        "demo/core.py does not match its RECORD hash/size",
    ),
    (
        "record-size",
        lambda t: build_wheel(t, record=_tamper("demo/core.py", 2, "3")),
        "demo/core.py does not match its RECORD hash/size",
    ),
    (
        "not-in-record",
        lambda t: build_wheel(t, record=lambda rows: [r for r in rows if r[0] != "demo/core.py"]),
        "demo/core.py is not listed in RECORD",
    ),
    (
        "record-lists-missing",
        lambda t: build_wheel(t, record=lambda rows: [*rows, ["demo/gone.py", EMPTY_HASH, "0"]]),
        "RECORD lists demo/gone.py, which is not in the wheel",
    ),
    (
        "record-no-hash",
        lambda t: build_wheel(t, record=_tamper("demo/core.py", 1, "")),
        "RECORD has no hash/size for demo/core.py",
    ),
    (
        "record-weak-hash",
        lambda t: build_wheel(t, record=_tamper("demo/core.py", 1, MD5_OF_CORE)),
        "RECORD hashes demo/core.py with md5",
    ),
    (
        "corrupt-data",
        lambda t: corrupt_data(build_wheel(t), "demo/data/table.txt"),
        "demo/data/table.txt is corrupt",
    ),
    (
        "encrypted",
        lambda t: declare_encrypted(build_wheel(t), "demo/core.py"),
        "encrypted",
    ),
    (
        "unknown-compression",
        lambda t: declare_compression(build_wheel(t), "demo/core.py", 99),
        "unsupported compression 99",
    ),
    ("truncated", lambda t: truncate(build_wheel(t), 0.6), "not a valid zip archive"),
    ("not-zip", _not_a_zip, "not a valid zip archive"),
    ("bomb-ratio", _ratio_bomb, "compression bomb"),
    (
        "bomb-member",
        lambda t: declare_sizes(build_wheel(t), {"demo/core.py": (3 << 30, 1 << 30)}),
        "compression bomb",
    ),
    ("bomb-total", _total_bomb, "compression bomb"),
]
IDS = [r[0] for r in REFUSALS]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_factory_wheel_is_valid(tmp_path: Path) -> None:
    wheel = Wheel.open(build_wheel(tmp_path))
    assert wheel.name == "demo"
    assert wheel.version == Version("1.0")
    assert wheel.dist_info == DIST
    assert "demo/core.py" in wheel.names()
    assert f"{DIST}/RECORD" in wheel.names()
    assert wheel.requires_dist() == ["packaging"]


@pytest.mark.parametrize(("case", "make", "fragment"), REFUSALS, ids=IDS)
def test_open_refuses(tmp_path: Path, case: str, make: Maker, fragment: str) -> None:
    path = make(tmp_path)
    before = _digest(path)
    with pytest.raises(WheelError) as info:
        Wheel.open(path)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert _digest(path) == before


@pytest.mark.parametrize(("case", "make", "fragment"), REFUSALS, ids=IDS)
def test_verify_cli_refuses_with_one_line(
    tmp_path: Path, case: str, make: Maker, fragment: str
) -> None:
    path = make(tmp_path / "in")
    before = _digest(path)
    report = tmp_path / "report.json"
    proc = cli("verify", path, "--report", report, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert fragment in line
    assert proc.stderr.strip() == line  # nothing else was printed before the refusal
    assert not report.exists()
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["in", path.name])


@pytest.mark.parametrize(
    ("case", "make", "fragment"),
    [r for r in REFUSALS if r[0] in ("dotdot", "symlink", "record-hash", "bomb-ratio")],
    ids=["dotdot", "symlink", "record-hash", "bomb-ratio"],
)
def test_slim_cli_refuses_with_one_line(
    tmp_path: Path, case: str, make: Maker, fragment: str
) -> None:
    path = make(tmp_path / "in")
    before = _digest(path)
    out, report = tmp_path / "out", tmp_path / "report.json"
    proc = cli("slim", "demo", "--wheel", path, "--out", out, "--report", report, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert fragment in line
    assert not out.exists() and not report.exists()
    assert _digest(path) == before


# -- reading ------------------------------------------------------------------------------------


def test_members_sizes_and_executable_bit(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, executable=["demo/core.py"])
    wheel = Wheel.open(path)
    members = {m.name: m for m in wheel.members()}
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo/data/table.txt")
    assert members["demo/data/table.txt"] == Member(
        "demo/data/table.txt", info.file_size, info.compress_size, False
    )
    assert members["demo/core.py"].executable
    assert wheel.installed_size() == sum(m.size for m in members.values())
    assert wheel.read("demo/core.py") == b"def answer():\n    return 42\n"


def test_extract_writes_members(tmp_path: Path) -> None:
    wheel = Wheel.open(build_wheel(tmp_path / "in", executable=["demo/core.py"]))
    wheel.replace("demo/__init__.py", b"# edited\n")
    wheel.extract(tmp_path / "x", ["demo/__init__.py", "demo/core.py"])
    assert (tmp_path / "x/demo/__init__.py").read_bytes() == b"# edited\n"
    assert (tmp_path / "x/demo/core.py").stat().st_mode & 0o111
    assert not (tmp_path / "x/demo/data").exists()


def test_edits_refused(tmp_path: Path) -> None:
    wheel = Wheel.open(build_wheel(tmp_path))
    with pytest.raises(WheelError, match="no such member"):
        wheel.remove(["demo/nothing.py"])
    with pytest.raises(WheelError, match="required file"):
        wheel.remove([f"{DIST}/METADATA"])
    with pytest.raises(WheelError, match="RECORD is regenerated"):
        wheel.replace(f"{DIST}/RECORD", b"")
    with pytest.raises(WheelError, match="invalid local version label"):
        wheel.set_local_version("no spaces")
    wheel.remove(["demo/core.py"])
    with pytest.raises(WheelError, match=r"no member demo/core\.py"):
        wheel.read("demo/core.py")


# -- writing ------------------------------------------------------------------------------------


def _edit(path: Path) -> Wheel:
    wheel = Wheel.open(path)
    wheel.remove(["demo/tests/test_core.py", "demo/data/table.txt"])
    wheel.replace("demo/core.py", b"def answer():\n    return 43\n")
    wheel.set_local_version("slim")
    return wheel


def test_write_is_deterministic_and_ordered(tmp_path: Path) -> None:
    source = build_wheel(tmp_path / "in")
    before = _digest(source)
    first = _edit(source).write(tmp_path / "a")
    second = _edit(source).write(tmp_path / "b")
    assert first.name == second.name == "demo-1.0+slim-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    assert _digest(source) == before
    with zipfile.ZipFile(first) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    new_dist = "demo-1.0+slim.dist-info"
    assert names[-1] == f"{new_dist}/RECORD"
    in_dist = [n.startswith(new_dist + "/") for n in names]
    assert in_dist == sorted(in_dist), "dist-info members must come last"
    assert names[: in_dist.index(True)] == sorted(names[: in_dist.index(True)])
    assert {i.date_time for i in infos} == {EPOCH}
    assert not any(n.startswith(DIST) for n in names)


def test_written_wheel_reopens_with_consistent_version(tmp_path: Path) -> None:
    written = _edit(build_wheel(tmp_path / "in")).write(tmp_path / "out")
    wheel = Wheel.open(written)  # validates RECORD hashes and sizes and METADATA vs file name
    assert wheel.version == Version("1.0+slim")
    assert wheel.dist_info == "demo-1.0+slim.dist-info"
    assert "Version: 1.0+slim\n" in wheel.metadata_text()
    assert "A demo wheel." in wheel.metadata_text()  # the body survives
    assert wheel.read("demo/core.py") == b"def answer():\n    return 43\n"
    assert "demo/tests/test_core.py" not in wheel.names()
    assert f"{wheel.dist_info}/LICENSE" in wheel.names()
    record = wheel.read_text(f"{wheel.dist_info}/RECORD").splitlines()
    assert sorted(line.split(",")[0] for line in record) == sorted(wheel.names())
    assert f"{wheel.dist_info}/RECORD,," in record


def test_second_label_and_requires_dist(tmp_path: Path) -> None:
    first = _edit(build_wheel(tmp_path / "in")).write(tmp_path / "a")
    wheel = Wheel.open(first)
    wheel.set_local_version("edge")
    wheel.set_requires_dist(["numpy<2"])
    again = Wheel.open(wheel.write(tmp_path / "b"))
    assert again.filename == "demo-1.0+slim.edge-py3-none-any.whl"
    assert again.requires_dist() == ["numpy<2"]


def test_local_version_renames_the_data_directory(tmp_path: Path) -> None:
    tool = b"#!python\nprint('hi')\n"
    source = build_wheel(tmp_path / "in", files={"demo-1.0.data/scripts/demo-tool": tool})
    wheel = Wheel.open(source)
    wheel.set_local_version("slim")
    written = Wheel.open(wheel.write(tmp_path / "out"))
    assert written.read("demo-1.0+slim.data/scripts/demo-tool") == tool
    assert not any(n.startswith("demo-1.0.data/") for n in written.names())


def test_platform_tag_rewrites_file_name_and_wheel_file(tmp_path: Path) -> None:
    wheel = Wheel.open(build_wheel(tmp_path / "in"))
    wheel.set_platform_tag(["win_amd64"])
    written = Wheel.open(wheel.write(tmp_path / "out"))
    assert written.filename == "demo-1.0-py3-none-win_amd64.whl"
    assert "Tag: py3-none-win_amd64\n" in written.read_text(f"{DIST}/WHEEL")


def test_written_wheel_is_readable_like_any_new_file(tmp_path: Path) -> None:
    written = _edit(build_wheel(tmp_path / "in")).write(tmp_path / "out")
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_write_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    path = build_wheel(tmp_path)
    before = _digest(path)
    with pytest.raises(WheelError, match="refusing to overwrite"):
        Wheel.open(path).write(tmp_path)
    assert _digest(path) == before


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _edit(build_wheel(tmp_path / "in"))
    out = tmp_path / "out"

    def explode(tmp: Path, entries: object, compression: str) -> None:
        tmp.write_bytes(b"half a wheel")
        raise KeyboardInterrupt

    monkeypatch.setattr(wheelfile, "write_zip", explode)
    with pytest.raises(KeyboardInterrupt):
        wheel.write(out)
    assert list(out.iterdir()) == []


def test_zip_info_helper_matches_writer(tmp_path: Path) -> None:
    # The factory writes what the builder writes for a plain file (create_system, mode, time).
    written = _edit(build_wheel(tmp_path / "in")).write(tmp_path / "out")
    with zipfile.ZipFile(written) as zf:
        info = zf.getinfo("demo/core.py")
    expected = zip_info("demo/core.py")
    assert (info.create_system, info.external_attr, info.date_time) == (
        expected.create_system,
        expected.external_attr,
        expected.date_time,
    )


# -- compression ----------------------------------------------------------------------------------


def _zipfile_bytes(path: Path, entries: list[ZipEntry]) -> bytes:
    """What zipfile.writestr writes for the same members (the layout write_zip follows)."""
    with zipfile.ZipFile(path, "w") as out:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = entry.mode << 16
            out.writestr(info, entry.data, compresslevel=9)
    return path.read_bytes()


def test_deflate_writes_what_zipfile_writes(tmp_path: Path) -> None:
    entries = [
        ZipEntry("pkg/__init__.py", b"x = 1\n" * 500, 0o100644),
        ZipEntry("pkg/tool", b"#!/bin/sh\n", 0o100755),
        ZipEntry("pkg/d\u00e9j\u00e0.txt", "\u00e9t\u00e9".encode(), 0o100644),
        ZipEntry("pkg/empty", b"", 0o100644),
    ]
    write_zip(tmp_path / "ours.zip", entries, DEFLATE)
    assert (tmp_path / "ours.zip").read_bytes() == _zipfile_bytes(tmp_path / "ref.zip", entries)


def test_zopfli_wheel_is_smaller_valid_and_byte_reproducible(tmp_path: Path) -> None:
    source = build_wheel(tmp_path / "in", files={"demo/big.py": b"value = 'abc' * 3\n" * 4000})
    deflated = Wheel.open(source).write(tmp_path / "deflate", DEFLATE)
    first = Wheel.open(source).write(tmp_path / "zopfli-1", ZOPFLI)
    second = Wheel.open(source).write(tmp_path / "zopfli-2", ZOPFLI)
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < deflated.stat().st_size
    reopened = Wheel.open(first)  # RECORD hashes and sizes check out
    with zipfile.ZipFile(first) as zf, zipfile.ZipFile(deflated) as ref:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == [
            (i.filename, ref.read(i)) for i in ref.infolist()
        ]
    assert reopened.read("demo/big.py") == b"value = 'abc' * 3\n" * 4000


def test_an_unknown_compression_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="--compress must be one of deflate, zopfli"):
        Wheel.open(build_wheel(tmp_path / "in")).write(tmp_path / "out", "brotli")
    assert not (tmp_path / "out").exists()


def test_zopfli_leaves_members_above_its_limit_to_zlib(tmp_path: Path) -> None:
    big = hashlib.sha256(b"seed").digest() * ((ZOPFLI_MAX // 32) + 1)
    entries = [ZipEntry("pkg/big.bin", big, 0o100644)]
    write_zip(tmp_path / "zopfli.zip", entries, ZOPFLI)
    write_zip(tmp_path / "zlib.zip", entries, DEFLATE)
    assert (tmp_path / "zopfli.zip").read_bytes() == (tmp_path / "zlib.zip").read_bytes()
