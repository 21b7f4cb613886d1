"""The one simple-index page parser: PEP 503 HTML and PEP 691 JSON, and our own static index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wheel_factory import index_wheel

from builder.cache import sha256_file
from builder.errors import DownloadError
from builder.index.links import JSON_TYPE, FileLink, parse_project_page
from builder.index.simple_index import build_index

PAGE = "https://index.example/simple/demo-pkg/"
SHA = "ab" * 32


def test_html_anchors_become_absolute_links_with_their_hash() -> None:
    html = (
        f'<a href="demo_pkg-1.0.tar.gz#sha256={SHA}" data-requires-python="&gt;=3.9">1</a>'
        '<a href="/files/demo_pkg-1.0%2Bslim-py3-none-any.whl" data-yanked="">2</a>'
        '<a href="https://cdn.example/x/demo_pkg-0.9.tar.gz#md5=00">3</a><a>no href</a>'
    ).encode()
    assert parse_project_page(html, "text/html; charset=utf-8", PAGE) == [
        FileLink("demo_pkg-1.0.tar.gz", f"{PAGE}demo_pkg-1.0.tar.gz", {"sha256": SHA}, ">=3.9"),
        FileLink(
            "demo_pkg-1.0+slim-py3-none-any.whl",
            "https://index.example/files/demo_pkg-1.0%2Bslim-py3-none-any.whl",
            yanked=True,
        ),
        FileLink("demo_pkg-0.9.tar.gz", "https://cdn.example/x/demo_pkg-0.9.tar.gz", {"md5": "00"}),
    ]


def test_json_files_become_the_same_links() -> None:
    body = json.dumps(
        {
            "meta": {"api-version": "1.0"},
            "files": [
                {
                    "filename": "demo_pkg-1.0.tar.gz",
                    "url": "../../f/demo_pkg-1.0.tar.gz",
                    "hashes": {"sha256": SHA},
                    "requires-python": ">=3.9",
                    "yanked": "broken",
                },
                {"filename": "no-url.tar.gz", "hashes": {}},
                "not a file entry",
            ],
        }
    ).encode()
    assert parse_project_page(body, JSON_TYPE, PAGE) == [
        FileLink(
            "demo_pkg-1.0.tar.gz",
            "https://index.example/f/demo_pkg-1.0.tar.gz",
            {"sha256": SHA},
            ">=3.9",
            yanked=True,
        )
    ]


@pytest.mark.parametrize("body", [b"not json", b'{"files": 3}', b"[]"])
def test_a_broken_json_page_is_one_error(body: bytes) -> None:
    with pytest.raises(DownloadError, match="not a PEP 691 project page"):
        parse_project_page(body, JSON_TYPE, PAGE)


def test_our_static_index_reads_back(tmp_path: Path) -> None:
    wheel = index_wheel(tmp_path / "dist", "Edge_Pkg", "1.0+slim", b"edge")
    build_index(tmp_path / "dist", tmp_path / "simple")
    page = tmp_path / "simple" / "edge-pkg" / "index.html"
    url = "http://127.0.0.1:8000/simple/edge-pkg/"
    [link] = parse_project_page(page.read_bytes(), "text/html", url)
    assert link == FileLink(
        wheel.name,
        "http://127.0.0.1:8000/simple/edge-pkg/Edge_Pkg-1.0%2Bslim-py3-none-any.whl",
        {"sha256": sha256_file(wheel)},
        ">=3.8",
    )
