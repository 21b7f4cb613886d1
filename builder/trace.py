"""From a traced inference run to wheel members and removable units.

The runner's audit hook reports absolute paths that were opened, imported (``__file__`` of every
module in ``sys.modules``) and mapped into the process (``/proc/self/maps``). Here they become the
wheel members they came from, and the remaining members are grouped into the units the search
removes: a whole directory while nothing in it was used, single files otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .elf import needed_libraries
from .slim_recipe import SlimRecipe, glob_match
from .smoke import Trace

GENERIC_UNITS = ("*/", "*/*/", "*/*/*/")


@dataclass(frozen=True)
class TracedUse:
    """Members a traced run used. ``imported`` holds modules (hard evidence of need); ``loaded``
    holds files only opened or mapped (a ctypes preload, a data file): those may be optional."""

    imported: frozenset[str]
    loaded: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.imported | self.loaded


def traced_members(trace: Trace, site_packages: Path, members: Iterable[str]) -> TracedUse:
    members = set(members)
    imported = _to_members(trace.modules, site_packages, members)
    touched = _to_members(trace.opened | trace.mapped, site_packages, members)
    return TracedUse(frozenset(imported), frozenset(touched - imported))


def _to_members(paths: Iterable[str], site_packages: Path, members: set[str]) -> set[str]:
    root = os.path.realpath(site_packages) + os.sep
    found = set()
    for path in paths:
        real = os.path.realpath(path)
        if not real.startswith(root):
            continue
        name = _source_of(real[len(root) :].replace(os.sep, "/"))
        if name in members:
            found.add(name)
    return found


def _source_of(name: str) -> str:
    """``pkg/__pycache__/mod.cpython-311.pyc`` -> ``pkg/mod.py``; other names unchanged."""
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc"):
        module = parts[-1].split(".", 1)[0]
        return "/".join([*parts[:-2], f"{module}.py"])
    return name


def linked_closure(
    roots: Iterable[str], read: Callable[[str], bytes], members: Iterable[str]
) -> set[str]:
    """Members that the ELF files ``roots`` link against (DT_NEEDED), transitively: a library
    another needed library links is needed too, whatever an oracle run would say."""
    by_basename = {name.rsplit("/", 1)[-1]: name for name in members}
    needed: set[str] = set()
    pending = list(roots)
    while pending:
        for soname in needed_libraries(read(pending.pop())):
            member = by_basename.get(soname)
            if member is not None and member not in needed:
                needed.add(member)
                pending.append(member)
    return needed


def group_units(
    candidates: Iterable[str], recipe: SlimRecipe, used: frozenset[str]
) -> dict[str, tuple[str, ...]]:
    """Unit name -> its members. A directory pattern forms a unit only if nothing in it is used."""
    patterns = [p for p in recipe.units if p.endswith("/")] or list(GENERIC_UNITS)
    used_dirs = {
        name.rsplit("/", i)[0] + "/" for name in used for i in range(1, name.count("/") + 1)
    }
    units: dict[str, list[str]] = {}
    for member in sorted(candidates):
        unit = _directory_unit(member, patterns, used_dirs) or member
        units.setdefault(unit, []).append(member)
    return {unit: tuple(names) for unit, names in units.items()}


def _directory_unit(member: str, patterns: list[str], used_dirs: set[str]) -> str | None:
    for pattern in patterns:
        depth = pattern.count("/")
        parts = member.split("/")
        if len(parts) <= depth:
            continue
        prefix = "/".join(parts[:depth]) + "/"
        if glob_match(pattern, prefix) and prefix not in used_dirs:
            return prefix
    return None
