"""Just enough ELF to read a shared object's DT_NEEDED list (pure Python, no binutils)."""

from __future__ import annotations

import struct

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


def needed_libraries(data: bytes) -> list[str]:
    """The sonames a shared object links against; [] for anything that is not a readable ELF."""
    try:
        return _needed(data)
    except (struct.error, IndexError, ValueError):
        return []


def _needed(data: bytes) -> list[str]:
    if data[:4] != b"\x7fELF":
        return []
    is64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
    loads, dynamic = [], None
    for index in range(phnum):
        header = _program_header(data, order, is64, phoff + index * phentsize)
        if header[0] == PT_LOAD:
            loads.append(header)
        elif header[0] == PT_DYNAMIC:
            dynamic = header
    if dynamic is None:
        return []
    entries = _dynamic_entries(data, order, is64, dynamic[1], dynamic[3])
    strtab = next((value for tag, value in entries if tag == DT_STRTAB), None)
    if strtab is None:
        return []
    base = _file_offset(strtab, loads)
    return [_string(data, base + value) for tag, value in entries if tag == DT_NEEDED]


def _program_header(data: bytes, order: str, is64: bool, at: int) -> tuple[int, int, int, int]:
    """(type, file offset, virtual address, file size)."""
    if is64:
        ptype, _, offset, vaddr, _, filesz = struct.unpack_from(order + "IIQQQQ", data, at)
    else:
        ptype, offset, vaddr, _, filesz = struct.unpack_from(order + "IIIII", data, at)
    return ptype, offset, vaddr, filesz


def _dynamic_entries(
    data: bytes, order: str, is64: bool, offset: int, size: int
) -> list[tuple[int, int]]:
    fmt, step = (order + "qQ", 16) if is64 else (order + "iI", 8)
    entries = []
    for at in range(offset, min(offset + size, len(data)) - step + 1, step):
        tag, value = struct.unpack_from(fmt, data, at)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    return entries


def _file_offset(address: int, loads: list[tuple[int, int, int, int]]) -> int:
    for _, offset, vaddr, filesz in loads:
        if vaddr <= address < vaddr + filesz:
            return address - vaddr + offset
    raise ValueError("address outside the loaded segments")


def _string(data: bytes, at: int) -> str:
    end = data.index(b"\0", at)
    return data[at:end].decode("utf-8", "replace")
