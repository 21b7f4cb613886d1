"""The files a project page of a simple index lists: PEP 691 JSON or PEP 503 HTML, one shape.

Written here rather than taken from pip (whose parser is internal) or a library: a page is small,
both formats are short to read, and every caller (``sdist``, the publish ``reader``) needs the
same few fields: file name, absolute URL, hashes, ``requires-python`` and ``yanked``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ..errors import DownloadError

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Ask for JSON, take HTML from an index that has nothing else (pypiserver, a static index).
ACCEPT = f"{JSON_TYPE}, text/html;q=0.1"


@dataclass(frozen=True)
class FileLink:
    """One file on a project page."""

    filename: str
    url: str  # absolute, without the fragment
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: bool = False


def parse_project_page(body: bytes, content_type: str, page_url: str) -> list[FileLink]:
    """The files on a project page, in page order; relative links resolved against its URL."""
    if content_type.startswith((JSON_TYPE, "application/json")):
        links = _from_json(body, page_url)
    else:
        links = _from_html(body.decode("utf-8", "replace"), page_url)
    return [link for link in links if link.filename]


def _from_json(body: bytes, page_url: str) -> list[FileLink]:
    try:
        files = json.loads(body)["files"]
    except (ValueError, KeyError, TypeError):
        raise DownloadError(f"{page_url}: not a PEP 691 project page") from None
    if not isinstance(files, list):
        raise DownloadError(f"{page_url}: not a PEP 691 project page")
    links = []
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("url"):
            continue
        url, _ = _absolute(page_url, str(entry["url"]))
        hashes = entry.get("hashes")
        links.append(
            FileLink(
                filename=str(entry.get("filename") or _last_segment(url)),
                url=url,
                hashes=dict(hashes) if isinstance(hashes, dict) else {},
                requires_python=entry.get("requires-python") or None,
                yanked=bool(entry.get("yanked")),
            )
        )
    return links


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _from_html(text: str, page_url: str) -> list[FileLink]:
    """PEP 503 anchors; the hash is the ``#sha256=...`` fragment of the link."""
    parser = _Anchors()
    parser.feed(text)
    links = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        url, fragment = _absolute(page_url, href)
        algorithm, _, digest = fragment.partition("=")
        links.append(
            FileLink(
                filename=_last_segment(url),
                url=url,
                hashes={algorithm: digest} if algorithm and digest else {},
                requires_python=anchor.get("data-requires-python") or None,
                yanked="data-yanked" in anchor,
            )
        )
    return links


def _absolute(page_url: str, href: str) -> tuple[str, str]:
    """The link as an absolute URL without its fragment, and the fragment."""
    joined = urllib.parse.urldefrag(urllib.parse.urljoin(page_url, href))
    return joined.url, joined.fragment


def _last_segment(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
