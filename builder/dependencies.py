"""What a wheel's metadata claims it needs, checked against what inference actually uses.

Two claims are checked and, where a recipe says so, repaired:

* ``Requires-Dist``: a traced inference run shows which installed distributions were imported
  (every traced file is mapped to the distribution whose RECORD lists it). Requirements that were
  never imported can go; one that was imported is never dropped. Recipes add explicit repairs with
  their evidence (``pin`` a requirement upstream got wrong, ``drop`` one). Conditional
  requirements (extras, environment markers false here) cannot be judged here and stay verbatim.
* the platform tag: the newest ``GLIBC_x.y`` symbol version any kept shared object needs, read
  from its ELF version needs, against the glibc its manylinux tag promises.

Without a recipe nothing is rewritten: findings become warnings, never silent metadata guesses.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from .elf import version_needs
from .errors import RecipeError, WheelError
from .slim_recipe import DependencyFix

LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
MANYLINUX_RE = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
LEGACY_RE = re.compile(r"^(manylinux1|manylinux2010|manylinux2014)_(\w+)$")
GLIBC_RE = re.compile(r"^GLIBC_(\d+)\.(\d+)(\.\d+)?$")


# -- Requires-Dist --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DependencyChange:
    requirement: str
    action: str  # "keep", "drop" or "pin"
    reason: str


@dataclass(frozen=True)
class DependencyPlan:
    before: tuple[str, ...]
    after: tuple[str, ...]
    changes: tuple[DependencyChange, ...]
    imported: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def dropped(self) -> tuple[str, ...]:
        return tuple(c.requirement for c in self.changes if c.action == "drop")

    def to_dict(self) -> dict[str, object]:
        return {
            "before": list(self.before),
            "after": list(self.after),
            "imported_distributions": list(self.imported),
            "changes": [
                {"requirement": c.requirement, "action": c.action, "reason": c.reason}
                for c in self.changes
            ],
        }


def distribution_index(site: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    """For the distributions installed in ``site``: real file path -> distribution, and top-level
    name (first path component of their RECORD, plus ``top_level.txt``) -> distributions."""
    files: dict[str, str] = {}
    tops: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = canonicalize_name(dist.metadata["Name"] or "")
        if not name:
            continue
        for entry in dist.files or ():
            if str(entry).startswith(".."):
                continue
            files[os.path.realpath(str(dist.locate_file(entry)))] = name
            top = str(entry).split("/", 1)[0]
            if not top.endswith((".dist-info", ".data")) and top != "__pycache__":
                tops.setdefault(_module_name(top), set()).add(name)
        for top in (dist.read_text("top_level.txt") or "").split():
            tops.setdefault(top, set()).add(name)
    return files, tops


def imported_distributions(paths: Iterable[str], site: Path) -> frozenset[str]:
    """Distributions (canonical names) owning any of the traced ``paths`` under ``site``."""
    files, tops = distribution_index(site)
    root = os.path.realpath(site) + os.sep
    found: set[str] = set()
    for path in paths:
        real = os.path.realpath(path)
        if not real.startswith(root):
            continue
        if real in files:
            found.add(files[real])
            continue
        owners = tops.get(_module_name(real[len(root) :].split(os.sep, 1)[0]), set())
        if len(owners) == 1:  # a shared namespace package proves nothing about who was used
            found |= owners
    return frozenset(found)


def _module_name(top: str) -> str:
    return top.split(".", 1)[0] if top.endswith((".py", ".so", ".pyd")) else top


def applies_here(requirement: Requirement) -> bool:
    """Whether a ``Requires-Dist`` entry applies to a plain install on this interpreter (no
    extras); one that does not is neither pruned, pinned nor installed."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def plan_dependencies(
    requires: Iterable[str],
    imported: frozenset[str],
    fixes: Iterable[DependencyFix] = (),
    *,
    prune: bool,
    package: str = "",
) -> DependencyPlan:
    """The new ``Requires-Dist`` list: never-imported requirements dropped (if ``prune``), the
    recipe's pins and drops applied; an imported requirement is never dropped."""
    requires = tuple(requires)
    pins, drops = _fixes(fixes)
    after: list[str] = []
    changes: list[DependencyChange] = []
    warnings: list[str] = []
    for text in requires:
        req = _requirement(text, package)
        name = canonicalize_name(req.name)
        if not applies_here(req):
            after.append(text)
            continue
        if name in imported:
            if name in drops:
                warnings.append(f"the recipe drops {req.name}, but inference imports it: kept")
            pinned = _pinned(text, req, pins.pop(name, None))
            after.append(pinned[0])
            changes.append(DependencyChange(pinned[0], *pinned[1:]))
        elif name in drops:
            pins.pop(name, None)  # a pin of a dropped requirement must not bring it back
            changes.append(DependencyChange(text, "drop", drops[name].evidence))
        elif prune:
            pins.pop(name, None)
            changes.append(DependencyChange(text, "drop", "never imported during inference"))
        elif name in pins:
            pinned = _pinned(text, req, pins.pop(name))
            after.append(pinned[0])
            changes.append(DependencyChange(pinned[0], *pinned[1:]))
        else:
            after.append(text)
            warnings.append(
                f"{package}: {req.name} is never imported during inference, but without a"
                " recipe its Requires-Dist is left as upstream declares it"
            )
    for fix in pins.values():  # pins for requirements upstream did not declare at all
        after.append(str(Requirement(fix.requirement)))
        changes.append(DependencyChange(fix.requirement, "pin", fix.evidence))
    return DependencyPlan(
        requires, tuple(after), tuple(changes), tuple(sorted(imported)), tuple(warnings)
    )


def _fixes(
    fixes: Iterable[DependencyFix],
) -> tuple[dict[str, DependencyFix], dict[str, DependencyFix]]:
    pins: dict[str, DependencyFix] = {}
    drops: dict[str, DependencyFix] = {}
    for fix in fixes:
        try:
            name = canonicalize_name(Requirement(fix.requirement).name)
        except InvalidRequirement as exc:
            raise RecipeError(f"dependency fix {fix.requirement!r}: {exc}") from None
        (pins if fix.action == "pin" else drops)[name] = fix
    return pins, drops


def _pinned(text: str, req: Requirement, fix: DependencyFix | None) -> tuple[str, str, str]:
    """(requirement text, action, reason) for an imported requirement, with the pin merged in;
    an unchanged requirement keeps upstream's spelling."""
    if fix is None:
        return text, "keep", "imported during inference"
    pin = Requirement(fix.requirement)
    merged = Requirement(str(req))
    merged.specifier = SpecifierSet(f"{req.specifier},{pin.specifier}".strip(","))
    return str(merged), "pin", fix.evidence


def _requirement(text: str, package: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise WheelError(f"{package}: invalid Requires-Dist {text!r}: {exc}") from None


# -- platform tag ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformCheck:
    """The glibc the wheel's shared objects need against what its tags promise."""

    tags: tuple[str, ...]
    glibc_needed: tuple[int, int] | None
    needed_by: str = ""
    symbol_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    new_tag: str | None = None
    evidence: str = ""
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "tags": list(self.tags),
            "glibc_needed": ".".join(map(str, self.glibc_needed)) if self.glibc_needed else None,
            "needed_by": self.needed_by,
            "glibc_versions_needed": {k: list(v) for k, v in sorted(self.symbol_versions.items())},
            "new_tag": self.new_tag,
            "evidence": self.evidence,
        }


def glibc_floor(platform: str) -> tuple[tuple[int, int], str] | None:
    """(glibc version, architecture) a manylinux platform tag promises; None if not manylinux."""
    found = MANYLINUX_RE.match(platform)
    if found:
        return (int(found.group(1)), int(found.group(2))), found.group(3)
    legacy = LEGACY_RE.match(platform)
    if legacy:
        return LEGACY_MANYLINUX[legacy.group(1)], legacy.group(2)
    return None


def glibc_needs(members: Mapping[str, bytes]) -> dict[str, tuple[str, ...]]:
    """For each ELF member: the GLIBC_* symbol versions it needs (from DT_VERNEED)."""
    needs = {}
    for name, data in members.items():
        versions = sorted(
            {v for vs in version_needs(data).values() for v in vs if GLIBC_RE.match(v)},
            key=lambda v: tuple(int(n) for n in v[len("GLIBC_") :].split(".")),
        )
        if versions:
            needs[name] = tuple(versions)
    return needs


def _glibc_version(symbol_version: str) -> tuple[int, int]:
    found = GLIBC_RE.match(symbol_version)
    assert found is not None
    return int(found.group(1)), int(found.group(2))


def check_platform(
    platforms: Iterable[str],
    members: Mapping[str, bytes],
    recipe_tag: str | None,
    evidence: str = "",
    package: str = "",
) -> PlatformCheck:
    """Compare what the shared objects need with the tags; apply the recipe's tag if it holds."""
    platforms = tuple(sorted(platforms))
    needs = glibc_needs(members)
    needed, needed_by = None, ""
    for name, versions in sorted(needs.items()):
        newest = _glibc_version(versions[-1])
        if needed is None or newest > needed:
            needed, needed_by = newest, name
    floors = {p: glibc_floor(p) for p in platforms}
    if recipe_tag is not None:
        return _recipe_tag(platforms, floors, needs, needed, needed_by, recipe_tag, evidence)
    warnings = []
    for platform, floor in floors.items():
        if floor is not None and needed is not None and floor[0] < needed:
            warnings.append(
                f"{package} is tagged {platform} (glibc {_dotted(floor[0])}) but {needed_by}"
                f" needs GLIBC_{_dotted(needed)}; no recipe entry retags it"
            )
    return PlatformCheck(platforms, needed, needed_by, needs, warnings=tuple(warnings))


def _recipe_tag(
    platforms: tuple[str, ...],
    floors: Mapping[str, tuple[tuple[int, int], str] | None],
    needs: dict[str, tuple[str, ...]],
    needed: tuple[int, int] | None,
    needed_by: str,
    tag: str,
    evidence: str,
) -> PlatformCheck:
    promised = glibc_floor(tag)
    if promised is None:
        raise RecipeError(f"platform tag {tag!r} in the recipe is not a manylinux tag")
    arches = {f[1] for f in floors.values() if f is not None}
    if arches and promised[1] not in arches:
        warning = f"the recipe's platform tag {tag} is for another architecture: not applied"
        return PlatformCheck(platforms, needed, needed_by, needs, warnings=(warning,))
    if needed is not None and promised[0] < needed:
        raise RecipeError(
            f"the recipe retags the wheel {tag} (glibc {_dotted(promised[0])}), but {needed_by}"
            f" needs GLIBC_{_dotted(needed)}"
        )
    return PlatformCheck(platforms, needed, needed_by, needs, tag, evidence)


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
