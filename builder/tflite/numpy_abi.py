"""Which numpy releases a module built against given numpy headers can import under.

numpy's C-API is forward compatible within a major version family and across the 1.x -> 2.x
boundary only one way: a module built with numpy 2.x headers runs on numpy 1.x and 2.x, from the
oldest release of the C-API feature level the headers target by default
(``NPY_FEATURE_VERSION`` in ``numpy/numpyconfig.h``, e.g. 1.25 for numpy 2.5) up to, but not
including, the next major version (numpy's own advice; conda-forge's run-export is the same
``>=1.xx,<3``). Headers of numpy 1.x build modules that need numpy 1.x. The requirement written
into the wheel also keeps the lower bound upstream declares, whichever is higher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..errors import BuildError

_DEFAULT_FEATURE = re.compile(r"#define\s+NPY_FEATURE_VERSION\s+NPY_(\d+)_(\d+)_API_VERSION")


@dataclass(frozen=True)
class NumpyRequirement:
    requirement: str  # "numpy>=1.25,<3"
    evidence: str


def numpy_requirement(
    numpy_version: str, include_dir: Path, declared: list[str]
) -> NumpyRequirement:
    built = Version(numpy_version)
    floor = _header_floor(include_dir) or Version(f"{built.major}.{built.minor}")
    upstream = _upstream_floor(declared)
    lower = max(floor, upstream) if upstream else floor
    upper = built.major + 1
    requirement = f"numpy>={lower},<{upper}"
    evidence = (
        f"built against numpy {built} headers, whose default C-API target is numpy {floor}"
        + (f"; upstream declares numpy>={upstream}" if upstream else "")
        + f": imports under numpy {lower} up to {upper - 1}.x"
    )
    return NumpyRequirement(requirement, evidence)


def _header_floor(include_dir: Path) -> Version | None:
    config = include_dir / "numpy" / "numpyconfig.h"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"cannot read numpy's {config}: {exc.strerror or exc}") from None
    found = _DEFAULT_FEATURE.findall(text)
    if not found:
        return None  # numpy < 1.25 headers target their own version
    major, minor = found[-1]  # the default branch is the last numbered definition
    return Version(f"{major}.{minor}")


def _upstream_floor(declared: list[str]) -> Version | None:
    floors = []
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != "numpy":
            continue
        floors += [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(floors) if floors else None
