"""Which version a build produces, and the proof that the source is that version.

A wheel claims a TensorFlow release only for a source proven to be that release: the release
archive checked against the recipe's (or the lock file's) sha256, or a git checkout whose HEAD
carries the release tag. Any other tree is a development tree: it builds as ``X.Y.Z.devN`` (or a
pre-release such as ``X.Y.ZrcN``) and the tree's own version (``tensorflow/tf_version.bzl``)
must be ``X.Y.Z``. A development version uses the recipe entry of its release, or the newest
entry below it, for its patch series and dependencies.
"""

from __future__ import annotations

from pathlib import Path

from packaging.version import InvalidVersion, Version

from .. import sources
from ..cache import sha256_file
from ..errors import ArgumentError, BuildError, UnsupportedPlatformError
from .model import ARCHIVE, DOWNLOAD, TREE, BuildVersion
from .recipe import TfliteRecipe, VersionRecipe
from .tree import git_state, read_version


def parse(text: str) -> Version:
    try:
        version = Version(text)
    except InvalidVersion:
        raise ArgumentError(f"--tf-version {text!r} is not a version") from None
    if version.local or version.post is not None or version.epoch:
        raise ArgumentError(
            f"--tf-version {text}: use a release (2.21.0) or a development version (2.21.0.dev0)"
        )
    return version


def resolve(
    recipe: TfliteRecipe, text: str, kind: str, source: Path | None, lock_file: Path
) -> BuildVersion:
    wanted = parse(text)
    if not wanted.is_prerelease:
        return _release(recipe, wanted, kind, source, lock_file)
    if kind != TREE or source is None:
        raise ArgumentError(
            f"--tf-version {wanted} names a development tree: give the tree with --source DIR"
        )
    series = recipe.series_for(wanted)
    if series is None:
        oldest = min(recipe.versions, key=Version)
        raise UnsupportedPlatformError(
            f"no patch series for TensorFlow {wanted}: the recipe starts at {oldest}"
        )
    _check_tree_version(source, wanted)
    state = git_state(source)
    commit = f"-g{state.commit[:12]}" if state else ""
    where = f"git commit {state.commit[:12]}" if state else "not a git checkout"
    return BuildVersion(
        wanted=wanted,
        series=series,
        release=False,
        suffix=str(wanted)[len(wanted.base_version) :],
        git_version=f"v{wanted}{commit}",
        proof=f"development tree ({where}), patch series {series.version}",
    )


def _release(
    recipe: TfliteRecipe, wanted: Version, kind: str, source: Path | None, lock_file: Path
) -> BuildVersion:
    series = recipe.versions.get(str(wanted))
    if series is None:
        known = ", ".join(sorted(recipe.versions, key=Version))
        raise UnsupportedPlatformError(
            f"unsupported TensorFlow version {str(wanted)!r} (the recipe has: {known}); a "
            f"development tree builds as {wanted}.dev0 with --source DIR"
        )
    if kind == TREE:
        assert source is not None
        proof = _tagged_release(source, wanted, series)
    elif kind == ARCHIVE:
        assert source is not None
        proof = _archive_release(source, series, lock_file)
    else:
        assert kind == DOWNLOAD
        proof = f"release archive {series.source.url}, checked by sha256 when downloaded"
    return BuildVersion(wanted, series, True, "", series.git_version, proof)


def _tagged_release(tree: Path, wanted: Version, series: VersionRecipe) -> str:
    _check_tree_version(tree, wanted)
    state = git_state(tree)
    tag = series.git_version
    if state is None or tag not in state.tags:
        why = "not a git checkout" if state is None else f"HEAD {state.commit[:12]} is not {tag}"
        raise BuildError(
            f"--source {tree}: cannot prove this tree is the {wanted} release ({why}): build "
            f"it as --tf-version {wanted}.dev0, or give the release archive (checked against "
            "the recipe's sha256) as --source, or leave --source out to download it"
        )
    return f"git checkout at tag {tag} (commit {state.commit[:12]})"


def _archive_release(archive: Path, series: VersionRecipe, lock_file: Path) -> str:
    pin = sources.pin_for(series.source, lock_file)
    if pin.sha256 is None:
        raise BuildError(
            f"--source {archive}: TensorFlow {series.version} has no sha256 pin in the recipe "
            f"or {lock_file}, so the archive cannot be checked"
        )
    actual = sha256_file(archive)
    if actual != pin.sha256:
        raise BuildError(
            f"--source {archive}: sha256 {actual} is not the {series.version} release's "
            f"{pin.sha256} ({pin.description})"
        )
    return f"release archive {archive.name}, sha256 matches ({pin.description})"


def _check_tree_version(tree: Path, wanted: Version) -> None:
    found = read_version(tree)
    if found.version != Version(wanted.base_version):
        hint = (
            f"--tf-version {found.version}.dev0"
            if wanted.is_prerelease
            else (
                f"--tf-version {found.version} (a tagged release checkout) or "
                f"{found.version}.dev0 (a development tree)"
            )
        )
        raise BuildError(
            f"--source {tree}: the tree is TensorFlow {found.version} ({found.file}), not "
            f"{wanted.base_version}: pass {hint}"
        )


def check_extracted(tree: Path, wanted: Version) -> None:
    """A downloaded or given archive must hold the version it is the archive of."""
    _check_tree_version(tree, wanted)
