"""Target platforms of the tflite-runtime build: settings from the recipe, host checks, drivers.

Each platform in ``recipes/tflite-runtime.toml`` names an ``os``; the module for that OS
(``linux`` or ``windows`` here) is its ``PlatformDriver``: what differs between them (the
script's environment, CMake cache entries, ccache, repair, tags).
"""

from __future__ import annotations

import platform as host
import sys
from dataclasses import dataclass
from typing import Protocol, cast

from ...errors import RecipeError
from ...recipes import Table

PLATFORM_KEYS = {
    "os",
    "tensorflow_target",
    "plat_name",
    "wheel_platform",
    "manylinux",
    "generator_platform",
    "interpreter_arch",
    "machine",
    "jobs",
    "strip",
    "required_lines",
}


@dataclass(frozen=True)
class RequiredLine:
    """An upstream line the build relies on (checked in the source tree before building)."""

    file: str
    line: str


@dataclass(frozen=True)
class CacheEntry:
    """One ``set(NAME VALUE CACHE TYPE "")`` line of the CMake initial cache."""

    name: str
    type: str
    value: str

    def cmake(self) -> str:
        value = self.value.replace("\\", "/").replace('"', '\\"')
        return f'set({self.name} "{value}" CACHE {self.type} "")'


@dataclass(frozen=True)
class Platform:
    name: str
    os: str
    tensorflow_target: str
    plat_name: str
    wheel_platform: str
    manylinux: str | None
    generator_platform: str | None
    interpreter_arch: str | None
    machine: str | None
    jobs: int
    strip: bool
    required_lines: tuple[RequiredLine, ...]

    @property
    def driver(self) -> PlatformDriver:
        return driver_for(self.os)


class PlatformDriver(Protocol):
    """What a platform module (``linux``, ``windows``) provides."""

    OS: str
    VENV_BIN: str
    SCRIPT_SHELL: str

    def build_problem(self, target: Platform) -> str | None: ...
    def find_shell(self) -> str | None: ...
    def environment(self, target: Platform) -> dict[str, str]: ...
    def cache_entries(self, target: Platform, base_prefix: str | None) -> list[CacheEntry]: ...
    def configure_args(self, target: Platform) -> list[str]: ...
    def config_note(self, target: Platform, config: str) -> str: ...
    def strip_note(self, target: Platform) -> str: ...
    def ccache_problem(self, target: Platform) -> str | None: ...
    def repairs(self, target: Platform) -> bool: ...
    def final_platform_tag(self, target: Platform, repair: bool) -> str: ...


def driver_for(os_name: str) -> PlatformDriver:
    from . import linux, windows

    drivers = {linux.OS: linux, windows.OS: windows}
    if os_name not in drivers:
        raise RecipeError(f"unknown platform os {os_name!r} (known: {', '.join(sorted(drivers))})")
    return cast(PlatformDriver, drivers[os_name])


def load_platforms(table: Table) -> dict[str, Platform]:
    platforms = {}
    for name in table.data:
        entry = table.table(name)
        entry.check_keys(PLATFORM_KEYS)
        platforms[name] = _platform(name, entry)
    if not platforms:
        raise RecipeError(f"{table.source}: no [platforms.*] tables")
    return platforms


def _platform(name: str, entry: Table) -> Platform:
    os_name = entry.string("os")
    driver_for(os_name)
    jobs = entry.integer("jobs", 0)
    if jobs < 0:
        raise RecipeError(f"{entry.source}: {entry.prefix}jobs must be 0 (all cores) or more")
    required = []
    for line in entry.tables("required_lines"):
        line.check_keys({"file", "line"})
        required.append(RequiredLine(line.string("file"), line.string("line")))
    return Platform(
        name=name,
        os=os_name,
        tensorflow_target=entry.string("tensorflow_target"),
        plat_name=entry.string("plat_name"),
        wheel_platform=entry.string("wheel_platform"),
        manylinux=entry.optional_string("manylinux"),
        generator_platform=entry.optional_string("generator_platform"),
        interpreter_arch=entry.optional_string("interpreter_arch"),
        machine=entry.optional_string("machine"),
        jobs=jobs,
        strip=entry.boolean("strip", False),
        required_lines=tuple(required),
    )


def host_description() -> str:
    return f"{sys.platform}/{host.machine().lower() or 'unknown'}"
