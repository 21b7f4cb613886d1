"""What a TensorFlow source tree says about itself, read before anything is patched or built.

* its version: ``TF_VERSION`` in ``tensorflow/tf_version.bzl`` (2.17 and later), ``VERSION`` in
  ``tensorflow/tensorflow.bzl`` or ``_VERSION`` in ``tensorflow/tools/pip_package/setup.py``
  (older releases); the first file that has it wins;
* whether it is a git checkout of its own (the tree is the repository's top level), at which
  commit, and which release tag that commit carries;
* whether a file has CRLF line endings (a Windows checkout): bash cannot run such a script and
  exact patches do not match;
* the commit (or tag) the tree pins a CMake dependency to: ``GIT_TAG <ref>`` or an archive URL
  ``.../archive/<ref>.tar.gz|.zip`` in the dependency's CMake module or download file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..errors import BuildError, CommandError
from ..runner import run

VERSION_FILES = (
    ("tensorflow/tf_version.bzl", re.compile(r'^TF_VERSION\s*=\s*"([^"]+)"', re.M)),
    ("tensorflow/tensorflow.bzl", re.compile(r'^VERSION\s*=\s*"([^"]+)"', re.M)),
    ("tensorflow/tools/pip_package/setup.py", re.compile(r"^_VERSION\s*=\s*'([^']+)'", re.M)),
)
CMAKE_MODULES = "tensorflow/lite/tools/cmake/modules"
DOWNLOAD_DIRS = ("tensorflow/lite/cmake",)  # relative to the tree
PIN_PATTERNS = (
    re.compile(r"GIT_TAG\s+([0-9A-Za-z._-]+)"),
    re.compile(r"/archive/(?:refs/tags/)?([0-9A-Za-z._-]+?)\.(?:tar\.gz|zip)\b"),
)


@dataclass(frozen=True)
class TreeVersion:
    version: Version
    file: str  # where it was read, relative to the tree


@dataclass(frozen=True)
class GitState:
    commit: str
    tags: tuple[str, ...]  # tags on HEAD


def read_version(tree: Path) -> TreeVersion:
    """The TensorFlow version the tree declares, or a one-line error naming what was looked at."""
    for relative, pattern in VERSION_FILES:
        path = tree / relative
        if not path.is_file():
            continue
        match = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            try:
                return TreeVersion(Version(match.group(1).strip()), relative)
            except InvalidVersion:
                raise BuildError(f"{path}: {match.group(1)!r} is not a version") from None
    names = ", ".join(name for name, _ in VERSION_FILES)
    raise BuildError(f"{tree}: no TensorFlow version found (looked in {names}); is this a TF tree?")


def git_state(directory: Path) -> GitState | None:
    """HEAD and its tags when ``directory`` is the top level of a git checkout, else None."""
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != directory.resolve():
        return None
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return None
    tags = _git(directory, "tag", "--points-at", "HEAD") or ""
    return GitState(commit, tuple(sorted(tags.split())))


def resolve_ref(directory: Path, ref: str) -> str | None:
    """The commit ``ref`` (a commit id or tag) names in the checkout at ``directory``."""
    return _git(directory, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = run(["git", "-C", str(directory), *args], echo=False, log=False, check=False)
    except CommandError:  # git is not installed
        return None
    return result.output.strip() if result.returncode == 0 else None


def crlf_file(tree: Path, relatives: list[str]) -> str | None:
    """The first of ``relatives`` (that exists) with a CRLF line ending."""
    for relative in relatives:
        path = tree / relative
        if path.is_file() and b"\r\n" in path.read_bytes():
            return relative
    return None


def dependency_pin(tree: Path, name: str, extra_dirs: tuple[Path, ...] = ()) -> str | None:
    """The ref the tree pins dependency ``name`` to: its CMake module first, then a
    ``Download<Name>.cmake`` in TFLite's cmake/ (or ``extra_dirs``, e.g. XNNPACK's cmake/)."""
    candidates = [tree / CMAKE_MODULES / f"{name}.cmake"]
    for directory in (*(tree / d for d in DOWNLOAD_DIRS), *extra_dirs):
        if directory.is_dir():
            candidates += sorted(
                p for p in directory.glob("Download*.cmake") if p.stem[8:].lower() == name.lower()
            )
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for pattern in PIN_PATTERNS:
                match = pattern.search(text)
                if match:
                    return match.group(1)
    return None
