"""Fetching released wheels from the package index (through pip, honouring the user's pip config),
cached under ``~/.cache/tflite-edge-builder/wheels`` so a pinned wheel is downloaded only once."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .cache import atomic_copy, cache_dir, scratch_dir
from .console import step
from .environments import run_pip
from .errors import CommandError, DownloadError


def download_wheel(requirement: str) -> Path:
    """The best wheel for this interpreter matching ``requirement`` (``numpy==1.26.4``)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        raise DownloadError(f"{requirement!r} is not a valid requirement") from None
    cached = find_cached_wheel(req)
    if cached is not None:
        return cached
    step(f"downloading {requirement}")
    with scratch_dir("download") as tmp:
        wheel = _pip_download(release_pin(req), requirement, tmp / "first")
        version = parse_wheel_filename(wheel.name)[1]
        if version.local and "+" not in str(req.specifier):
            # "numpy<2" matches 1.26.4+slim too: an index holding our own builds offers them
            # first. What was asked for is a release: take the release of that version.
            wheel = _pip_download(f"{req.name}==={version.public}", requirement, tmp / "release")
        target = cache_dir("wheels") / wheel.name
        atomic_copy(wheel, target)  # another process may be looking for it in the cache
    return target


def _pip_download(spec: str, requirement: str, directory: Path) -> Path:
    try:
        run_pip(
            "download", "--no-deps", "--only-binary", ":all:", "-d", directory, spec, timeout=None
        )
    except CommandError as exc:
        raise DownloadError(f"cannot download {requirement}: {exc}") from None
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadError(f"pip download {requirement} produced no single wheel")
    return wheels[0]


def find_cached_wheel(req: Requirement) -> Path | None:
    """A cached wheel for a pinned requirement, preferring the most specific supported tag."""
    pinned = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if not pinned:
        return None
    priority = {tag: index for index, tag in enumerate(sys_tags())}
    best: tuple[int, Path] | None = None
    for path in cache_dir("wheels").glob("*.whl"):
        try:
            name, version, _, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if name != canonicalize_name(req.name) or version not in req.specifier:
            continue
        if version.local and not any("+" in s.version for s in pinned):
            continue  # "==1.26.4" also matches "1.26.4+slim": a pin on a release means the release
        ranks = [priority[t] for t in tags if t in priority]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), path)
    return best[1] if best else None


def release_pin(req: Requirement) -> str:
    """``numpy==1.26.4`` as ``numpy===1.26.4``: under PEP 440 ``==`` also matches local builds
    such as ``1.26.4+slim``, which an index holding this project's own wheels would prefer."""
    specs = list(req.specifier)
    if (
        len(specs) == 1
        and specs[0].operator == "=="
        and not any(c in specs[0].version for c in "*+")
    ):
        return f"{req.name}==={specs[0].version}"
    return str(req)
