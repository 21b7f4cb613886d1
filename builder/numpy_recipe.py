"""The ``[build]`` part of ``recipes/numpy.toml``: how to build lean numpy, as frozen dataclasses.

One recipe renders the meson settings for every platform (``build numpy`` here, cibuildwheel in
CI on Linux and Windows), so local and CI builds cannot drift. Three layers:

* profiles (``size``, ``speed``): meson built-in options such as ``buildtype``;
* platforms (``linux``, ``windows``): extra setup arguments (``--vsenv``), compiler flags passed
  through the environment, and the strip command;
* numpy version ranges: numpy's own project options, common and per profile. Their names differ
  between numpy releases, so before a build each one is checked against the sdist's
  ``meson.options`` / ``meson_options.txt`` (``check_project_options``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from .errors import RecipeError, UnsupportedPlatformError
from .recipes import Table, load_recipe

OptionValue = Union[str, bool, int]
Options = tuple[tuple[str, OptionValue], ...]

# Meson built-in options a profile may set. Compiler and linker flags are refused on purpose:
# meson splits array options on commas, which breaks flags such as -Wl,--gc-sections; they go
# through [build.platforms.*].env (CFLAGS, LDFLAGS) instead.
MESON_BUILTINS = frozenset(
    {
        "buildtype",
        "debug",
        "optimization",
        "b_ndebug",
        "b_lto",
        "b_lto_mode",
        "b_lto_threads",
        "b_pie",
        "b_staticpic",
        "strip",
        "warning_level",
        "werror",
    }
)
FLAG_OPTIONS = frozenset({"c_args", "cpp_args", "c_link_args", "cpp_link_args"})
OPTION_FILES = ("meson.options", "meson_options.txt")  # meson prefers the first
CONFIG_KEY = "setup-args"
OPTION_RE = re.compile(r"""option\(\s*'([^']+)'\s*,\s*type\s*:\s*'([^']+)'""")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    local_version: str
    meson: Options


@dataclass(frozen=True)
class PlatformFamily:
    name: str
    tags: tuple[str, ...]
    setup_args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    strip: tuple[str, ...]


@dataclass(frozen=True)
class VersionRange:
    versions: SpecifierSet
    options: Options
    profile_options: tuple[tuple[str, Options], ...]

    def options_for(self, profile: str) -> Options:
        extra = dict(self.profile_options).get(profile, ())
        return (*self.options, *extra)


@dataclass(frozen=True)
class BuildPlan:
    """Everything one build of one numpy version passes to meson, for one platform."""

    version: Version
    profile: Profile
    platform: str
    family: PlatformFamily
    builtin_options: Options
    project_options: Options
    recipe_source: str

    def config_settings(self) -> tuple[tuple[str, str], ...]:
        """PEP 517 config settings, in order: ``(setup-args, -Dname=value)``, then platform args."""
        options = [*self.builtin_options, *self.project_options]
        pairs = [(CONFIG_KEY, f"-D{name}={render_value(value)}") for name, value in options]
        pairs += [(CONFIG_KEY, arg) for arg in self.family.setup_args]
        return tuple(pairs)

    def frontend_args(self) -> list[str]:
        """``-Csetup-args=...`` arguments for ``python -m build``."""
        return [f"-C{key}={value}" for key, value in self.config_settings()]

    def cibuildwheel_config_settings(self) -> str:
        """One line for ``CIBW_CONFIG_SETTINGS``: shell-quoted ``KEY=VALUE`` pairs."""
        return " ".join(shlex.quote(f"{key}={value}") for key, value in self.config_settings())

    def cibuildwheel_environment(self) -> str:
        """One line for ``CIBW_ENVIRONMENT``: shell-quoted ``NAME=value`` assignments."""
        return " ".join(f"{name}={shlex.quote(value)}" for name, value in self.family.env)


@dataclass(frozen=True)
class BuildRecipe:
    source: str
    default_profile: str
    profiles: tuple[Profile, ...]
    platforms: tuple[PlatformFamily, ...]
    ranges: tuple[VersionRange, ...]

    def profile(self, name: str | None) -> Profile:
        name = name or self.default_profile
        for profile in self.profiles:
            if profile.name == name:
                return profile
        known = ", ".join(p.name for p in self.profiles)
        raise RecipeError(f"{self.source}: no build profile {name!r} (known: {known})")

    def platform_family(self, tag: str) -> PlatformFamily:
        for family in self.platforms:
            if tag in family.tags:
                return family
        known = ", ".join(self.platform_tags())
        raise UnsupportedPlatformError(
            f"no numpy build settings for platform {tag} (known: {known})"
        )

    def platform_tags(self) -> list[str]:
        return [tag for family in self.platforms for tag in family.tags]

    def version_range(self, version: Version) -> VersionRange:
        for entry in self.ranges:
            if version in entry.versions:
                return entry
        known = "; ".join(str(r.versions) for r in self.ranges)
        raise RecipeError(
            f"{self.source}: no [[build.numpy]] range matches numpy {version} (ranges: {known})"
        )

    def plan(self, version: Version, profile: str | None, platform: str) -> BuildPlan:
        chosen = self.profile(profile)
        entry = self.version_range(version)
        return BuildPlan(
            version=version,
            profile=chosen,
            platform=platform,
            family=self.platform_family(platform),
            builtin_options=chosen.meson,
            project_options=entry.options_for(chosen.name),
            recipe_source=self.source,
        )


def render_value(value: OptionValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- loading -------------------------------------------------------------------------------------


def load_build_recipe() -> BuildRecipe:
    return parse_build_recipe(load_recipe("numpy").table("build"))


def parse_build_recipe(table: Table) -> BuildRecipe:
    """Build and validate the recipe from the ``[build]`` table; every mistake is a RecipeError."""
    table.check_keys({"default_profile", "profiles", "platforms", "numpy"})
    profiles_table = table.table("profiles")
    profiles = tuple(_profile(name, profiles_table.table(name)) for name in profiles_table.data)
    platforms_table = table.table("platforms")
    platforms = tuple(_platform(name, platforms_table.table(name)) for name in platforms_table.data)
    profile_names = {p.name for p in profiles}
    ranges = tuple(_version_range(t, profile_names) for t in table.tables("numpy"))
    recipe = BuildRecipe(table.source, table.string("default_profile"), profiles, platforms, ranges)
    _check_recipe(table, recipe)
    return recipe


def _check_recipe(table: Table, recipe: BuildRecipe) -> None:
    if not recipe.profiles:
        raise RecipeError(f"{table.source}: build.profiles defines no profile")
    if not recipe.ranges:
        raise RecipeError(f"{table.source}: no [[build.numpy]] version ranges")
    recipe.profile(recipe.default_profile)
    tags = recipe.platform_tags()
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    if duplicates:
        raise RecipeError(f"{table.source}: platform tag {duplicates[0]} is in two build.platforms")


def _profile(name: str, table: Table) -> Profile:
    table.check_keys({"description", "local_version", "meson"})
    meson = _options(table, "meson")
    for option, _ in meson:
        if option in FLAG_OPTIONS:
            raise RecipeError(
                f"{table.source}: {table.prefix}meson.{option}: pass compiler and linker flags "
                "through build.platforms.*.env (meson splits array options on commas)"
            )
        if option not in MESON_BUILTINS:
            raise RecipeError(
                f"{table.source}: {table.prefix}meson.{option} is not a meson built-in option "
                f"this recipe may set ({', '.join(sorted(MESON_BUILTINS))})"
            )
    label = table.string("local_version")
    if not re.fullmatch(r"[a-z0-9]+(\.[a-z0-9]+)*", label):
        raise RecipeError(f"{table.source}: {table.prefix}local_version: letters, digits and dots")
    return Profile(name, table.string("description"), label, meson)


def _platform(name: str, table: Table) -> PlatformFamily:
    table.check_keys({"tags", "setup_args", "env", "strip"})
    tags = table.strings("tags")
    if not tags:
        raise RecipeError(f"{table.source}: {table.prefix}tags must name at least one platform")
    env_table = table.table("env", required=False)
    env = tuple((key, env_table.string(key)) for key in env_table.data)
    return PlatformFamily(name, tags, table.strings("setup_args"), env, table.strings("strip"))


def _version_range(table: Table, profile_names: set[str]) -> VersionRange:
    table.check_keys({"versions", "options", "profile_options"})
    try:
        versions = SpecifierSet(table.string("versions"))
    except InvalidSpecifier:
        raise RecipeError(
            f"{table.source}: {table.prefix}versions is not a version specifier"
        ) from None
    per_profile = table.table("profile_options", required=False)
    per_profile.check_keys(profile_names)
    profile_options = tuple((name, _options(per_profile, name)) for name in per_profile.data)
    return VersionRange(versions, _options(table, "options"), profile_options)


def _options(table: Table, key: str) -> Options:
    options = table.table(key, required=False)
    result = []
    for name in options.data:
        value = options.data[name]
        if not isinstance(value, (str, bool, int)):
            raise RecipeError(
                f"{table.source}: {options.prefix}{name} must be a string, boolean or integer"
            )
        result.append((name, value))
    return tuple(result)


# -- checking against an sdist -------------------------------------------------------------------


def parse_option_types(text: str) -> dict[str, str]:
    """``{name: type}`` from a meson options file (``option('blas', type: 'string', ...)``)."""
    return dict(OPTION_RE.findall(text))


def check_project_options(plan: BuildPlan, option_types: Mapping[str, str], where: str) -> None:
    """Refuse a plan that passes an option this numpy's ``where`` does not define, or a
    non-boolean to a boolean option: meson would fail minutes into the build otherwise."""
    for name, value in plan.project_options:
        kind = option_types.get(name)
        if kind is None:
            raise RecipeError(
                f"{plan.recipe_source}: numpy {plan.version} has no meson option {name!r} "
                f"(not in {where}); fix the [[build.numpy]] range for this version"
            )
        if kind == "boolean" and not isinstance(value, bool):
            raise RecipeError(
                f"{plan.recipe_source}: numpy option {name!r} is boolean in {where}; "
                f"the recipe gives {value!r}"
            )
