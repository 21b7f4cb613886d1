"""TensorFlow Lite runtimes (tflite-runtime, ai-edge-litert): which to use here and what they need.

The facts live in ``recipes/runtimes.toml``; this module turns them into frozen dataclasses and
answers: which runtime is the default for this interpreter, what extra constraints the reference
("unmodified") stack needs, and which TensorFlow release a runtime version corresponds to.
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .errors import ArgumentError, RecipeError, UnsupportedPlatformError
from .recipes import Table, load_recipe


@dataclass(frozen=True)
class Constraint:
    versions: SpecifierSet
    requirement: Requirement
    evidence: str


@dataclass(frozen=True)
class TfVersion:
    versions: SpecifierSet
    tf_version: Version
    evidence: str


@dataclass(frozen=True)
class RuntimeRecipe:
    name: str
    module: str
    default_version: Version
    requires_python: SpecifierSet
    platforms: tuple[str, ...]
    same_as_tf: bool
    constraints: tuple[Constraint, ...]
    tf_versions: tuple[TfVersion, ...]

    def available_here(self) -> bool:
        python = ".".join(map(str, sys.version_info[:3]))
        return python in self.requires_python and host_platform() in self.platforms


@dataclass(frozen=True)
class Runtime:
    """A runtime recipe plus the requirement the user asked for (``tflite-runtime==2.14.0``)."""

    recipe: RuntimeRecipe
    requirement: Requirement

    @property
    def name(self) -> str:
        return self.recipe.name

    @property
    def module(self) -> str:
        return self.recipe.module

    def pinned_version(self) -> Version | None:
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return Version(specs[0].version)
        return None

    def constraints(self, version: Version | None = None) -> tuple[Constraint, ...]:
        version = version or self.pinned_version()
        return tuple(c for c in self.recipe.constraints if version is None or version in c.versions)

    def tf_version(self, version: Version) -> Version | None:
        """The TensorFlow release whose kernels ``version`` of this runtime ships, if known."""
        if self.recipe.same_as_tf:
            return Version(version.base_version)
        for entry in self.recipe.tf_versions:
            if version in entry.versions:
                return entry.tf_version
        return None

    def __str__(self) -> str:
        return str(self.requirement)


def host_platform() -> str:
    """``linux_x86_64``, ``win32``, ``win_amd64``, ``macosx_arm64``, ...: this interpreter's."""
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if plat.startswith("macosx"):
        return f"macosx_{platform.machine()}"
    return plat


def load_runtimes() -> tuple[RuntimeRecipe, ...]:
    recipe = load_recipe("runtimes")
    recipe.check_keys({"runtime"})
    runtimes = tuple(_runtime_recipe(t) for t in recipe.tables("runtime"))
    if not runtimes:
        raise RecipeError(f"{recipe.source}: no [[runtime]] entries")
    return runtimes


def _runtime_recipe(table: Table) -> RuntimeRecipe:
    table.check_keys(
        {
            "name",
            "module",
            "default_version",
            "requires_python",
            "platforms",
            "tf_version",
            "constraint",
            "tf_versions",
        }
    )
    return RuntimeRecipe(
        name=canonicalize_name(table.string("name")),
        module=table.string("module"),
        default_version=Version(table.string("default_version")),
        requires_python=_specifier(table, "requires_python"),
        platforms=table.strings("platforms"),
        same_as_tf=table.string("tf_version", "") == "same",
        constraints=tuple(_constraint(t) for t in table.tables("constraint")),
        tf_versions=tuple(_tf_version(t) for t in table.tables("tf_versions")),
    )


def _constraint(table: Table) -> Constraint:
    table.check_keys({"versions", "requirement", "evidence"})
    try:
        requirement = Requirement(table.string("requirement"))
    except InvalidRequirement as exc:
        raise RecipeError(f"{table.source}: {table.prefix}requirement: {exc}") from None
    return Constraint(_specifier(table, "versions"), requirement, table.string("evidence"))


def _tf_version(table: Table) -> TfVersion:
    table.check_keys({"versions", "tf_version", "evidence"})
    return TfVersion(
        _specifier(table, "versions"), Version(table.string("tf_version")), table.string("evidence")
    )


def _specifier(table: Table, key: str) -> SpecifierSet:
    try:
        return SpecifierSet(table.string(key))
    except InvalidSpecifier:
        raise RecipeError(
            f"{table.source}: {table.prefix}{key} is not a version specifier"
        ) from None


def resolve_runtime(spec: str | None) -> Runtime:
    """Turn ``--runtime`` (``None``, ``tflite-runtime``, ``ai-edge-litert==2.3.0``) into a Runtime.

    With no spec, the first recipe available for this interpreter and platform, at its default
    version. A bare name gets that runtime's default version.
    """
    recipes = load_runtimes()
    if spec is None:
        for recipe in recipes:
            if recipe.available_here():
                return Runtime(recipe, Requirement(f"{recipe.name}=={recipe.default_version}"))
        python = ".".join(map(str, sys.version_info[:2]))
        raise UnsupportedPlatformError(
            f"no known TensorFlow Lite runtime has wheels for CPython {python} on {host_platform()}"
        )
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        raise ArgumentError(f"--runtime {spec!r} is not a requirement") from None
    name = canonicalize_name(requirement.name)
    for recipe in recipes:
        if recipe.name == name:
            if not requirement.specifier:
                requirement = Requirement(f"{recipe.name}=={recipe.default_version}")
            return Runtime(recipe, requirement)
    known = ", ".join(r.name for r in recipes)
    raise ArgumentError(f"unknown runtime {requirement.name!r} (known: {known})")


def runtime_for_distribution(name: str) -> RuntimeRecipe | None:
    """The runtime recipe whose distribution is ``name``, if it is a runtime at all."""
    name = canonicalize_name(name)
    return next((r for r in load_runtimes() if r.name == name), None)
