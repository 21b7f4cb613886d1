"""Source distributions from the package index: find (PEP 691 JSON or PEP 503 HTML), download
into the cache, check against the index's published sha256, and read or unpack them safely.

The index is ``$PIP_INDEX_URL`` when set (a pypiserver or devpi mirror works), else PyPI;
credentials in that URL (``https://user:pw@host/simple``) go to that host only and are never
shown. ``pip download --no-binary`` is deliberately not used: for numpy it runs a full meson
configure just to read the metadata (minutes), while fetching the file itself takes seconds.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..archives import extract_tar, read_text
from ..cache import cache_dir
from ..errors import DownloadError
from .http import BasicAuth, download_cached, get, split_credentials
from .links import ACCEPT, FileLink, parse_project_page

DEFAULT_INDEX = "https://pypi.org/simple"
SDIST_SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class SdistLink:
    """One sdist file listed on the index."""

    project: str
    version: Version
    filename: str
    url: str
    sha256: str
    requires_python: SpecifierSet
    yanked: bool


@dataclass(frozen=True)
class Sdist:
    """A downloaded sdist whose sha256 matched the index."""

    project: str
    version: Version
    path: Path
    sha256: str

    @property
    def root(self) -> str:
        """The top-level directory inside the archive (``numpy-1.26.4``)."""
        return self.path.name[: -len(SDIST_SUFFIX)]


def index_url() -> str:
    """The index URL without any ``user:password@`` part (safe to print)."""
    return _index()[0]


def _index() -> tuple[str, BasicAuth | None]:
    """The index URL without credentials, and Basic auth for the index's own host."""
    return split_credentials((os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/"))


def fetch_sdist(
    project: str, version: str | None = None, specifier: SpecifierSet | None = None
) -> Sdist:
    """Find ``project``'s sdist and download it. Without ``version``: the newest final release
    for this Python that ``specifier`` (e.g. ``<2``) allows."""
    link = find_sdist(project, version, specifier)
    return download_sdist(link)


def find_sdist(
    project: str, version: str | None = None, specifier: SpecifierSet | None = None
) -> SdistLink:
    links = list_sdists(project)
    if version is not None:
        wanted = _parse_version(version)
        for link in links:
            if link.version == wanted:
                return link
        raise DownloadError(f"{project} {version}: no source distribution on {index_url()}")
    python = ".".join(map(str, sys.version_info[:3]))
    candidates = [
        link
        for link in links
        if not link.version.is_prerelease
        and not link.yanked
        and python in link.requires_python
        and (specifier is None or link.version in specifier)
    ]
    if not candidates:
        allowed = str(specifier) if specifier else ""
        raise DownloadError(f"{project}{allowed}: no release with an sdist for Python {python}")
    return max(candidates, key=lambda link: link.version)


def list_sdists(project: str) -> list[SdistLink]:
    """Every ``.tar.gz`` sdist of ``project`` on the index that carries a sha256."""
    name = canonicalize_name(project)
    index, auth = _index()
    url = f"{index}/{name}/"
    page = get(url, accept=ACCEPT, auth=auth)
    files = parse_project_page(page.body, page.content_type, page.url)
    links = [link for f in files if (link := _sdist_link(name, f)) is not None]
    if not links:
        raise DownloadError(f"{url}: lists no {project} sdist with a sha256 digest")
    return links


def download_sdist(link: SdistLink) -> Sdist:
    """The cached file when its hash still matches, else a fresh download (checked, atomic)."""
    target = cache_dir("sdists") / link.filename
    auth = _index()[1]
    download_cached(link.url, target, link.sha256, auth=auth, pinned_by="index's")
    return Sdist(link.project, link.version, target, link.sha256)


def read_member(sdist: Sdist, relative: str) -> str | None:
    """The text of ``<root>/<relative>`` inside the sdist, or None if it has no such file."""
    return read_text(sdist.path, f"{sdist.root}/{relative}")


def unpack_sdist(sdist: Sdist, dest: Path) -> Path:
    """Extract the sdist below ``dest`` (the policy of ``builder.archives``); return its root."""
    return extract_tar(sdist.path, sdist.root, dest / sdist.root)


# -- helpers -------------------------------------------------------------------------------------


def _parse_version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise DownloadError(f"{text!r} is not a valid version") from None


def _sdist_link(name: str, entry: FileLink) -> SdistLink | None:
    sha256 = entry.hashes.get("sha256")
    if not entry.filename.endswith(SDIST_SUFFIX) or not sha256:
        return None
    stem = entry.filename[: -len(SDIST_SUFFIX)]
    dist, _, version_text = stem.rpartition("-")
    if canonicalize_name(dist) != name:
        return None
    try:
        version = Version(version_text)
        requires = SpecifierSet(entry.requires_python or "")
    except (InvalidVersion, InvalidSpecifier):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return None
    return SdistLink(
        project=name,
        version=version,
        filename=entry.filename,
        url=entry.url,
        sha256=sha256,
        requires_python=requires,
        yanked=entry.yanked,
    )
