"""``recipes/tflite-runtime.toml`` as frozen dataclasses: the build, the TensorFlow versions
(source archive, patch series, CMake dependencies) and the target platforms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from .. import sources
from ..errors import RecipeError
from ..recipes import Table, load_recipe
from ..resources import patches_dir
from .platforms import Platform, load_platforms

RECIPE = "tflite-runtime"
BUILD_KEYS = {
    "script",
    "dist_dir",
    "distribution",
    "build_requires",
    "build_config",
    "verify_with",
}
PROFILE_KEYS = {"description", "linux", "windows"}
FLAG_KEYS = {"c_flags", "cxx_flags", "linker_flags", "lto"}
HOOKS = {"selected-ops", "xnnpack-off"}  # what a patch series lets a build switch on
VERSION_KEYS = {
    "hooks",
    "url",
    "sha256",
    "archive_root",
    "git_version",
    "patches",
    "fetchcontent",
    "source_dir_vars",
    "pin",
}
SOURCE_DIR_SUFFIX = "_SOURCE_DIR"


@dataclass(frozen=True)
class PinFix:
    """Where upstream's CMake pin of a dependency is known to be wrong, the commit to use."""

    dependency: str
    replaces: str  # the ref the tree's CMake files name
    ref: str
    evidence: str


@dataclass(frozen=True)
class Dependency:
    """A CMake dependency that --deps-dir provides as DIR/<name>, through CMake variable ``var``."""

    name: str
    var: str


@dataclass(frozen=True)
class VersionRecipe:
    version: str
    source: sources.SourceArchive
    git_version: str
    patches: tuple[Path, ...]
    dependencies: tuple[Dependency, ...]
    pin_fixes: tuple[PinFix, ...]
    hooks: frozenset[str]  # "selected-ops" (--ops-from), "xnnpack-off" (--no-xnnpack)


@dataclass(frozen=True)
class ProfileFlags:
    """Release-configuration compiler flags (replacing CMake's -O3/-O2 defaults), linker flags
    added to the platform's own, and whether to link with LTO."""

    c_flags: str
    cxx_flags: str
    linker_flags: str
    lto: bool


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    flags: dict[str, ProfileFlags]  # by platform os; absent: upstream's flags

    def for_os(self, os_name: str) -> ProfileFlags | None:
        return self.flags.get(os_name)


@dataclass(frozen=True)
class TfliteRecipe:
    script: str
    dist_dir: str
    distribution: str
    build_requires: tuple[str, ...]
    build_config: str
    verify_with: tuple[str, ...]
    versions: dict[str, VersionRecipe]
    platforms: dict[str, Platform]
    profiles: dict[str, Profile]

    def series_for(self, wanted: Version) -> VersionRecipe | None:
        """The recipe entry for ``wanted``'s release, else the newest entry below it (a
        development tree of a version the recipe does not know yet)."""
        base = Version(wanted.base_version)
        known = sorted(((Version(v), r) for v, r in self.versions.items()), key=lambda p: p[0])
        below = [recipe for version, recipe in known if version <= base]
        return below[-1] if below else None


def patches_root() -> Path:
    return patches_dir() / RECIPE


def load_tflite_recipe() -> TfliteRecipe:
    table = load_recipe(RECIPE)
    table.check_keys({"build", "versions", "platforms", "profiles", "slim"})  # slim: slim_recipe
    build = table.table("build")
    build.check_keys(BUILD_KEYS)
    versions_table = table.table("versions")
    versions = {v: _version(v, versions_table.table(v)) for v in versions_table.data}
    return TfliteRecipe(
        script=build.string("script"),
        dist_dir=build.string("dist_dir"),
        distribution=build.string("distribution"),
        build_requires=_requirements(build, "build_requires"),
        build_config=build.string("build_config"),
        verify_with=_requirements(build, "verify_with"),
        versions=versions,
        platforms=load_platforms(table.table("platforms")),
        profiles=_profiles(table.table("profiles")),
    )


def _profiles(table: Table) -> dict[str, Profile]:
    profiles = {}
    for name in table.data:
        entry = table.table(name)
        entry.check_keys(PROFILE_KEYS)
        flags: dict[str, ProfileFlags] = {}
        for os_name in ("linux", "windows"):
            if os_name in entry.data:
                flags[os_name] = _flags(entry.table(os_name))
        profiles[name] = Profile(name, entry.string("description"), flags)
    if "speed" not in profiles:
        raise RecipeError(f"{table.source}: [profiles.speed] (upstream's flags) is required")
    return profiles


def _flags(table: Table) -> ProfileFlags:
    table.check_keys(FLAG_KEYS)
    return ProfileFlags(
        c_flags=table.string("c_flags"),
        cxx_flags=table.string("cxx_flags"),
        linker_flags=table.string("linker_flags", ""),
        lto=table.boolean("lto", False),
    )


def _requirements(table: Table, key: str) -> tuple[str, ...]:
    values = table.strings(key)
    for value in values:
        try:
            Requirement(value)
        except InvalidRequirement as exc:
            raise RecipeError(f"{table.source}: {table.prefix}{key}: {value!r}: {exc}") from None
    return values


def _version(version: str, entry: Table) -> VersionRecipe:
    entry.check_keys(VERSION_KEYS)
    try:
        Version(version)
    except InvalidVersion:
        raise RecipeError(f"{entry.source}: versions.{version!r} is not a version") from None
    patches = tuple(patches_root() / version / name for name in entry.strings("patches"))
    missing = [p for p in patches if not p.is_file()]
    if missing:
        raise RecipeError(f"{entry.source}: {entry.prefix}patches: no such file {missing[0]}")
    archive = sources.SourceArchive(
        version=version,
        url=entry.string("url").format(version=version),
        sha256=entry.optional_string("sha256"),
        root=entry.string("archive_root").format(version=version),
    )
    return VersionRecipe(
        version=version,
        source=archive,
        git_version=entry.string("git_version").format(version=version),
        patches=patches,
        dependencies=_dependencies(entry),
        pin_fixes=tuple(_pin_fix(t) for t in entry.tables("pin")),
        hooks=_hooks(entry),
    )


def _hooks(entry: Table) -> frozenset[str]:
    hooks = frozenset(entry.strings("hooks"))
    unknown = sorted(hooks - HOOKS)
    if unknown:
        known = ", ".join(sorted(HOOKS))
        raise RecipeError(f"{entry.source}: {entry.prefix}hooks: unknown {unknown[0]!r} ({known})")
    return hooks


def _dependencies(entry: Table) -> tuple[Dependency, ...]:
    deps = [
        Dependency(n, f"FETCHCONTENT_SOURCE_DIR_{n.upper()}") for n in entry.strings("fetchcontent")
    ]
    for var in entry.strings("source_dir_vars"):
        if not var.endswith(SOURCE_DIR_SUFFIX):
            raise RecipeError(f"{entry.source}: {entry.prefix}source_dir_vars: {var} must end _DIR")
        deps.append(Dependency(var[: -len(SOURCE_DIR_SUFFIX)].lower(), var))
    return tuple(deps)


def _pin_fix(table: Table) -> PinFix:
    table.check_keys({"dependency", "replaces", "ref", "evidence"})
    return PinFix(
        dependency=table.string("dependency"),
        replaces=table.string("replaces"),
        ref=table.string("ref"),
        evidence=table.string("evidence"),
    )
