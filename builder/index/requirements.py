"""The one ``requirements-edge.txt`` writer: every file pinned by sha256 (pip's hash-checking
mode), for the stack (``stack``: one wheel per project, installed offline) and for a private
index (``publish``: every published file of a project).

    # Hash-pinned by tflite-edge-builder (pip hash-checking mode). Install with:
    #   pip install --no-index --find-links DIR --require-hashes -r requirements-edge.txt
    numpy==1.26.4+slim \\
        --hash=sha256:...

One entry per project, sorted by normalised name, hashes sorted and deduplicated: the same files
give the same bytes. The file is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name

from ..cache import atomic_write_text

REQUIREMENTS = "requirements-edge.txt"
# Where pip finds the files, by default: a directory beside the file, offline (the stack's case).
OFFLINE = "--no-index --find-links DIR"


class Pinned(Protocol):
    """A file to pin: its project, version and sha256 (a wheel of the stack, a published file)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> object: ...

    @property
    def sha256(self) -> str: ...


def requirements_text(
    files: Iterable[Pinned], source: str = OFFLINE, filename: str = REQUIREMENTS
) -> str:
    """The pins, after a header saying how to install them (``source``: pip's options naming
    where the files are, such as ``--index-url URL`` or ``--no-index --find-links DIR``)."""
    versions: dict[str, str] = {}
    hashes: dict[str, set[str]] = {}
    for pinned in files:
        project = canonicalize_name(pinned.name)
        version = versions.setdefault(project, str(pinned.version))
        if version != str(pinned.version):
            raise ValueError(f"{project} is pinned at two versions, {version} and {pinned.version}")
        hashes.setdefault(project, set()).add(pinned.sha256)
    lines = [
        "# Hash-pinned by tflite-edge-builder (pip hash-checking mode). Install with:",
        f"#   pip install {source} --require-hashes -r {filename}",
    ]
    for name in sorted(versions):
        digests = [f"    --hash=sha256:{digest}" for digest in sorted(hashes[name])]
        lines += [f"{name}=={versions[name]} \\", *(d + " \\" for d in digests[:-1]), digests[-1]]
    return "\n".join(lines) + "\n"


def write_requirements(path: Path, files: Iterable[Pinned], source: str = OFFLINE) -> Path:
    atomic_write_text(path, requirements_text(files, source, path.name))
    return path
