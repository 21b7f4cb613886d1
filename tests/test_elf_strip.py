"""builder.elf and builder.strip on real shared objects from this system."""

from __future__ import annotations

import re
import shutil
import sysconfig
from pathlib import Path

import pytest

from builder.elf import needed_libraries
from builder.runner import run
from builder.strip import is_bundled_library, is_elf, strip_elf, strip_tool


def _extension_modules() -> list[Path]:
    # DESTSHARED is the base interpreter's lib-dynload (a venv's stdlib paths point elsewhere).
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or "/nonexistent")
    return sorted(dynload.glob("*.so"))[:8]


@pytest.fixture(scope="module")
def shared_objects() -> list[Path]:
    found = _extension_modules()
    if not found:
        pytest.skip("this interpreter has no lib-dynload extension modules")
    return found


def _readelf_needed(path: Path) -> list[str]:
    output = run(["readelf", "-d", path], echo=False, log=False).output
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output)


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")
def test_needed_libraries_agree_with_readelf(shared_objects: list[Path]) -> None:
    for path in shared_objects:
        assert needed_libraries(path.read_bytes()) == _readelf_needed(path), path


def test_extension_modules_link_libc(shared_objects: list[Path]) -> None:
    # A CPython extension module on glibc Linux links libc (or libm/libpthread at least).
    found = [needed_libraries(p.read_bytes()) for p in shared_objects]
    assert any("libc.so.6" in needed for needed in found)


@pytest.mark.parametrize(
    "data", [b"", b"\x7fEL", b"\x7fELF" + b"\2\1" + b"\0" * 10, b"#!/bin/sh\n", b"\x7fELF" * 40]
)
def test_needed_libraries_of_junk_is_empty(data: bytes) -> None:
    assert needed_libraries(data) == []


def test_truncated_elf_is_empty_not_an_exception(shared_objects: list[Path]) -> None:
    data = shared_objects[0].read_bytes()
    for cut in (64, 200, len(data) // 3):
        assert isinstance(needed_libraries(data[:cut]), list)


def test_is_elf_and_bundled_library() -> None:
    assert is_elf(b"\x7fELF\2\1\1")
    assert not is_elf(b"PK\3\4")
    assert is_bundled_library("numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so")
    assert is_bundled_library("scipy/.dylibs/libgfortran.5.dylib")  # delocate's layout
    assert is_bundled_library("pkg.dylibs/libx.dylib")
    assert not is_bundled_library("numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so")


@pytest.mark.skipif(strip_tool() is None, reason="needs strip")
def test_strip_keeps_dynamic_section(shared_objects: list[Path], tmp_path: Path) -> None:
    tool = strip_tool()
    assert tool is not None
    results = [(p, strip_elf(p.read_bytes(), tool)) for p in shared_objects]
    smaller = [(p, data) for p, data in results if data is not None]
    for path, data in smaller:
        assert is_elf(data)
        assert len(data) < path.stat().st_size
        assert needed_libraries(data) == needed_libraries(path.read_bytes())
    # Stripping what is already stripped saves nothing: None, not an equal copy.
    for _, data in smaller[:2]:
        assert strip_elf(data, tool) is None
    assert strip_elf(b"not an elf file", tool) is None
