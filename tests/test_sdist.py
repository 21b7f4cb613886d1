"""Fetching sdists: a real local index (PEP 503 HTML and PEP 691 JSON over HTTP), real tarballs;
and the real numpy sdists from PyPI (network), whose option files the build recipe must match."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from builder.errors import DownloadError, RecipeError
from builder.numpy_build import check_sdist_options, plan_for
from builder.sdist import (
    JSON_TYPE,
    Sdist,
    fetch_sdist,
    find_sdist,
    index_url,
    list_sdists,
    read_member,
    unpack_sdist,
)


def make_sdist(name: str, version: str, files: dict[str, bytes], links: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path if path.startswith("..") else f"{name}-{version}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if links:
            link = tarfile.TarInfo(f"{name}-{version}/evil")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    return buffer.getvalue()


class Index:
    """A tiny index serving /simple/<project>/ and the files, in HTML or JSON as asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.meta: dict[str, dict[str, object]] = {}
        self.json = False
        self.requests: list[str] = []
        self.auth: str | None = None  # "user:password" that requests must carry

    def add(self, filename: str, data: bytes, sha256: str | None = None, **meta: object) -> None:
        self.files[filename] = data
        self.meta[filename] = {"sha256": sha256 or hashlib.sha256(data).hexdigest(), **meta}

    def page(self, accept: str) -> tuple[bytes, str]:
        if self.json and JSON_TYPE in accept:
            files = [
                {"filename": f, "url": f"../../files/{f}", "hashes": {"sha256": m["sha256"]},
                 "requires-python": m.get("requires_python"), "yanked": m.get("yanked", False)}
                for f, m in self.meta.items()
            ]  # fmt: skip
            return json.dumps({"meta": {"api-version": "1.0"}, "files": files}).encode(), JSON_TYPE
        anchors = []
        for filename, meta in self.meta.items():
            extra = ""
            if meta.get("requires_python"):
                extra += f' data-requires-python="{meta["requires_python"]}"'
            if meta.get("yanked"):
                extra += " data-yanked"
            anchors.append(f'<a href="/files/{filename}#sha256={meta["sha256"]}"{extra}>x</a>')
        return ("<html><body>" + "".join(anchors) + "</body></html>").encode(), "text/html"


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Index]:
    state = Index()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            wanted = state.auth and "Basic " + base64.b64encode(state.auth.encode()).decode()
            if wanted and self.headers.get("Authorization") != wanted:
                self.send_error(401)
                return
            if self.path == "/simple/demo-pkg/":
                body, kind = state.page(self.headers.get("Accept", ""))
            elif self.path.startswith("/files/") and self.path[7:] in state.files:
                body, kind = state.files[self.path[7:]], "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple/")
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def add_releases(index: Index) -> None:
    for version in ("1.0", "1.5", "2.0", "3.0rc1"):
        data = make_sdist("demo_pkg", version, {"PKG-INFO": f"Version: {version}\n".encode()})
        index.add(f"demo_pkg-{version}.tar.gz", data)
    index.add("demo_pkg-2.0-py3-none-any.whl", b"not an sdist")
    index.add("demo_pkg-9.0.tar.gz", b"x", requires_python=">=4")
    index.add("demo_pkg-8.0.tar.gz", b"x", yanked=True)


@pytest.mark.parametrize("use_json", [False, True], ids=["pep503-html", "pep691-json"])
def test_finds_the_newest_allowed_release(index: Index, use_json: bool) -> None:
    index.json = use_json
    add_releases(index)
    assert sorted(str(link.version) for link in list_sdists("Demo_Pkg")) == [
        "1.0", "1.5", "2.0", "3.0rc1", "8.0", "9.0",
    ]  # fmt: skip
    assert find_sdist("demo-pkg").version == Version("2.0")  # no rc, yanked or Python 4 only
    assert find_sdist("demo-pkg", None, SpecifierSet("<2")).version == Version("1.5")
    assert find_sdist("demo-pkg", "3.0rc1").filename == "demo_pkg-3.0rc1.tar.gz"
    with pytest.raises(DownloadError, match=r"demo-pkg 4\.0: no source distribution"):
        find_sdist("demo-pkg", "4.0")
    with pytest.raises(DownloadError, match="demo-pkg<1: no release with an sdist"):
        find_sdist("demo-pkg", None, SpecifierSet("<1"))


def test_download_is_hash_checked_cached_and_readable(index: Index, tmp_path: Path) -> None:
    add_releases(index)
    sdist = fetch_sdist("demo-pkg", "1.5")
    assert sdist.path.read_bytes() == index.files["demo_pkg-1.5.tar.gz"]
    assert read_member(sdist, "PKG-INFO") == "Version: 1.5\n"
    assert read_member(sdist, "meson.options") is None
    downloads = [r for r in index.requests if r.startswith("/files/")]
    assert fetch_sdist("demo-pkg", "1.5") == sdist
    assert [r for r in index.requests if r.startswith("/files/")] == downloads  # cached
    root = unpack_sdist(sdist, tmp_path / "unpacked")
    assert (root / "PKG-INFO").read_text() == "Version: 1.5\n"


def test_a_hash_mismatch_leaves_nothing_in_the_cache(index: Index, tmp_path: Path) -> None:
    data = make_sdist("demo_pkg", "1.0", {"PKG-INFO": b"x"})
    index.add("demo_pkg-1.0.tar.gz", data, sha256="0" * 64)
    with pytest.raises(DownloadError, match="does not match the index's 0000"):
        fetch_sdist("demo-pkg", "1.0")
    assert list((tmp_path / "cache" / "sdists").iterdir()) == []


def test_credentials_in_the_index_url_authenticate_and_are_never_shown(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_releases(index)
    index.auth = "alice:s3cret pw"
    url = os.environ["PIP_INDEX_URL"].replace("http://", "http://alice:s3cret%20pw@")
    monkeypatch.setenv("PIP_INDEX_URL", url)
    assert "s3cret" not in index_url() and "alice" not in index_url()
    assert fetch_sdist("demo-pkg", "1.5").path.read_bytes() == index.files["demo_pkg-1.5.tar.gz"]
    monkeypatch.setenv("PIP_INDEX_URL", url.replace("s3cret%20pw", "wrong-s3cret"))
    with pytest.raises(DownloadError, match="HTTP 401") as info:
        find_sdist("demo-pkg", "1.0")
    assert "s3cret" not in str(info.value) and "alice" not in str(info.value)


def test_unsafe_archives_are_refused(tmp_path: Path) -> None:
    cases = {
        "escape": make_sdist("demo_pkg", "1.0", {"../outside": b"x"}),
        "link": make_sdist("demo_pkg", "1.0", {"PKG-INFO": b"x"}, links=True),
        "corrupt": b"\x1f\x8b not really gzip",
    }
    for name, data in cases.items():
        path = tmp_path / name / "demo_pkg-1.0.tar.gz"
        path.parent.mkdir()
        path.write_bytes(data)
        sdist = Sdist("demo-pkg", Version("1.0"), path, hashlib.sha256(data).hexdigest())
        with pytest.raises(DownloadError, match=r"demo_pkg-1\.0\.tar\.gz"):
            unpack_sdist(sdist, tmp_path / name / "out")
    assert not (tmp_path / "outside").exists()


def test_an_unreachable_index_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    with pytest.raises(DownloadError, match="cannot connect"):
        list_sdists("numpy")


# -- the real numpy sdists -----------------------------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("version", ["1.26.4", "2.4.6"])
def test_recipe_options_exist_in_the_real_numpy_sdist(version: str) -> None:
    sdist = fetch_sdist("numpy", version)
    for profile in ("size", "speed"):
        expected_file = "meson_options.txt" if version.startswith("1.") else "meson.options"
        assert check_sdist_options(plan_for(version, profile), sdist) == expected_file


@pytest.mark.network
def test_numpy_2_options_are_refused_for_numpy_1_26() -> None:
    sdist = fetch_sdist("numpy", "1.26.4")
    plan_2x = plan_for("2.4.6", "size")
    wrong = type(plan_2x)(**{**plan_2x.__dict__, "version": Version("1.26.4")})
    with pytest.raises(RecipeError, match="has no meson option 'disable-highway'"):
        check_sdist_options(wrong, sdist)
