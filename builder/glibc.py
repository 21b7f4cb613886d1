"""Which glibc a build may need, judged the way auditwheel judges a wheel.

``build numpy --glibc 2.28`` promises that the wheel installs and runs where glibc is 2.28 or
newer. The promise is checked with auditwheel's own policy file (``manylinux-policy.json``, the
data ``auditwheel repair`` picks a tag with): the target glibc maps to the newest manylinux
policy not newer than it, and every symbol version a kept ELF file needs — ``GLIBC_``,
``GLIBCXX_``, ``CXXABI_``, ``GCC_`` — must be one that policy allows. A need it does not allow is
refused with the file, the symbol and the version (``builder.elf.symbol_versions``), never
shipped under a tag it breaks.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .elf import symbol_versions, version_needs
from .errors import ArgumentError, BuildError

GLIBC_RE = re.compile(r"^2\.(\d+)$")
POLICY_FILE = "manylinux-policy.json"
CHECKED = ("GLIBC", "GLIBCXX", "CXXABI", "GCC")  # the symbol versions auditwheel limits
VERSION_RE = re.compile(r"^([A-Z]+)_([0-9][0-9.]*)$")


@dataclass(frozen=True)
class Policy:
    """One manylinux policy for one architecture: its tag and the symbol versions it allows."""

    name: str  # manylinux_2_28
    glibc: tuple[int, int]
    arch: str
    allowed: dict[str, frozenset[str]]  # GLIBC -> {"2.2.5", ..., "2.28"}

    @property
    def tag(self) -> str:
        return f"{self.name}_{self.arch}"


@dataclass(frozen=True)
class Violation:
    member: str
    symbol: str
    library: str
    version: str  # GLIBC_2.29

    def __str__(self) -> str:
        return f"{self.member} needs {self.symbol}@{self.version} ({self.library})"


def parse_glibc(text: str) -> tuple[int, int]:
    """``2.28`` -> (2, 28); anything else is an ArgumentError."""
    found = GLIBC_RE.match(text.strip())
    if found is None:
        raise ArgumentError(f"--glibc {text!r} is not a glibc version such as 2.28")
    return 2, int(found.group(1))


def policy_for(glibc: tuple[int, int], arch: str) -> Policy:
    """The newest manylinux policy whose glibc is not newer than ``glibc`` (for ``arch``);
    an ArgumentError below the oldest, where no manylinux tag can promise anything."""
    policies = sorted(_policies(arch), key=lambda p: p.glibc)
    if not policies:
        raise ArgumentError(f"auditwheel knows no manylinux policy for {arch}")
    fitting = [p for p in policies if p.glibc <= glibc]
    if not fitting:
        oldest = policies[0]
        raise ArgumentError(
            f"--glibc {_dotted(glibc)} is older than any manylinux policy for {arch} (the oldest,"
            f" {oldest.name}, is glibc {_dotted(oldest.glibc)}): no wheel tag can promise it"
        )
    return fitting[-1]


def violations(members: Mapping[str, bytes], policy: Policy) -> list[Violation]:
    """Every symbol version a member needs that ``policy`` does not allow."""
    found = []
    for member, data in sorted(members.items()):
        needs = {v for versions in version_needs(data).values() for v in versions}
        bad = {v for v in needs if not _allowed(v, policy)}
        if not bad:
            continue
        symbols = symbol_versions(data)
        named = sorted((s, lib, v) for s, (lib, v) in symbols.items() if v in bad)
        for symbol, library, version in named:
            found.append(Violation(member, symbol, library, version))
        unnamed = bad - {v for _, _, v in named}
        found += [Violation(member, "(a symbol)", "", version) for version in sorted(unnamed)]
    return sorted(found, key=lambda v: (_key(v.version), v.member, v.symbol), reverse=True)


def check_members(
    members: Mapping[str, bytes], glibc: tuple[int, int], arch: str, what: str = "the build"
) -> Policy:
    """Refuse (BuildError) ELF members that need a newer glibc (or C++ runtime) than ``glibc``;
    return the policy they satisfy."""
    policy = policy_for(glibc, arch)
    problems = violations(members, policy)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BuildError(
            f"{what} needs a newer glibc than {_dotted(glibc)} ({policy.tag}): {problems[0]}{more}"
        )
    return policy


def newest_glibc(members: Mapping[str, bytes]) -> tuple[tuple[int, int] | None, str]:
    """The newest ``GLIBC_`` version any member needs, and the member that needs it."""
    newest, by = None, ""
    for member, data in sorted(members.items()):
        for versions in version_needs(data).values():
            for version in versions:
                found = VERSION_RE.match(version)
                if found and found.group(1) == "GLIBC":
                    parts = tuple(int(n) for n in found.group(2).split(".")[:2])
                    value = (parts[0], parts[1] if len(parts) > 1 else 0)
                    if newest is None or value > newest:
                        newest, by = value, member
    return newest, by


def _allowed(version: str, policy: Policy) -> bool:
    found = VERSION_RE.match(version)
    if found is None or found.group(1) not in CHECKED:
        return True  # GLIBC_PRIVATE and the like: not what a tag promises
    return found.group(2) in policy.allowed.get(found.group(1), frozenset())


def _key(version: str) -> tuple[int, ...]:
    found = VERSION_RE.match(version)
    return tuple(int(n) for n in found.group(2).split(".") if n) if found else ()


def _policies(arch: str) -> list[Policy]:
    try:
        text = (importlib.resources.files("auditwheel") / "policy" / POLICY_FILE).read_text()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise BuildError(f"cannot read auditwheel's {POLICY_FILE}: {exc}") from None
    data: list[dict[str, Any]] = json.loads(text)
    policies = []
    for entry in data:
        found = re.match(r"^manylinux_(\d+)_(\d+)$", entry["name"])
        versions = entry.get("symbol_versions", {}).get(arch)
        if found and versions:
            allowed = {key: frozenset(values) for key, values in versions.items()}
            glibc = (int(found.group(1)), int(found.group(2)))
            policies.append(Policy(entry["name"], glibc, arch, allowed))
    return policies


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
