"""The Dockerfile for Linux tflite-runtime builds: hadolint (from PyPI) and what it must run.

Docker itself cannot run on the machines these tests run on; the image is checked statically.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builder.recipes import project_root

DOCKERFILE = project_root() / "Dockerfile"


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
    recipe = (project_root() / "recipes" / "tflite-runtime.toml").read_text()
    assert 'manylinux = "manylinux_2_28_x86_64"' in recipe
    for copied in ("builder", "recipes", "patches", "smoke_models"):
        assert re.search(rf"^COPY {copied} ", text, re.MULTILINE), copied
