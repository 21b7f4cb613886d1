"""Fetching released wheels from the package index (through pip, honouring the user's pip config),
cached under ``~/.cache/tflite-edge-builder/wheels`` so a pinned wheel is downloaded only once.

pip picks the wheel (``pip install --dry-run --report``: its URL and the sha256 the index lists
with it) and downloads exactly that URL, checking the bytes against that sha256. A manifest beside
the cached wheel (``NAME.whl.origin.json``) records the sha256 and the URL, and the wheel is
reused only while it still has that sha256 (``builder.cache.cached_file_ok``): a tampered or
truncated wheel, even one whose RECORD was made to match, is quarantined and downloaded again. A
cached wheel without a manifest (cached by an older builder) is used only after pip's resolution
has vouched for its sha256.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .cache import atomic_copy, atomic_write_text, cache_dir, cached_file_ok, scratch_dir
from .console import step
from .environments import pip_reason, run_pip
from .errors import CommandError, DownloadError
from .index.http import display

_HASH_MISMATCH = re.compile(r"Expected sha256 ([0-9a-f]{64})\s+Got\s+([0-9a-f]{64})")
ORIGIN = ".origin.json"  # the manifest beside each cached wheel: its sha256 and where it came from


@dataclass(frozen=True)
class WheelLink:
    """The wheel pip chose: its file name, URL and the sha256 pip checks its download against."""

    filename: str
    url: str
    sha256: str

    @property
    def version(self) -> Version:
        return parse_wheel_filename(self.filename)[1]


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
        link = resolve_wheel(release_pin(req), requirement, tmp / "first.json")
        if link.version.local and "+" not in str(req.specifier):
            # "numpy<2" matches 1.26.4+slim too: an index holding our own builds offers them
            # first. What was asked for is a release: take the release of that version.
            release = f"{req.name}==={link.version.public}"
            link = resolve_wheel(release, requirement, tmp / "release.json")
        return _fetch(link, requirement, tmp / "wheel")


def resolve_wheel(spec: str, requirement: str, report: Path) -> WheelLink:
    """The wheel pip would install for ``spec`` here, with its URL and sha256, downloading
    nothing but metadata (``pip install --dry-run --report``)."""
    args = ["--dry-run", "--ignore-installed", "--no-deps", "--only-binary", ":all:", "--no-input"]
    try:
        run_pip("install", *args, "--quiet", "--report", report, spec, timeout=None)
    except CommandError as exc:
        raise _failed(requirement, exc) from None
    try:
        [chosen] = json.loads(report.read_text(encoding="utf-8"))["install"]
        url = str(chosen["download_info"]["url"])
        archive = chosen["download_info"]["archive_info"]
        sha256 = archive.get("hashes", {}).get("sha256") or archive["hash"].split("sha256=")[1]
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        parse_wheel_filename(filename)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        message = f"pip's report for {requirement} names no wheel with a sha256"
        raise DownloadError(message) from None
    return WheelLink(filename, url, str(sha256))


def _fetch(link: WheelLink, requirement: str, directory: Path) -> Path:
    """``link``'s wheel in the cache, with its manifest: the cached file when it has the sha256
    (cached by an older builder, or for another spelling of the requirement), else downloaded."""
    target = cache_dir("wheels") / link.filename
    if cached_file_ok(target, link.sha256, "index's"):
        step(f"{target.name}: cached, sha256 matches the index's value")
        _record(target, link)
        return target
    pinned = f"{link.url}#sha256={link.sha256}"  # exactly the file pip chose, checked by pip
    try:
        run_pip("download", "--no-deps", "-d", directory, pinned, timeout=None)
    except CommandError as exc:
        raise _failed(requirement, exc) from None
    wheel = directory / link.filename
    if not wheel.is_file():
        raise DownloadError(f"pip download {requirement} did not produce {link.filename}")
    # The manifest first: a wheel is never in the cache without the sha256 that vouches for it.
    _record(target, link)
    atomic_copy(wheel, target)
    return target


def _failed(requirement: str, exc: CommandError) -> DownloadError:
    """pip's failure as one line; a file that is not what the index's sha256 says, plainly."""
    mismatch = _HASH_MISMATCH.search(exc.output)
    if mismatch:
        expected, got = mismatch.groups()
        return DownloadError(
            f"cannot download {requirement}: the index serves a file with sha256 {got}, not the"
            f" {expected} it lists for it; nothing was cached"
        )
    return DownloadError(f"cannot download {requirement}: {pip_reason(exc)}")


def _record(target: Path, link: WheelLink) -> None:
    manifest = {"sha256": link.sha256, "url": display(link.url)}
    atomic_write_text(_manifest(target), json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _manifest(wheel: Path) -> Path:
    return wheel.with_name(wheel.name + ORIGIN)


def recorded_sha256(wheel: Path) -> str | None:
    """The sha256 recorded for a cached wheel when it was downloaded, or None (no manifest)."""
    try:
        value = json.loads(_manifest(wheel).read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def find_cached_wheel(req: Requirement) -> Path | None:
    """A cached wheel for a pinned requirement, preferring the most specific supported tag, and
    only one that still has the sha256 recorded when it was downloaded."""
    pinned = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if not pinned:
        return None
    priority = {tag: index for index, tag in enumerate(sys_tags())}
    ranked: list[tuple[int, Path]] = []
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
        if ranks:
            ranked.append((min(ranks), path))
    for _, path in sorted(ranked):
        sha256 = recorded_sha256(path)
        if sha256 is not None and cached_file_ok(path, sha256, "recorded"):
            return path
    return None


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
