"""Fetching sdists: a real local index (PEP 503 HTML and PEP 691 JSON over HTTP), real tarballs;
and the real numpy sdists from PyPI (network), whose option files the build recipe must match."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from servers import Answer, Request, StubServer, serve

from builder.errors import DownloadError, RecipeError
from builder.index import http
from builder.index.links import JSON_TYPE
from builder.index.sdist import (
    Sdist,
    fetch_sdist,
    find_sdist,
    index_url,
    list_sdists,
    read_member,
    unpack_sdist,
)
from builder.numpy_build import check_sdist_options, plan_for


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
    """A tiny index serving /simple/demo-pkg/ and the files, in HTML or JSON as asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.meta: dict[str, dict[str, object]] = {}
        self.json = False
        self.auth: str | None = None  # "user:password" that requests must carry
        self.server = StubServer("")

    def add(self, filename: str, data: bytes, sha256: str | None = None, **meta: object) -> None:
        self.files[filename] = data
        self.meta[filename] = {"sha256": sha256 or hashlib.sha256(data).hexdigest(), **meta}

    def page(self, accept: str) -> Answer:
        if self.json and JSON_TYPE in accept:
            files = [
                {
                    "filename": f,
                    "url": f"../../files/{f}",
                    "hashes": {"sha256": m["sha256"]},
                    "requires-python": m.get("requires_python"),
                    "yanked": m.get("yanked", False),
                }
                for f, m in self.meta.items()
            ]
            body = json.dumps({"meta": {"api-version": "1.0"}, "files": files}).encode()
            return Answer(200, body, JSON_TYPE)
        anchors = []
        for filename, meta in self.meta.items():
            extra = ""
            if meta.get("requires_python"):
                extra += f' data-requires-python="{meta["requires_python"]}"'
            if meta.get("yanked"):
                extra += " data-yanked"
            anchors.append(f'<a href="/files/{filename}#sha256={meta["sha256"]}"{extra}>x</a>')
        return Answer(
            200, ("<html><body>" + "".join(anchors) + "</body></html>").encode(), "text/html"
        )

    def answer(self, request: Request) -> Answer:
        wanted = self.auth and "Basic " + base64.b64encode(self.auth.encode()).decode()
        if wanted and request.headers.get("Authorization") != wanted:
            return Answer(401)
        if request.path == "/simple/demo-pkg/":
            return self.page(request.headers.get("Accept", ""))
        if request.path.startswith("/files/") and request.path[7:] in self.files:
            return Answer(200, self.files[request.path[7:]])
        return Answer(404)

    @property
    def downloads(self) -> list[str]:
        return [p for p in self.server.paths() if p.startswith("/files/")]


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Index]:
    state = Index()
    with serve(state.answer) as server:
        state.server = server
        monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}simple/")
        monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
        yield state


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
    listed = sorted(str(link.version) for link in list_sdists("Demo_Pkg"))
    assert listed == ["1.0", "1.5", "2.0", "3.0rc1", "8.0", "9.0"]
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
    assert index.downloads == ["/files/demo_pkg-1.5.tar.gz"]
    assert fetch_sdist("demo-pkg", "1.5") == sdist
    assert index.downloads == ["/files/demo_pkg-1.5.tar.gz"]  # cached, hash checked
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


def test_an_unreachable_index_is_a_clear_error_after_retries(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(http, "DEFAULT_RETRY", http.RetryPolicy(retries=1, backoff=0.01))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    with pytest.raises(DownloadError) as info:
        list_sdists("numpy")
    assert str(info.value).startswith("cannot read http://127.0.0.1:9/simple/numpy/: ")
    assert "refused" in str(info.value) and str(info.value).endswith("(after 2 attempts)")
    assert capsys.readouterr().err.count("retrying in 0.01 s") == 1


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
