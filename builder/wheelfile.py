"""Safe wheel surgery: open and validate a wheel, change members and metadata, write a new wheel.

The input file is only ever read. ``Wheel.write`` produces a deterministic archive (sorted members,
fixed timestamps, ``.dist-info`` last with ``RECORD`` at the very end) through a temporary file
that is renamed into place, so a crash or Ctrl-C never leaves a partial wheel behind.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import BinaryIO, cast

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from .cache import atomic_path
from .errors import WheelError
from .zipwrite import DEFLATE, ZipEntry, check_compression, write_zip

# Declared-size limits, checked before anything is inflated. zipfile never returns more bytes
# than a member declares (and checks its CRC), so bounding the declared sizes bounds the work.
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_TOTAL_BYTES = 6 * 1024**3
MAX_MEMBERS = 100_000
# Deflate tops out near 1032:1 on constant data; real wheel members stay far below this.
MAX_RATIO = 200
RATIO_CHECK_FROM = 16 * 1024**2

READABLE_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
LABEL_RE = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+)*$", re.IGNORECASE)


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    compressed_size: int
    executable: bool


class Wheel:
    """A validated wheel with staged edits. Use ``Wheel.open``; nothing touches the input file."""

    def __init__(self, path: Path, members: dict[str, Member], dist_info: str) -> None:
        self.path = path
        self._members = members
        self._original_dist_info = dist_info
        name, version, build, _ = parse_wheel_filename(path.name)
        self.name = name
        self.version = version
        self._build = build
        self._tags = _tag_string(path.name)
        self._removed: set[str] = set()
        self._replaced: dict[str, bytes] = {}
        self._requires: list[str] | None = None
        self._description_note: str | None = None

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Wheel:
        """Open ``path`` and validate it completely; raise WheelError naming the first problem."""
        path = Path(path)
        if not path.is_file():
            raise WheelError(f"{path}: no such file")
        try:
            parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            raise WheelError(f"{path.name}: not a valid wheel file name ({exc})") from None
        members = _read_directory(path)
        dist_info = _find_dist_info(path, members)
        wheel = cls(path, members, dist_info)
        wheel._validate_metadata()
        wheel._validate_record()
        return wheel

    @property
    def filename(self) -> str:
        version = str(self.version).replace("-", "_")
        build = f"-{self._build[0]}{self._build[1]}" if self._build else ""
        return f"{self._dist_name}-{version}{build}-{self._tags}.whl"

    @property
    def _dist_name(self) -> str:
        return self._original_dist_info[: -len(".dist-info")].rsplit("-", 1)[0]

    @property
    def dist_info_source(self) -> str:
        """The ``.dist-info`` directory as named in the input wheel (members are read by it)."""
        return self._original_dist_info

    @property
    def dist_info(self) -> str:
        return f"{self._dist_name}-{self.version}.dist-info"

    @property
    def tags(self) -> frozenset[Tag]:
        tags: frozenset[Tag] = parse_wheel_filename(f"x-1-{self._tags}.whl")[3]
        return tags

    def members(self) -> list[Member]:
        """Current members (after staged edits), sorted by name; directory entries excluded."""
        result = []
        for name, member in sorted(self._members.items()):
            if name in self._removed:
                continue
            if name in self._replaced:
                data = self._replaced[name]
                member = Member(name, len(data), -1, member.executable)
            result.append(member)
        return result

    def names(self) -> list[str]:
        return [m.name for m in self.members()]

    def read(self, name: str) -> bytes:
        if name in self._removed or name not in self._members:
            raise WheelError(f"{self.path.name}: no member {name}")
        if name in self._replaced:
            return self._replaced[name]
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(name)

    def read_text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError:
            raise WheelError(f"{self.path.name}: {name} is not UTF-8 text") from None

    def metadata_text(self) -> str:
        return self.read_text(f"{self._original_dist_info}/METADATA")

    def requires_dist(self) -> list[str]:
        headers = HeaderParser().parsestr(self.metadata_text(), headersonly=True)
        return headers.get_all("Requires-Dist") or []

    def installed_size(self) -> int:
        return sum(m.size for m in self.members())

    def is_dist_info(self, name: str) -> bool:
        return name.startswith(self._original_dist_info + "/")

    def extract(self, dest: Path, names: Iterable[str] | None = None) -> None:
        """Write members (all by default) below ``dest``; names were validated on open."""
        wanted = set(self.names() if names is None else names)
        with zipfile.ZipFile(self.path) as zf:
            for name in sorted(wanted):
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                data = self._replaced[name] if name in self._replaced else zf.read(name)
                target.write_bytes(data)
                if self._members[name].executable:
                    target.chmod(0o755)

    # -- editing -------------------------------------------------------------------------------

    def remove(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self._members:
                raise WheelError(f"{self.path.name}: cannot remove {name}: no such member")
            if name.startswith(self._original_dist_info + "/") and name.endswith(
                ("/METADATA", "/WHEEL", "/RECORD")
            ):
                raise WheelError(f"{self.path.name}: refusing to remove required file {name}")
            self._removed.add(name)
            self._replaced.pop(name, None)

    def replace(self, name: str, data: bytes) -> None:
        if name not in self._members or name in self._removed:
            raise WheelError(f"{self.path.name}: cannot replace {name}: no such member")
        if name == f"{self._original_dist_info}/RECORD":
            raise WheelError("RECORD is regenerated on write and cannot be replaced")
        self._replaced[name] = data

    def add(self, name: str, data: bytes) -> None:
        """Add a file to the wheel's payload (never to .dist-info or .data: metadata changes go
        through the ``set_*`` methods, so RECORD and METADATA stay consistent)."""
        parts = name.split("/")
        if not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts:
            raise WheelError(f"{self.path.name}: cannot add {name!r}: not a relative path")
        if parts[0].endswith((".dist-info", ".data")):
            raise WheelError(f"{self.path.name}: cannot add {name}: metadata is not added")
        if name in self._members and name not in self._removed:
            raise WheelError(f"{self.path.name}: cannot add {name}: it exists")
        self._members[name] = Member(name, len(data), -1, False)
        self._removed.discard(name)
        self._replaced[name] = data

    def set_description_note(self, note: str) -> None:
        """A paragraph appended to the METADATA description (what a build made of the wheel)."""
        self._description_note = note

    def set_local_version(self, label: str) -> None:
        """Give the wheel a PEP 440 local version label (``1.26.4`` -> ``1.26.4+slim``)."""
        check_local_label(label)
        base = self.version.public
        local = f"{self.version.local}.{label}" if self.version.local else label
        self.version = Version(f"{base}+{local}")

    def set_platform_tag(self, platforms: Iterable[str]) -> None:
        """Replace the platform part of every tag (file name and WHEEL), e.g. a true manylinux."""
        platforms = sorted(set(platforms))
        pythons = sorted({t.interpreter for t in self.tags})
        abis = sorted({t.abi for t in self.tags})
        self._tags = "-".join([".".join(pythons), ".".join(abis), ".".join(platforms)])

    def set_requires_dist(self, requirements: Iterable[str]) -> None:
        """Rewrite the ``Requires-Dist`` headers of METADATA, keeping everything else verbatim."""
        self._requires = list(requirements)

    # -- writing -------------------------------------------------------------------------------

    def write(self, out_dir: Path, compression: str = DEFLATE) -> Path:
        """Write the edited wheel into ``out_dir`` atomically and return its path; members are
        deflated with zlib (``deflate``, fast) or zopfli (``zopfli``, smaller, for published
        wheels)."""
        target = Path(out_dir) / self.filename
        if target.resolve() == self.path.resolve():
            raise WheelError(f"refusing to overwrite the input wheel {self.path}")
        check_compression(compression)
        with atomic_path(target) as tmp:
            write_zip(tmp, self._entries(), compression)
        return target

    def _entries(self) -> list[ZipEntry]:
        """Members sorted by name, ``.dist-info`` last and its regenerated RECORD at the end."""
        new = self.dist_info
        contents = self._final_contents()
        names = sorted(contents, key=lambda n: (n.startswith(new + "/"), n))
        entries, rows = [], []
        for name in names:
            data, executable = contents[name]
            entries.append(ZipEntry(name, data, _mode(executable)))
            rows.append(_record_row(name, data))
        rows.append((f"{new}/RECORD", "", ""))
        entries.append(ZipEntry(f"{new}/RECORD", _record_bytes(rows), _mode(False)))
        return entries

    def _final_contents(self) -> dict[str, tuple[bytes, bool]]:
        old, new = self._original_dist_info, self.dist_info
        old_data, new_data = _data_dir(old), _data_dir(new)
        result: dict[str, tuple[bytes, bool]] = {}
        with zipfile.ZipFile(self.path) as zf:
            for member in self.members():
                name = member.name
                if name == f"{old}/RECORD":
                    continue
                data = self._replaced[name] if name in self._replaced else zf.read(name)
                if name.startswith(old + "/"):
                    name = new + name[len(old) :]
                elif name.startswith(old_data + "/"):
                    name = new_data + name[len(old_data) :]
                result[name] = (data, member.executable)
        metadata, executable = result[f"{new}/METADATA"]
        result[f"{new}/METADATA"] = (self._edited_metadata(metadata.decode("utf-8")), executable)
        wheel_meta, executable = result[f"{new}/WHEEL"]
        result[f"{new}/WHEEL"] = (self._edited_wheel_file(wheel_meta.decode("utf-8")), executable)
        return result

    def _edited_metadata(self, text: str) -> bytes:
        head, sep, body = _split_headers(text)
        out = []
        for header in head:
            key = header.split(":", 1)[0].strip().lower()
            if key == "version":
                header = f"Version: {self.version}\n"
            elif key == "requires-dist" and self._requires is not None:
                continue
            out.append(header)
        out.extend(f"Requires-Dist: {r}\n" for r in self._requires or [])
        if self._description_note:
            body = (
                body.rstrip("\n") + ("\n\n" if body.strip() else "") + self._description_note + "\n"
            )
            sep = sep or "\n"
        return ("".join(out) + sep + body).encode("utf-8")

    def _edited_wheel_file(self, text: str) -> bytes:
        head, sep, body = _split_headers(text)
        kept = [h for h in head if h.split(":", 1)[0].strip().lower() != "tag"]
        tags = sorted(str(t) for t in self.tags)
        return ("".join(kept) + "".join(f"Tag: {t}\n" for t in tags) + sep + body).encode()

    # -- validation ----------------------------------------------------------------------------

    def _validate_metadata(self) -> None:
        wheel_text = self._parse_headers("WHEEL")
        wheel_version = wheel_text.get("Wheel-Version")
        if not wheel_version or not re.match(r"^1\.\d+$", wheel_version.strip()):
            raise WheelError(f"{self.path.name}: WHEEL has no valid Wheel-Version (want 1.x)")
        if wheel_text.get("Root-Is-Purelib") is None:
            raise WheelError(f"{self.path.name}: WHEEL lacks Root-Is-Purelib")
        metadata = self._parse_headers("METADATA")
        for field in ("Metadata-Version", "Name", "Version"):
            if not metadata.get(field):
                raise WheelError(f"{self.path.name}: METADATA lacks {field}")
        if canonicalize_name(metadata["Name"]) != self.name:
            raise WheelError(
                f"{self.path.name}: METADATA Name {metadata['Name']!r} does not match the file name"
            )
        try:
            version = Version(metadata["Version"])
        except InvalidVersion:
            raise WheelError(f"{self.path.name}: METADATA Version is not PEP 440") from None
        if version != self.version:
            raise WheelError(
                f"{self.path.name}: METADATA Version {version} does not match the file name"
            )

    def _parse_headers(self, basename: str) -> dict[str, str]:
        name = f"{self._original_dist_info}/{basename}"
        if name not in self._members:
            raise WheelError(f"{self.path.name}: missing {name}")
        text = self.read_text(name)
        head, _, _ = _split_headers(text)
        if not head or any(":" not in h.split("\n", 1)[0] for h in head):
            raise WheelError(f"{self.path.name}: {name} is malformed (expected 'Key: value' lines)")
        return dict(HeaderParser().parsestr(text, headersonly=True).items())

    def _validate_record(self) -> None:
        record_name = f"{self._original_dist_info}/RECORD"
        if record_name not in self._members:
            raise WheelError(f"{self.path.name}: missing {record_name}")
        entries = self._record_entries(record_name)
        with zipfile.ZipFile(self.path) as zf:
            for name in self._members:
                if name == record_name or name.endswith(("/RECORD.jws", "/RECORD.p7s")):
                    continue
                entry = entries.pop(name, None)
                if entry is None:
                    raise WheelError(f"{self.path.name}: {name} is not listed in RECORD")
                if entry.hash_ is None or entry.size is None:
                    raise WheelError(f"{self.path.name}: RECORD has no hash/size for {name}")
                if entry.hash_.name not in STRONG_HASHES:
                    raise WheelError(
                        f"{self.path.name}: RECORD hashes {name} with {entry.hash_.name}"
                        " (PEP 427 wants sha256 or stronger)"
                    )
                try:
                    with zf.open(name) as stream:
                        # installer 0.7, the last release for CPython 3.9, has only
                        # validate(bytes).
                        valid = (
                            entry.validate_stream(cast(BinaryIO, stream))
                            if hasattr(entry, "validate_stream")
                            else entry.validate(stream.read())
                        )
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                    raise WheelError(f"{self.path.name}: {name} is corrupt ({exc})") from None
                if not valid:
                    raise WheelError(
                        f"{self.path.name}: {name} does not match its RECORD hash/size"
                    )
        if entries:
            missing = sorted(entries)[0]
            raise WheelError(f"{self.path.name}: RECORD lists {missing}, which is not in the wheel")

    def _record_entries(self, record_name: str) -> dict[str, RecordEntry]:
        entries: dict[str, RecordEntry] = {}
        try:
            for elements in parse_record_file(self.read_text(record_name).splitlines()):
                if elements[0] == record_name:
                    continue
                entries[elements[0]] = RecordEntry.from_elements(*elements)
        except InvalidRecordEntry as exc:
            issue = next(iter(exc.issues))
            raise WheelError(f"{self.path.name}: invalid RECORD entry: {issue}") from None
        except (ValueError, csv.Error) as exc:
            raise WheelError(f"{self.path.name}: malformed RECORD: {exc}") from None
        return entries


# -- module helpers ------------------------------------------------------------------------------


def _tag_string(filename: str) -> str:
    parts = filename[: -len(".whl")].split("-")
    return "-".join(parts[-3:])


def _data_dir(dist_info: str) -> str:
    return dist_info[: -len(".dist-info")] + ".data"


def _read_directory(path: Path) -> dict[str, Member]:
    """Read the central directory only, refusing unsafe or implausible entries."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        message = f"{path.name}: not a valid zip archive (truncated or corrupt: {exc})"
        raise WheelError(message) from None
    except OSError as exc:
        raise WheelError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    if len(infos) > MAX_MEMBERS:
        raise WheelError(f"{path.name}: implausible number of members ({len(infos)})")
    members: dict[str, Member] = {}
    total = 0
    for info in infos:
        _check_member_name(path, info)
        _check_member_size(path, info)
        total += info.file_size
        if info.is_dir():
            continue
        if info.filename in members:
            raise WheelError(f"{path.name}: duplicate member name {info.filename}")
        mode = info.external_attr >> 16
        members[info.filename] = Member(
            info.filename, info.file_size, info.compress_size, bool(mode & 0o111)
        )
    if total > MAX_TOTAL_BYTES:
        raise WheelError(
            f"{path.name}: declared uncompressed size {total} B is implausible (compression bomb?)"
        )
    return members


def _check_member_name(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    # zipfile rewrites "\\" to "/" on Windows only; judge the raw name everywhere.
    raw = info.orig_filename
    if not name or "\x00" in raw:
        raise WheelError(f"{path.name}: member with an empty or NUL-containing name")
    if raw.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", raw):
        raise WheelError(f"{path.name}: member {raw!r} has an absolute path")
    parts = re.split(r"[\\/]", raw)
    if ".." in parts:
        raise WheelError(f"{path.name}: member {raw!r} escapes the tree ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise WheelError(f"{path.name}: member {raw!r} is a symlink")
    if info.flag_bits & 0x1:
        raise WheelError(f"{path.name}: member {raw!r} is encrypted")
    if info.compress_type not in READABLE_COMPRESSION:
        raise WheelError(
            f"{path.name}: member {raw!r} uses unsupported compression {info.compress_type}"
        )


def _check_member_size(path: Path, info: zipfile.ZipInfo) -> None:
    size = info.file_size
    if size > MAX_MEMBER_BYTES:
        raise WheelError(
            f"{path.name}: member {info.filename} declares {size} B uncompressed "
            "(compression bomb?)"
        )
    if size >= RATIO_CHECK_FROM and size > MAX_RATIO * max(info.compress_size, 1):
        raise WheelError(
            f"{path.name}: member {info.filename} declares {size} B from {info.compress_size} B "
            f"compressed (ratio > {MAX_RATIO}: compression bomb?)"
        )


def check_local_label(label: str) -> None:
    """Refuse a local version label PEP 440 does not allow (checked before any long work)."""
    if not LABEL_RE.match(label):
        raise WheelError(f"invalid local version label {label!r} (letters, digits and dots)")


def _find_dist_info(path: Path, members: dict[str, Member]) -> str:
    name, version, _, _ = parse_wheel_filename(path.name)
    tops = {m.split("/", 1)[0] for m in members if "/" in m}
    candidates = [t for t in tops if t.endswith(".dist-info")]
    matching = [
        c
        for c in candidates
        if canonicalize_name(c[: -len(".dist-info")].rsplit("-", 1)[0]) == name
        and _same_version(c[: -len(".dist-info")].rsplit("-", 1)[-1], version)
    ]
    if len(matching) != 1:
        found = ", ".join(sorted(candidates)) or "none"
        raise WheelError(
            f"{path.name}: expected one .dist-info directory for {name} {version}, found: {found}"
        )
    return matching[0]


def _same_version(text: str, version: Version) -> bool:
    try:
        return bool(Version(text) == version)
    except InvalidVersion:
        return False


def _split_headers(text: str) -> tuple[list[str], str, str]:
    """Split RFC 822 text into header entries (with continuation lines), separator and body."""
    lines = text.splitlines(keepends=True)
    head: list[str] = []
    for index, line in enumerate(lines):
        if line.strip() == "":
            return head, line, "".join(lines[index + 1 :])
        if line[:1] in (" ", "\t") and head:
            head[-1] += line
        else:
            head.append(line if line.endswith("\n") else line + "\n")
    return head, "", ""


def _mode(executable: bool) -> int:
    return (0o755 if executable else 0o644) | stat.S_IFREG


def _record_row(name: str, data: bytes) -> tuple[str, str, str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return (name, f"sha256={digest}", str(len(data)))


def _record_bytes(rows: list[tuple[str, str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
