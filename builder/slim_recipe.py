"""Slim recipes: what the slimmer always keeps, always drops, how it groups members into units,
and which source edits make more of a package removable. Read from the ``[slim]`` part of
``recipes/<package>.toml``; sections carry PEP 440 ``versions`` specifiers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from .console import warn
from .errors import RecipeError, WheelError
from .recipes import Table, load_recipe
from .resources import recipes_dir

# Kept whatever the recipe says: licences must travel with every copy of the code.
LICENCE_PATTERNS = (
    "**/LICENSE*",
    "**/LICENCE*",
    "**/COPYING*",
    "**/NOTICE*",
    "**/AUTHORS*",
    "*.dist-info/licenses/**",
)


@dataclass(frozen=True)
class SourceEdit:
    file: str
    old: str
    new: str
    why: str

    def apply(self, text: str, wheel_name: str) -> str:
        count = text.count(self.old)
        if count != 1:
            found = "not found" if count == 0 else f"found {count} times"
            raise WheelError(
                f"{wheel_name}: source edit for {self.file} does not apply (text {found}):"
                f" {self.why}"
            )
        return text.replace(self.old, self.new)


@dataclass(frozen=True)
class DependencyFix:
    """A correction of upstream ``Requires-Dist`` metadata, with the evidence for it."""

    action: str  # "pin" (add/replace a requirement) or "drop" (remove a never-imported one)
    requirement: str
    evidence: str


@dataclass(frozen=True)
class SlimRecipe:
    package: str
    version: Version
    keep: tuple[str, ...]
    drop: tuple[str, ...]
    units: tuple[str, ...]
    edits: tuple[SourceEdit, ...]
    dependency_fixes: tuple[DependencyFix, ...] = ()
    platform_tag: str | None = None
    platform_tag_evidence: str = ""
    strip: bool = True
    generic: bool = False
    # Blank docstrings and drop comments in kept .py files (builder.pystrip), except these globs.
    docstrings: bool = False
    keep_docstrings: tuple[str, ...] = ()

    def is_kept(self, member: str) -> bool:
        return any(glob_match(p, member) for p in (*LICENCE_PATTERNS, *self.keep))

    def is_dropped(self, member: str) -> bool:
        return not self.is_kept(member) and any(glob_match(p, member) for p in self.drop)


def load_slim_recipe(package: str, version: Version) -> SlimRecipe:
    """The slim recipe for ``package`` at ``version``, or the generic one (with a warning)."""
    if not (recipes_dir() / f"{package}.toml").exists():
        warn(f"no recipe for {package}: using the generic slimmer (trace + search only)")
        return SlimRecipe(package, version, (), (), (), (), generic=True)
    table = load_recipe(package)
    if "slim" not in table.data:
        warn(f"recipes/{package}.toml has no [slim] section: using the generic slimmer")
        return SlimRecipe(package, version, (), (), (), (), generic=True)
    slim = table.table("slim")
    slim.check_keys(
        {"keep", "drop", "units", "strip", "rules", "edit", "dependency", "platform"}
        | {"docstrings", "keep_docstrings"}
    )
    keep, drop, units = (
        list(slim.strings("keep")),
        list(slim.strings("drop")),
        list(slim.strings("units")),
    )
    for rule in _matching(slim.tables("rules"), version, {"keep", "drop", "units"}):
        keep += rule.strings("keep")
        drop += rule.strings("drop")
        units += rule.strings("units")
    edits = tuple(
        SourceEdit(t.string("file"), t.string("old"), t.string("new", ""), t.string("why"))
        for t in _matching(slim.tables("edit"), version, {"file", "old", "new", "why"})
    )
    fixes = tuple(
        _dependency_fix(t)
        for t in _matching(
            slim.tables("dependency"), version, {"action", "requirement", "evidence"}
        )
    )
    platform = [t for t in _matching(slim.tables("platform"), version, {"tag", "evidence"})]
    return SlimRecipe(
        package=package,
        version=version,
        keep=tuple(keep),
        drop=tuple(drop),
        units=tuple(units),
        edits=edits,
        dependency_fixes=fixes,
        platform_tag=platform[0].string("tag") if platform else None,
        platform_tag_evidence=platform[0].string("evidence") if platform else "",
        strip=slim.boolean("strip", True),
        docstrings=slim.boolean("docstrings", False),
        keep_docstrings=slim.strings("keep_docstrings"),
    )


def _matching(tables: list[Table], version: Version, keys: set[str]) -> list[Table]:
    selected = []
    for table in tables:
        table.check_keys(keys | {"versions"})
        try:
            spec = SpecifierSet(table.string("versions", ""))
        except InvalidSpecifier:
            raise RecipeError(
                f"{table.source}: {table.prefix}versions is not a specifier"
            ) from None
        if spec.contains(version, prereleases=True):
            selected.append(table)
    return selected


def _dependency_fix(table: Table) -> DependencyFix:
    action = table.string("action")
    if action not in ("pin", "drop"):
        raise RecipeError(f"{table.source}: {table.prefix}action must be 'pin' or 'drop'")
    return DependencyFix(action, table.string("requirement"), table.string("evidence"))


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, name: str) -> bool:
    """Path glob: ``*`` stays within a directory, ``**`` crosses directories."""
    return _glob_regex(pattern).match(name) is not None


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a glob over a wheel's member paths, or None. Brackets and braces
    would match only themselves here (no character classes, no alternatives), silently."""
    if not pattern.strip():
        return "an empty pattern matches nothing"
    if pattern.startswith("/") or "\\" in pattern:
        return "member paths are relative and use /, e.g. 'numpy/random/**'"
    if ".." in pattern.split("/"):
        return "member paths have no '..'"
    unsupported = sorted(set(pattern) & set("[]{}"))
    if unsupported:
        return f"{' '.join(unsupported)} not supported: only *, ** and ? are wildcards"
    return None
