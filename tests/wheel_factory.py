"""Small valid wheels built in temporary directories, and ways to corrupt them.

``build_wheel`` writes a pure-Python wheel whose RECORD matches its contents; its keyword arguments
change one thing at a time (a member's bytes, a missing metadata file, a doctored RECORD row, raw
zip entries that bypass RECORD) so each test breaks exactly what it is about. ``index_wheel`` is
the wheel of a project as the index tests publish it (``Requires-Python``, its own payload).
It is the tests' one wheel writer. The byte-level
helpers (``truncate``, ``declare_sizes``) edit an already written archive the way a damaged
download or a crafted compression bomb would look.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)
Row = list[str]


def dist_name(name: str) -> str:
    """The project name as it stands in file and directory names (``small-pkg``: ``small_pkg``)."""
    return name.replace("-", "_")


def default_members(
    name: str = "demo",
    version: str = "1.0",
    requires: Sequence[str] = ("packaging",),
    requires_python: str | None = None,
) -> dict[str, bytes]:
    """Members of a minimal wheel (RECORD excluded: ``build_wheel`` writes it)."""
    dist = dist_name(name)
    dist_info = f"{dist}-{version}.dist-info"
    headers = [f"Requires-Python: {requires_python}"] if requires_python else []
    headers += [f"Requires-Dist: {r}" for r in requires]
    return {
        f"{dist}/__init__.py": b"from .core import answer\n",
        f"{dist}/core.py": b"def answer():\n    return 42\n",
        f"{dist}/data/table.txt": b"0 1 2 3\n" * 64,
        f"{dist}/tests/test_core.py": b"def test():\n    pass\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"{h}\n" for h in headers)
            + "\nA demo wheel.\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: wheel_factory\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{dist_info}/LICENSE": b"Public domain.\n",
    }


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def zip_info(name: str, mode: int = 0o644 | stat.S_IFREG) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def build_wheel(
    directory: Path,
    name: str = "demo",
    version: str = "1.0",
    *,
    files: Mapping[str, bytes | None] | None = None,
    record: Callable[[list[Row]], list[Row]] | None = None,
    raw: Sequence[tuple[zipfile.ZipInfo | str, bytes]] = (),
    filename: str | None = None,
    executable: Sequence[str] = (),
    requires: Sequence[str] = ("packaging",),
    requires_python: str | None = None,
) -> Path:
    """Write a wheel into ``directory`` and return its path (same arguments -> same bytes).

    ``files`` overrides default members (``None`` removes one); ``record`` may doctor the RECORD
    rows (name, hash, size) before they are written; ``raw`` entries are appended to the zip as
    they are, unlisted in RECORD; ``filename`` overrides the file name; ``requires`` and
    ``requires_python`` go into METADATA.
    """
    members = default_members(name, version, requires, requires_python)
    for member, data in (files or {}).items():
        if data is None:
            members.pop(member, None)
        else:
            members[member] = data
    dist_info = f"{dist_name(name)}-{version}.dist-info"
    rows = [[n, record_hash(d), str(len(d))] for n, d in sorted(members.items())]
    rows = record(rows) if record else rows
    rows.append([f"{dist_info}/RECORD", "", ""])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    members[f"{dist_info}/RECORD"] = buffer.getvalue().encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (filename or f"{dist_name(name)}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        for member, data in members.items():
            mode = 0o755 if member in executable else 0o644
            zf.writestr(zip_info(member, mode | stat.S_IFREG), data)
        for info, data in raw:
            zf.writestr(zip_info(info) if isinstance(info, str) else info, data)
    return path


def index_wheel(
    directory: Path,
    name: str = "edgepkg",
    version: str = "1.0",
    payload: bytes = b"",
    requires: Sequence[str] = (),
) -> Path:
    """A project's wheel as the index tests publish it: ``Requires-Python: >=3.8``, only the
    given ``requires``, and ``payload`` bytes (two builds of one version differ by them)."""
    files = {f"{dist_name(name)}/payload.bin": payload}
    return build_wheel(
        directory, name, version, files=files, requires=requires, requires_python=">=3.8"
    )


def symlink_info(name: str) -> zipfile.ZipInfo:
    return zip_info(name, 0o777 | stat.S_IFLNK)


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut the file to a fraction of its length, as an interrupted download leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _central_entries(data: bytes) -> dict[str, int]:
    """Member name -> offset of its central directory entry."""
    eocd = data.rindex(b"PK\x05\x06")
    count = struct.unpack_from("<H", data, eocd + 10)[0]
    at = struct.unpack_from("<I", data, eocd + 16)[0]
    entries = {}
    for _ in range(count):
        if data[at : at + 4] != b"PK\x01\x02":
            raise ValueError("not a central directory entry")
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        entries[data[at + 46 : at + 46 + name_len].decode()] = at
        at += 46 + name_len + extra_len + comment_len
    return entries


def declare_sizes(path: Path, sizes: Mapping[str, tuple[int, int | None]]) -> Path:
    """Rewrite the central directory's declared (uncompressed, compressed) sizes of members,
    leaving their data alone: what a compression bomb's directory looks like before inflating."""
    data = bytearray(path.read_bytes())
    for member, at in _central_entries(data).items():
        if member in sizes:
            size, compressed = sizes[member]
            struct.pack_into("<I", data, at + 24, size)
            if compressed is not None:
                struct.pack_into("<I", data, at + 20, compressed)
    path.write_bytes(bytes(data))
    return path


def _patch_header_field(path: Path, member: str, central: int, local: int, value: int) -> Path:
    """Set a 16-bit field of ``member`` in its central directory entry and its local header."""
    data = bytearray(path.read_bytes())
    at = _central_entries(data)[member]
    struct.pack_into("<H", data, at + central, value)
    header = struct.unpack_from("<I", data, at + 42)[0]
    struct.pack_into("<H", data, header + local, value)
    path.write_bytes(bytes(data))
    return path


def declare_compression(path: Path, member: str, method: int) -> Path:
    """Claim another compression method for ``member``."""
    return _patch_header_field(path, member, 10, 8, method)


def declare_encrypted(path: Path, member: str) -> Path:
    """Set ``member``'s "encrypted" flag (general purpose bit 0)."""
    return _patch_header_field(path, member, 8, 6, 0x1)


def corrupt_data(path: Path, member: str) -> Path:
    """Flip a byte inside ``member``'s compressed data (sizes and directory intact)."""
    data = bytearray(path.read_bytes())
    at = _central_entries(data)[member]
    local = struct.unpack_from("<I", data, at + 42)[0]
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    data[local + 30 + name_len + extra_len + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    return path
