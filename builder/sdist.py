"""Source distributions from the package index: find (PEP 691 JSON or PEP 503 HTML), download
into the cache, check against the index's published sha256, and read or unpack them safely.

The index is ``$PIP_INDEX_URL`` when set (a pypiserver or devpi mirror works), else PyPI.
``pip download --no-binary`` is deliberately not used: for numpy it runs a full meson configure
just to read the metadata (minutes), while fetching the file itself takes seconds.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .archives import extract_tar, read_text
from .cache import atomic_path, cache_dir, sha256_file
from .console import step
from .errors import DownloadError

DEFAULT_INDEX = "https://pypi.org/simple"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 60
CHUNK = 1 << 16
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


def _index() -> tuple[str, dict[str, str]]:
    """The index URL without credentials, and the Basic authorization header they give: urllib
    does not read credentials from a URL, and they must never appear in a message."""
    raw = (os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")
    parts = urllib.parse.urlsplit(raw)
    if "@" not in parts.netloc:
        return raw, {}
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), header


def _request(url: str, accept: str | None = None) -> urllib.request.Request:
    """A request for ``url``, carrying the index's credentials only to the index's own host."""
    index, auth = _index()
    headers = {"Accept": accept} if accept else {}
    if auth and urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(index).netloc:
        headers.update(auth)
    return urllib.request.Request(url, headers=headers)


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
        wanted = str(specifier) if specifier else ""
        raise DownloadError(f"{project}{wanted}: no release with an sdist for Python {python}")
    return max(candidates, key=lambda link: link.version)


def list_sdists(project: str) -> list[SdistLink]:
    """Every ``.tar.gz`` sdist of ``project`` on the index that carries a sha256."""
    name = canonicalize_name(project)
    url = f"{index_url()}/{name}/"
    body, content_type = _get(url, accept=f"{JSON_TYPE}, text/html;q=0.1")
    if content_type.startswith(JSON_TYPE) or content_type.startswith("application/json"):
        files = _files_from_json(body, url)
    else:
        files = _files_from_html(body.decode("utf-8", "replace"), url)
    links = [link for f in files if (link := _sdist_link(name, f)) is not None]
    if not links:
        raise DownloadError(f"{url}: lists no {project} sdist with a sha256 digest")
    return links


def download_sdist(link: SdistLink) -> Sdist:
    """The cached file when its hash still matches, else a fresh download (checked, atomic)."""
    target = cache_dir("sdists") / link.filename
    if target.is_file() and sha256_file(target) == link.sha256:
        step(f"{link.filename}: cached, sha256 matches the index")
    else:
        step(f"downloading {link.filename} from {urllib.parse.urlsplit(link.url).netloc}")
        with atomic_path(target) as tmp:
            _download(link.url, tmp)
            actual = sha256_file(tmp)
            if actual != link.sha256:
                raise DownloadError(
                    f"{link.filename}: sha256 {actual} does not match the index's {link.sha256}"
                )
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


def _get(url: str, accept: str) -> tuple[bytes, str]:
    try:
        with urllib.request.urlopen(_request(url, accept), timeout=TIMEOUT) as response:
            return response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect: {reason}") from None


def _download(url: str, target: Path) -> None:
    try:
        response = urllib.request.urlopen(_request(url), timeout=TIMEOUT)
        with response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: download failed: {reason}") from None


def _files_from_json(body: bytes, url: str) -> list[dict[str, Any]]:
    try:
        files = json.loads(body)["files"]
    except (ValueError, KeyError, TypeError):
        raise DownloadError(f"{url}: not a PEP 691 project page") from None
    if not isinstance(files, list):
        raise DownloadError(f"{url}: not a PEP 691 project page")
    return [
        {**f, "url": urllib.parse.urljoin(url, f.get("url", ""))}
        for f in files
        if isinstance(f, dict)
    ]


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self._current: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = {**dict(attrs), "text": ""}
            self.anchors.append(self._current)

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current["text"] = (self._current["text"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._current = None


def _files_from_html(text: str, url: str) -> list[dict[str, Any]]:
    """PEP 503 anchors as PEP 691-shaped dicts (hash from the ``#sha256=`` fragment)."""
    parser = _LinkParser()
    parser.feed(text)
    files = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        absolute, _, fragment = urllib.parse.urljoin(url, href).partition("#")
        algo, _, digest = fragment.partition("=")
        filename = urllib.parse.unquote(absolute.rsplit("/", 1)[-1])
        files.append(
            {
                "filename": filename,
                "url": absolute,
                "hashes": {algo: digest} if algo and digest else {},
                "requires-python": anchor.get("data-requires-python"),
                "yanked": "data-yanked" in anchor,
            }
        )
    return files


def _sdist_link(name: str, entry: dict[str, Any]) -> SdistLink | None:
    filename = str(entry.get("filename", ""))
    sha256 = (entry.get("hashes") or {}).get("sha256")
    if not filename.endswith(SDIST_SUFFIX) or not sha256:
        return None
    stem = filename[: -len(SDIST_SUFFIX)]
    dist, _, version_text = stem.rpartition("-")
    if canonicalize_name(dist) != name:
        return None
    try:
        version = Version(version_text)
        requires = SpecifierSet(entry.get("requires-python") or "")
    except (InvalidVersion, InvalidSpecifier):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return None
    return SdistLink(
        project=name,
        version=version,
        filename=filename,
        url=str(entry.get("url", "")),
        sha256=sha256,
        requires_python=requires,
        yanked=bool(entry.get("yanked")),
    )
