"""Stripping symbols from ELF shared objects (``strip --strip-unneeded``), where a strip exists."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import CommandError
from .runner import run

ELF_MAGIC = b"\x7fELF"


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def is_bundled_library(member: str) -> bool:
    """Libraries grafted by auditwheel/delvewheel (``pkg.libs/``) or delocate (``pkg/.dylibs/``)
    were rewritten when grafted: stripping them can break them, so each one is verified alone."""
    parts = member.split("/")
    return parts[0].endswith((".libs", ".dylibs")) or ".dylibs" in parts[:-1]


def strip_tool() -> str | None:
    return shutil.which("strip")


def strip_elf(
    data: bytes, tool: str, options: Sequence[str] = ("--strip-unneeded",)
) -> bytes | None:
    """``data`` stripped (``tool OPTIONS -o OUT IN``), or None if strip failed or saved nothing."""
    with tempfile.TemporaryDirectory(prefix="tflite-edge-strip-") as tmp:
        source, target = Path(tmp, "in.so"), Path(tmp, "out.so")
        source.write_bytes(data)
        try:
            run([tool, *options, "-o", target, source], echo=False, log=False)
        except CommandError:
            return None
        stripped = target.read_bytes()
    return stripped if len(stripped) < len(data) else None
