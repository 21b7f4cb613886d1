"""The wheels to publish: each validated as a sound wheel and measured against a size budget
before any index is contacted; one version per project, so one pin per project."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from ..cache import sha256_file
from ..console import info
from ..errors import ArgumentError, PublishError
from ..wheelfile import Wheel
from .requirements import REQUIREMENTS

DEFAULT_MAX_SIZE = 5_000_000

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}


@dataclass(frozen=True)
class Candidate:
    """A validated wheel about to be published."""

    path: Path
    name: str  # the project, normalised
    version: Version
    size: int
    sha256: str
    requires: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return self.path.name

    def to_dict(self, status: str) -> dict[str, object]:
        return {
            "file": self.filename,
            "project": self.name,
            "version": str(self.version),
            "size": self.size,
            "sha256": self.sha256,
            "status": status,
        }


def parse_size(text: str) -> int:
    """``5000000``, ``5MB``, ``4.5 MiB``, ``800k``: decimal units, ``i`` for binary ones."""
    match = _SIZE_RE.match(text)
    if not match:
        raise ArgumentError(f"invalid size {text!r} (examples: 5000000, 5MB, 4.5MiB)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = "i" in unit
    factor = _SIZE_UNITS[unit[:1]]
    if binary and factor > 1:
        factor = 1024 ** {"k": 1, "m": 2, "g": 3}[unit[0]]
    size = int(number * factor)
    if size <= 0:
        raise ArgumentError(f"size {text!r} must be positive")
    return size


def format_size(size: int) -> str:
    if size >= 1000**2:
        return f"{size / 1000**2:.2f} MB ({size} bytes)"
    return f"{size} bytes"


def collect(paths: Iterable[Path]) -> list[Candidate]:
    """Validate every wheel fully; refuse anything that is not a sound wheel."""
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for path in paths:
        path = Path(path)
        if path.suffix != ".whl":
            raise PublishError(f"{path}: only wheels are published (expected a .whl file)")
        if path.name in seen:
            raise PublishError(f"{path.name} is given twice")
        seen.add(path.name)
        wheel = Wheel.open(path)
        size = path.stat().st_size
        digest = sha256_file(path)
        requires = tuple(wheel.requires_dist())
        candidates.append(Candidate(path, wheel.name, wheel.version, size, digest, requires))
    if not candidates:
        raise PublishError("no wheels to publish")
    _check_one_version_per_project(candidates)
    return candidates


def _check_one_version_per_project(candidates: Sequence[Candidate]) -> None:
    versions: dict[str, Version] = {}
    for candidate in candidates:
        known = versions.setdefault(candidate.name, candidate.version)
        if known != candidate.version:
            raise PublishError(
                f"{candidate.name} is given in two versions ({known} and {candidate.version}); "
                f"publish one version per project so {REQUIREMENTS} can pin it"
            )


def check_budget(candidates: Sequence[Candidate], max_size: int) -> None:
    """Refuse the whole batch if any wheel is over ``max_size`` bytes."""
    over = [c for c in candidates if c.size > max_size]
    if over:
        names = ", ".join(f"{c.filename} is {format_size(c.size)}" for c in over)
        raise PublishError(
            f"over the size budget of {format_size(max_size)}: {names}; nothing was uploaded"
        )


def check_only(paths: Iterable[Path], max_size: int = DEFAULT_MAX_SIZE) -> list[Candidate]:
    """Validate the wheels and the size budget without contacting any index."""
    candidates = collect(paths)
    check_budget(candidates, max_size)
    for candidate in candidates:
        info(f"{candidate.filename}: {format_size(candidate.size)}, within budget")
    return candidates


def candidates_dict(candidates: Sequence[Candidate], max_size: int) -> dict[str, object]:
    return {"max_size": max_size, "files": [c.to_dict("within-budget") for c in candidates]}
