"""``index``: a static PEP 503 index that pip installs from, served by ``python -m http.server``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NUMPY_VERSION, tflite_runtime_wheel
from publish_helpers import install_from_index, slim_numpy_wheel
from servers import static_server
from wheel_factory import index_wheel

from builder.cache import sha256_file
from builder.errors import PublishError
from builder.index.budget import collect
from builder.index.requirements import write_requirements
from builder.index.simple_index import build_index

HREF_RE = re.compile(r'<a href="([^"]+)"([^>]*)>([^<]+)</a>')


def links(page: Path) -> list[tuple[str, str, str]]:
    return HREF_RE.findall(page.read_text())


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    directory = tmp_path / "dist"
    index_wheel(directory, "Edge_Pkg", "1.0+slim", b"edge", requires=["helper.lib"])
    index_wheel(directory, "helper.lib", "2.0", b"helper")
    return directory


def test_index_layout_names_hashes_and_trailing_slashes(dist: Path, tmp_path: Path) -> None:
    out = tmp_path / "site" / "simple"
    index = build_index(dist, out)
    assert index.projects == ["edge-pkg", "helper-lib"]
    assert links(out / "index.html") == [
        ("edge-pkg/", "", "edge-pkg"),
        ("helper-lib/", "", "helper-lib"),
    ]
    [(href, attributes, text)] = links(out / "edge-pkg" / "index.html")
    wheel = dist / "Edge_Pkg-1.0+slim-py3-none-any.whl"
    assert text == wheel.name
    assert href == f"Edge_Pkg-1.0%2Bslim-py3-none-any.whl#sha256={sha256_file(wheel)}"
    assert (out / "edge-pkg" / wheel.name).read_bytes() == wheel.read_bytes()
    # No PEP 658 metadata: pip 23.0 rejects it when Name is spelled unlike the requirement.
    assert "metadata" not in attributes
    assert sorted(p.name for p in (out / "edge-pkg").iterdir()) == sorted(
        ["index.html", wheel.name]
    )
    assert 'data-requires-python="&gt;=3.8"' in attributes


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_rebuilding_is_deterministic_and_replaces_the_index(dist: Path, tmp_path: Path) -> None:
    out = tmp_path / "simple"
    build_index(dist, out)
    first = snapshot(out)
    build_index(dist, out)
    assert snapshot(out) == first
    (dist / "helper.lib-2.0-py3-none-any.whl").unlink()
    build_index(dist, out)
    assert not (out / "helper-lib").exists()
    assert [text for _, _, text in links(out / "index.html")] == ["edge-pkg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "simple"]  # no leftovers


def test_refuses_to_overwrite_a_directory_it_did_not_write(dist: Path, tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(PublishError, match="not an index written by this tool"):
        build_index(dist, out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "builder", "index", "empty", "--out", "simple"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: empty: no wheels (*.whl) to index",
    ]
    assert not (tmp_path / "simple").exists()


def test_pip_installs_from_the_static_index(dist: Path, tmp_path: Path) -> None:
    """Plain wheels only, so this stays fast; the real stack follows below."""
    out = tmp_path / "simple"
    build_index(dist, out)
    with static_server(out) as url:
        env, output = install_from_index(tmp_path / "venv", url, ["edge-pkg==1.0+slim"])
    assert env.installed() == {"edge-pkg": "1.0+slim", "helper-lib": "2.0"}
    assert "pypi.org" not in output


@pytest.mark.slow
@pytest.mark.network
def test_static_index_serves_the_stack_with_hash_pinned_requirements(tmp_path: Path) -> None:
    from builder.smoke import run_suite

    dist = tmp_path / "dist"
    dist.mkdir()
    wheels = [slim_numpy_wheel(), tflite_runtime_wheel()]
    for wheel in wheels:
        shutil.copyfile(wheel, dist / wheel.name)
    out = tmp_path / "simple"
    result = subprocess.run(
        [sys.executable, "-m", "builder", "index", str(dist), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    requirements = tmp_path / "requirements-edge.txt"
    write_requirements(requirements, collect(sorted(dist.glob("*.whl"))), "--index-url URL")
    with static_server(out) as url:
        env, _ = install_from_index(
            tmp_path / "venv", url, ["--require-hashes", "-r", str(requirements)]
        )
    slim_version = f"{NUMPY_VERSION}+slim"
    assert env.installed() == {"numpy": slim_version, "tflite-runtime": "2.14.0"}
    suite = run_suite(env.python)
    assert suite.ok, suite.summary()
