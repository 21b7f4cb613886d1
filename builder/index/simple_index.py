"""A static PEP 503 "simple" index: plain files that any static file server or bucket can host.

Layout (``OUT`` is the index root, the URL to pass to ``pip --index-url``)::

    OUT/index.html                      every project, linked as ``<name>/`` (trailing slash)
    OUT/<name>/index.html               the project's files, ``href="<file>#sha256=<digest>"``
    OUT/<name>/<file>.whl               the wheel itself

Names are normalised (PEP 503), links are relative and percent-encoded (``+`` of a local version
becomes ``%2B``, which object stores would otherwise read as a space), and the pages carry
``data-requires-python`` where it applies. PEP 658 metadata files are deliberately not offered:
pip 23.0 (bundled with CPython 3.9 and common on devices) rejects them whenever the metadata's
Name is not spelled as the requirement (``tflite_runtime`` vs ``tflite-runtime``), and the wheels
here are small enough to download. The whole tree is built beside ``OUT`` and swapped into place,
so ``OUT`` is never half-written.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from ..cache import sha256_file
from ..console import info, step
from ..errors import PublishError
from ..wheelfile import Wheel

GENERATOR = "tflite-edge-builder"
GENERATOR_META = f'<meta name="generator" content="{GENERATOR}">'


@dataclass(frozen=True)
class IndexedFile:
    project: str
    filename: str
    size: int
    sha256: str
    requires_python: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "file": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "requires_python": self.requires_python,
        }


@dataclass(frozen=True)
class SimpleIndex:
    root: Path
    files: tuple[IndexedFile, ...]

    @property
    def projects(self) -> list[str]:
        return sorted({f.project for f in self.files})

    def to_dict(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "projects": self.projects,
            "files": [f.to_dict() for f in self.files],
        }


def build_index(dist: Path, out: Path) -> SimpleIndex:
    """Write a simple index of every wheel in ``dist`` to ``out`` (replacing an earlier index)."""
    wheels = _find_wheels(dist)
    _check_out_dir(out)
    step(f"indexing {len(wheels)} wheel(s) from {dist}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        files = tuple(_add_wheel(staging, wheel) for wheel in wheels)
        _write_pages(staging, files)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    info(f"wrote a simple index of {len(files)} file(s) to {out}")
    return SimpleIndex(out, files)


def _find_wheels(dist: Path) -> list[Wheel]:
    if not dist.is_dir():
        raise PublishError(f"{dist}: no such directory")
    paths = sorted(dist.glob("*.whl"))
    if not paths:
        raise PublishError(f"{dist}: no wheels (*.whl) to index")
    return [Wheel.open(path) for path in paths]


def _check_out_dir(out: Path) -> None:
    """Only an empty directory or an index this tool wrote may be replaced."""
    if not out.exists():
        return
    if not out.is_dir():
        raise PublishError(f"{out} exists and is not a directory")
    if not any(out.iterdir()):
        return
    root_page = out / "index.html"
    if not (root_page.is_file() and GENERATOR_META in root_page.read_text(errors="replace")):
        raise PublishError(
            f"{out} is not empty and is not an index written by this tool; "
            "choose a new or empty directory"
        )


def _add_wheel(root: Path, wheel: Wheel) -> IndexedFile:
    project_dir = root / wheel.name
    project_dir.mkdir(exist_ok=True)
    target = project_dir / wheel.path.name
    shutil.copyfile(wheel.path, target)
    headers = HeaderParser().parsestr(wheel.metadata_text(), headersonly=True)
    requires_python = headers.get("Requires-Python")
    return IndexedFile(
        project=wheel.name,
        filename=wheel.path.name,
        size=target.stat().st_size,
        sha256=sha256_file(target),
        requires_python=requires_python.strip() if requires_python else None,
    )


def _write_pages(root: Path, files: Sequence[IndexedFile]) -> None:
    by_project: dict[str, list[IndexedFile]] = {}
    for indexed in files:
        by_project.setdefault(indexed.project, []).append(indexed)
    root_links = [
        f'<a href="{urllib.parse.quote(p)}/">{html.escape(p)}</a>' for p in sorted(by_project)
    ]
    (root / "index.html").write_text(_page("Simple index", root_links), encoding="utf-8")
    for project, group in by_project.items():
        links = [_file_link(f) for f in sorted(group, key=lambda f: f.filename)]
        page = _page(f"Links for {project}", links)
        (root / project / "index.html").write_text(page, encoding="utf-8")


def _file_link(indexed: IndexedFile) -> str:
    href = f"{urllib.parse.quote(indexed.filename)}#sha256={indexed.sha256}"
    attributes = [f'href="{html.escape(href)}"']
    if indexed.requires_python:
        attributes.append(f'data-requires-python="{html.escape(indexed.requires_python)}"')
    return f"<a {' '.join(attributes)}>{html.escape(indexed.filename)}</a>"


def _page(title: str, links: Sequence[str]) -> str:
    body = "\n".join(f"    {link}<br>" for link in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    {GENERATOR_META}\n"
        f"    <title>{html.escape(title)}</title>\n"
        f"  </head>\n  <body>\n    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    )


def _swap_into_place(staging: Path, out: Path) -> None:
    os.chmod(staging, 0o755)  # mkdtemp makes it private; a web server must be able to read it
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
