"""``python -m builder stack``: refusals up front, and the real default stack installed from its
hash-pinned requirements file into a fresh environment, running the smoke models."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli

from builder.cache import sha256_file
from builder.environments import create_environment
from builder.runtimes import resolve_runtime
from builder.smoke import run_suite
from builder.stack import REPORT, REQUIREMENTS

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_a_conflicting_stack_is_refused_before_anything_is_downloaded(
    run_cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_cli("stack", "--runtime", "tflite-runtime", "--numpy", "2.1.0", "--out", out)
    line = assert_one_line_error(proc)
    if resolve_runtime("tflite-runtime").recipe.available_here():
        assert "numpy 2.1.0 conflicts with tflite-runtime==2.14.0, which needs numpy<2" in line
    else:  # CPython >= 3.12: no tflite-runtime wheels at all, which is refused first
        assert "tflite-runtime has no wheels for CPython" in line
    assert "downloading" not in proc.stderr and not out.exists()
    assert time.monotonic() - started < 30


def test_an_unknown_runtime_is_refused(run_cli: Cli, tmp_path: Path) -> None:
    line = assert_one_line_error(run_cli("stack", "--runtime", "tensorflow", "--out", tmp_path))
    assert "unknown runtime 'tensorflow'" in line


# -- the real stack -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("stack") / "out"
    # PyPI's numpy keeps the test's time predictable; the lean source build is bench/stack.py's.
    proc = cli("stack", "--numpy-from", "pypi", "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / REPORT).read_text())


@pytest.mark.slow
@pytest.mark.network
def test_stack_writes_the_wheels_and_a_requirements_file_whose_hashes_match(
    stack: tuple[Path, dict],
) -> None:
    out, report = stack
    runtime = resolve_runtime(None)
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 2
    text = (out / REQUIREMENTS).read_text()
    entries = re.findall(r"^(\S+==\S+) \\\n    --hash=sha256:([0-9a-f]{64})$", text, re.M)
    pins = dict(entries)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(pins) == len(entries) == 2 and len(lines) == 4  # one wheel, one hash each
    by_name = {w["name"]: w for w in report["wheels"]}
    assert set(by_name) == {runtime.name, "numpy"}
    for path in wheels:
        entry = next(w for w in report["wheels"] if w["filename"] == path.name)
        assert pins[f"{entry['name']}=={entry['version']}"] == sha256_file(path)
        assert entry["bytes"]["after"] == path.stat().st_size < entry["bytes"]["before"]
        assert "+slim" in entry["version"]
    assert report["total_bytes"]["after"] == sum(p.stat().st_size for p in wheels)
    assert report["total_bytes"]["before"] == sum(report["stock_stack"].values())
    assert report["verification"]["pip_check"] == []
    assert all(m["identical"] for m in report["verification"]["models"])


@pytest.mark.slow
@pytest.mark.network
def test_the_requirements_file_installs_offline_and_runs_the_smoke_models(
    stack: tuple[Path, dict], tmp_path: Path
) -> None:
    out, report = stack
    env = create_environment(tmp_path / "env")
    # The user's command, as the requirements file's header gives it.
    pip = [sys.executable, "-m", "pip", "--python", env.python, "install", "--no-index"]
    pip += ["--find-links", out, "--require-hashes", "-r", out / REQUIREMENTS]
    subprocess.run(pip, check=True, capture_output=True, text=True)
    installed = env.installed()
    assert installed == {w["name"]: w["version"] for w in report["wheels"]}
    suite = run_suite(env.python)
    assert suite.ok, suite.results
    assert len(suite.results) == 6
