"""Just enough ELF to read a shared object's DT_NEEDED list, its versioned symbol needs
(``GLIBC_2.29``, from DT_VERNEED) and which symbol needs which version (``.dynsym`` with
``.gnu.version``, as ``objdump -T`` shows them) in pure Python, without binutils."""

from __future__ import annotations

import struct

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
SHT_DYNSYM, SHT_GNU_VERSYM = 11, 0x6FFFFFFF
SHN_UNDEF = 0


def needed_libraries(data: bytes) -> list[str]:
    """The sonames a shared object links against; [] for anything that is not a readable ELF."""
    try:
        return _needed(data)
    except (struct.error, IndexError, ValueError):
        return []


def version_needs(data: bytes) -> dict[str, tuple[str, ...]]:
    """Symbol versions a shared object needs, per library (``{"libc.so.6": ("GLIBC_2.29", ...)}``);
    {} for anything that is not a readable ELF. The same facts ``objdump -T`` shows per symbol."""
    try:
        return _version_needs(data)
    except (struct.error, IndexError, ValueError):
        return {}


def symbol_versions(data: bytes) -> dict[str, tuple[str, str]]:
    """Each undefined dynamic symbol with a version need: ``{"exp": ("libm.so.6",
    "GLIBC_2.29")}``; {} for anything that is not a readable ELF with section headers."""
    try:
        return _symbol_versions(data)
    except (struct.error, IndexError, ValueError):
        return {}


def _needed(data: bytes) -> list[str]:
    found = _dynamic(data)
    if found is None:
        return []
    entries, strtab = found
    return [_string(data, strtab + value) for tag, value in entries if tag == DT_NEEDED]


def _version_needs(data: bytes) -> dict[str, tuple[str, ...]]:
    needs: dict[str, list[str]] = {}
    for library, version in _version_indexes(data).values():
        needs.setdefault(library, []).append(version)
    return {library: tuple(versions) for library, versions in needs.items()}


def _version_indexes(data: bytes) -> dict[int, tuple[str, str]]:
    """Version index (``vna_other``, what ``.gnu.version`` refers to) -> (library, version)."""
    found = _dynamic(data)
    if found is None:
        return {}
    entries, strtab = found
    order = "<" if data[5] == 1 else ">"
    tags = dict(entries)
    if DT_VERNEED not in tags:
        return {}
    at = _file_offset(tags[DT_VERNEED], _loads(data))
    indexes: dict[int, tuple[str, str]] = {}
    for _ in range(tags.get(DT_VERNEEDNUM, 0)):
        # Elf_Verneed (same layout in 32 and 64 bits): version, count, file, aux, next.
        _, count, file, aux, following = struct.unpack_from(order + "HHIII", data, at)
        library, entry = _string(data, strtab + file), at + aux
        for _ in range(count):
            # Elf_Vernaux: hash, flags, other, name, next.
            _, _, other, name, step = struct.unpack_from(order + "IHHII", data, entry)
            indexes[other] = (library, _string(data, strtab + name))
            entry += step
        if not following:
            break
        at += following
    return indexes


def _symbol_versions(data: bytes) -> dict[str, tuple[str, str]]:
    indexes = _version_indexes(data)
    sections = _section_headers(data)
    dynsym = next((s for s in sections if s[0] == SHT_DYNSYM), None)
    versym = next((s for s in sections if s[0] == SHT_GNU_VERSYM), None)
    if not indexes or dynsym is None or versym is None:
        return {}
    order = "<" if data[5] == 1 else ">"
    is64 = data[4] == 2
    _, offset, size, link, entsize = dynsym
    strtab = sections[link][1]
    found = {}
    for number in range(size // entsize):
        at = offset + number * entsize
        if is64:
            name, _, _, shndx = struct.unpack_from(order + "IBBH", data, at)
        else:
            name, _, _, _, _, shndx = struct.unpack_from(order + "IIIBBH", data, at)
        (index,) = struct.unpack_from(order + "H", data, versym[1] + 2 * number)
        version = indexes.get(index & 0x7FFF)
        if shndx == SHN_UNDEF and version is not None:
            found[_string(data, strtab + name)] = version
    return found


def _section_headers(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(type, file offset, size, link, entry size) of every section."""
    is64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        fmt = order + "IIQQQQIIQQ"
    else:
        (shoff,) = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        fmt = order + "IIIIIIIIII"
    headers = []
    for number in range(shnum):
        fields = struct.unpack_from(fmt, data, shoff + number * shentsize)
        headers.append((fields[1], fields[4], fields[5], fields[6], fields[9]))
    return headers


def _loads(data: bytes) -> list[tuple[int, int, int, int]]:
    return [h for h in _program_headers(data) if h[0] == PT_LOAD]


def _program_headers(data: bytes) -> list[tuple[int, int, int, int]]:
    is64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
    return [_program_header(data, order, is64, phoff + i * phentsize) for i in range(phnum)]


def _dynamic(data: bytes) -> tuple[list[tuple[int, int]], int] | None:
    """The dynamic section's (tag, value) entries and the string table's file offset."""
    if data[:4] != b"\x7fELF":
        return None
    is64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    headers = _program_headers(data)
    dynamic = next((h for h in headers if h[0] == PT_DYNAMIC), None)
    if dynamic is None:
        return None
    entries = _dynamic_entries(data, order, is64, dynamic[1], dynamic[3])
    strtab = next((value for tag, value in entries if tag == DT_STRTAB), None)
    if strtab is None:
        return None
    return entries, _file_offset(strtab, [h for h in headers if h[0] == PT_LOAD])


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
