"""TensorFlow source archives: recipe pins, the lock file, and the --allow-unpinned flow.

Offline: the "download" is a file:// URL to a tarball of the fake TensorFlow tree, fetched by the
same code (urllib) that fetches GitHub's archive.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import ROOT
from fake_tensorflow import SCRIPT, make_tree

from builder import sources
from builder.__main__ import main
from builder.errors import DownloadError
from builder.tflite.model import BuildRequest
from builder.tflite.plan import make_plan, render_plan
from builder.tflite.recipe import load_tflite_recipe

VERSION = "2.16.1"


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    """tensorflow-2.16.1.tar.gz holding the fake tree under tensorflow-2.16.1/."""
    root = make_tree(tmp_path / "src" / f"tensorflow-{VERSION}", VERSION)
    path = tmp_path / "upstream" / f"tensorflow-{VERSION}.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    return path


def _use_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, sha: str | None) -> Path:
    """A private recipes dir whose 2.16.1 entry points at ``url`` with pin ``sha`` (or none)."""
    text = (ROOT / "recipes" / "tflite-runtime.toml").read_text()
    head, rest = text.split(f'[versions."{VERSION}"]\n', 1)
    entry, tail = rest.split("\n[", 1)
    entry = re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', entry)
    entry = re.sub(r'(?m)^sha256 = ".*"\n', "", entry)
    if sha is not None:
        entry = f'sha256 = "{sha}"\n' + entry
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "tflite-runtime.toml").write_text(f'{head}[versions."{VERSION}"]\n{entry}\n[{tail}')
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(recipes))
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return recipes


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source() -> sources.SourceArchive:
    return load_tflite_recipe().versions[VERSION].source


def test_the_shipped_recipe_pins_every_version() -> None:
    for version in load_tflite_recipe().versions.values():
        assert version.source.sha256 and re.fullmatch(r"[0-9a-f]{64}", version.source.sha256)


def test_unpinned_source_is_refused_without_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path, capsys: pytest.CaptureFixture
) -> None:
    recipes = _use_recipe(tmp_path, monkeypatch, archive.as_uri(), None)
    argv = ["build", "tflite-runtime", "--tf-version", VERSION, "--platform", "linux_x86_64"]
    assert main([*argv, "--no-verify", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "refusing an unverified download" in err and "--allow-unpinned" in err
    assert "Traceback" not in err
    lock = tmp_path / "config" / "tflite-edge-builder" / "tflite-runtime.lock"
    assert not lock.exists() and not lock.parent.exists()
    assert not (recipes / "tflite-runtime.lock").exists()
    assert not (tmp_path / "cache" / "tflite-runtime" / "downloads").exists()
    plan = render_plan(make_plan(BuildRequest(VERSION, "linux_x86_64", "3.12", tmp_path / "out")))
    assert (
        "      sha256: - (not pinned: no sha256 in the recipe, no entry in tflite-runtime.lock)"
        in plan
    )
    assert (
        f"      needs --allow-unpinned: the first download's sha256 is then recorded in {lock} "
        "and checked on every later download" in plan
    )


def test_allow_unpinned_records_in_the_lock_file_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path
) -> None:
    _use_recipe(tmp_path, monkeypatch, archive.as_uri(), None)
    lock = tmp_path / "elsewhere" / "my.lock"
    argv = ["build", "tflite-runtime", "--tf-version", VERSION, "--platform", "linux_x86_64"]
    argv += ["--allow-unpinned", "--lock-file", str(lock), "--deps-dir", str(tmp_path)]
    assert main(argv) == 2  # stops at the dependency check, after the download
    recorded = json.loads(lock.read_text())["sources"][archive.as_uri()]
    assert recorded == {"version": VERSION, "sha256": _sha(archive)}
    assert not (tmp_path / "config").exists()


def test_first_download_is_recorded_and_every_later_one_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path
) -> None:
    recipes = _use_recipe(tmp_path, monkeypatch, archive.as_uri(), None)
    lock = recipes / "tflite-runtime.lock"
    cached = sources.fetch(_source(), lock, allow_unpinned=True)
    assert cached.read_bytes() == archive.read_bytes()
    recorded = json.loads(lock.read_text())["sources"][archive.as_uri()]
    assert recorded == {"version": VERSION, "sha256": _sha(archive)}

    pin = sources.pin_for(_source(), lock)
    assert (pin.origin, pin.sha256) == ("lock", _sha(archive))
    assert sources.fetch(_source(), lock, allow_unpinned=False) == cached  # verified, no flag

    cached.write_bytes(cached.read_bytes() + b"tampered")
    assert sources.fetch(_source(), lock, allow_unpinned=False) == cached  # downloaded again
    assert cached.read_bytes() == archive.read_bytes()
    [moved] = (cached.parent / "quarantine").iterdir()  # the tampered copy, moved aside
    assert moved.read_bytes().endswith(b"tampered")
    archive.write_bytes(archive.read_bytes() + b"upstream changed")  # a re-tagged release
    cached.unlink()
    with pytest.raises(DownloadError, match="does not match the lock "):
        sources.fetch(_source(), lock, allow_unpinned=True)  # the flag never overrides a pin
    assert not cached.exists()
    assert json.loads(lock.read_text())["sources"][archive.as_uri()] == recorded


def test_a_recipe_pin_is_checked_and_no_lock_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path
) -> None:
    recipes = _use_recipe(tmp_path, monkeypatch, archive.as_uri(), "0" * 64)
    with pytest.raises(DownloadError, match="does not match the recipe 0000"):
        sources.fetch(_source(), recipes / "tflite-runtime.lock", allow_unpinned=True)
    shutil.rmtree(recipes)
    recipes = _use_recipe(tmp_path, monkeypatch, archive.as_uri(), _sha(archive))
    sources.fetch(_source(), recipes / "tflite-runtime.lock", allow_unpinned=False)
    assert not (recipes / "tflite-runtime.lock").exists()


def test_downloaded_tree_is_extracted_and_checked_before_it_is_patched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path, capsys: pytest.CaptureFixture
) -> None:
    _use_recipe(tmp_path, monkeypatch, archive.as_uri(), _sha(archive))
    deps = tmp_path / "deps"
    deps.mkdir()  # empty: the check step stops the build before anything is compiled
    report = tmp_path / "report.json"
    argv = ["build", "tflite-runtime", "--tf-version", VERSION, "--platform", "linux_x86_64"]
    assert main([*argv, "--deps-dir", str(deps), "--report", str(report)]) == 2
    assert "--deps-dir lacks" in capsys.readouterr().err
    data = json.loads(report.read_text())
    statuses = [(s["key"], s["status"]) for s in data["steps"]][:3]
    assert statuses == [("source", "executed"), ("check", "failed"), ("patch", "not run")]
    script = (Path(data["tree"]) / SCRIPT).read_text()
    assert "${TFLITE_GIT_VERSION:?" not in script and "git -C" in script  # not patched yet


def test_a_release_archive_given_as_source_is_checked_by_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: Path, capsys: pytest.CaptureFixture
) -> None:
    _use_recipe(
        tmp_path, monkeypatch, "https://example.invalid/never-fetched.tar.gz", _sha(archive)
    )
    argv = ["build", "tflite-runtime", "--tf-version", VERSION, "--platform", "linux_x86_64"]
    request = BuildRequest(
        VERSION, "linux_x86_64", "3.12", tmp_path / "out", source=archive, dry_run=True
    )
    plan = render_plan(make_plan(request))
    assert f"      release archive {archive.name}, sha256 matches (sha256 pinned in " in "\n".join(
        plan
    )
    other = tmp_path / f"other-{archive.name}"
    other.write_bytes(archive.read_bytes() + b"changed")
    assert main([*argv, "--source", str(other), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"--source {other}: sha256 {_sha(other)} is not the {VERSION} release's" in err


def test_unsafe_archive_members_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="tensorflow-2.16.1/../../escaped.txt")
    with pytest.raises(DownloadError, match="unsafe member refused"):
        sources.extract(evil, "tensorflow-2.16.1", tmp_path / "out" / "tree")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out" / "tree").exists()
