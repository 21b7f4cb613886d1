"""Deterministic zip archives with a choice of deflate encoder: zlib (level 9) or zopfli.

Both encoders write the same format: raw deflate streams, which every zip reader inflates alike.
zopfli spends much more time searching for a shorter encoding (measured on the slimmed wheels:
3–5 % smaller, see README); it is deterministic, so the same members give the same bytes.

The archive layout is the one ``zipfile.ZipFile.writestr`` writes for a ``ZipInfo`` with a fixed
date and no extra fields (checked byte for byte in ``tests/test_wheelfile.py``): so a wheel
written with ``deflate`` is unchanged from earlier releases, and one written with ``zopfli``
differs only in its compressed streams and sizes.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ArgumentError

DEFLATE, ZOPFLI = "deflate", "zopfli"
COMPRESSIONS = (DEFLATE, ZOPFLI)
# zopfli's own advice: 15 iterations for small inputs, 5 for inputs of several MB. Above
# ZOPFLI_MAX zlib's level 9 instead: PyPI numpy's 35 MB OpenBLAS took 350 s for 3.9 % (268 s
# with one iteration), where the whole lean numpy slim takes 38 s more. Fixed rules, so the
# output depends on the bytes alone.
ZOPFLI_ITERATIONS, ZOPFLI_LARGE_ITERATIONS, ZOPFLI_LARGE = 15, 5, 2 * 1024**2
ZOPFLI_MAX = 8 * 1024**2

ZIP_VERSION = 20  # 2.0: deflate
ZIP_DEFLATED = 8
UNIX = 3
UTF8_FLAG = 0x800
DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the earliest a zip file can hold
DOS_TIME_0 = 0
ZIP32_LIMIT = (1 << 31) - 1  # zipfile switches to zip64 above this; wheels stay far below
LOCAL = struct.Struct("<4s2B4HL2L2H")
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
END = struct.Struct("<4s4H2LH")


@dataclass(frozen=True)
class ZipEntry:
    name: str
    data: bytes
    mode: int  # st_mode bits for external_attr (regular file, permissions)


def check_compression(name: str) -> str:
    """``name`` if it is a known encoder that can run here, else an ArgumentError."""
    if name not in COMPRESSIONS:
        raise ArgumentError(f"--compress must be one of {', '.join(COMPRESSIONS)}, not {name!r}")
    if name == ZOPFLI and not zopfli_available():
        raise ArgumentError("--compress zopfli needs the zopfli package (pip install zopfli)")
    return name


def zopfli_available() -> bool:
    return importlib.util.find_spec("zopfli") is not None


def encoder(name: str) -> Callable[[bytes], bytes]:
    """A function from bytes to a raw deflate stream."""
    check_compression(name)
    return _zopfli if name == ZOPFLI else _zlib


def _zlib(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _zopfli(data: bytes) -> bytes:
    if len(data) > ZOPFLI_MAX:
        return _zlib(data)
    import zopfli.zopfli

    iterations = ZOPFLI_LARGE_ITERATIONS if len(data) > ZOPFLI_LARGE else ZOPFLI_ITERATIONS
    # The zlib container is zopfli's raw deflate stream between a 2-byte header and a 4-byte
    # Adler-32 trailer.
    stream: bytes = zopfli.zopfli.compress(data, numiterations=iterations, gzip_mode=0)
    return stream[2:-4]


def write_zip(target: Path, entries: Sequence[ZipEntry], compression: str = DEFLATE) -> None:
    """Write ``entries`` in order into ``target`` (a new file), each member deflated."""
    encode = encoder(compression)
    central = []
    with open(target, "wb") as out:
        for entry in entries:
            name, flags = _encoded_name(entry.name)
            packed = encode(entry.data)
            crc = zlib.crc32(entry.data)
            if max(len(entry.data), len(packed), out.tell()) > ZIP32_LIMIT:
                raise ValueError(f"{entry.name}: too large for a zip32 archive")
            sizes = (crc, len(packed), len(entry.data), len(name))
            offset = out.tell()
            fixed = (ZIP_VERSION, 0, flags, ZIP_DEFLATED, DOS_TIME_0, DOS_DATE_1980)
            out.write(LOCAL.pack(b"PK\x03\x04", *fixed, *sizes, 0))
            out.write(name)
            out.write(packed)
            # create version and system, then the local header's fields, then comment length,
            # disk number, internal attributes, external attributes (the mode) and offset
            header = CENTRAL.pack(
                b"PK\x01\x02",
                ZIP_VERSION,
                UNIX,
                *fixed,
                *sizes,
                0,
                0,
                0,
                0,
                entry.mode << 16,
                offset,
            )
            central.append(header + name)
        start = out.tell()
        directory = b"".join(central)
        out.write(directory)
        count = len(central)
        out.write(END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))


def _encoded_name(name: str) -> tuple[bytes, int]:
    """The name's bytes and flags as zipfile writes them: ASCII, else UTF-8 with bit 11 set."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), UTF8_FLAG
