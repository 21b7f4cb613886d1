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
from conftest import TFLITE_DEFAULT, assert_one_line_error, cli

from builder.cache import sha256_file
from builder.environments import create_environment
from builder.runtimes import resolve_runtime
from builder.smoke import run_suite
from builder.stack import REPORT, REQUIREMENTS
from builder.wheelfile import Wheel

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


# -- a runtime built here: --runtime-wheel -------------------------------------------------------


def test_runtime_and_runtime_wheel_together_are_refused(
    run_cli: Cli, tmp_path: Path, stock_numpy: Path
) -> None:
    both = run_cli("stack", "--runtime", "tflite-runtime", "--runtime-wheel", stock_numpy,
                   "--out", tmp_path / "out")  # fmt: skip
    assert "give --runtime or --runtime-wheel, not both" in assert_one_line_error(both)
    not_a_runtime = run_cli("stack", "--runtime-wheel", stock_numpy, "--out", tmp_path / "out")
    line = assert_one_line_error(not_a_runtime)
    assert f"{stock_numpy.name} is not a TensorFlow Lite runtime wheel" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.network
def test_a_runtime_no_index_has_builds_the_stack(runtime_wheel: Path, tmp_path: Path) -> None:
    """PyPI's tflite-runtime relabelled 2.14.0+edge stands in for a runtime built here: no index
    has that version, so the stack can only install it by name from the private find-links."""
    if not TFLITE_DEFAULT:
        pytest.skip("tflite-runtime 2.14 wheels exist for CPython <= 3.11 only")
    wheel = Wheel.open(runtime_wheel)
    wheel.set_local_version("edge")
    built = wheel.write(tmp_path / "built")
    before = sha256_file(built)
    out = tmp_path / "out"
    # zlib: the stack fixture above covers zopfli; here it would cost ~60 s for nothing
    proc = cli(
        "stack", "--runtime-wheel", built, "--numpy-from", "pypi", "--compress", "deflate",
        "--out", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / REPORT).read_text())
    runtime = next(w for w in report["wheels"] if w["name"] == "tflite-runtime")
    assert runtime["version"] == "2.14.0+edge.slim"
    assert runtime["origin"] == "built here, slimmed"
    assert runtime["bytes"]["before"] == built.stat().st_size
    assert report["runtime"] == "tflite-runtime==2.14.0+edge"
    assert report["stock_stack"][built.name] == built.stat().st_size
    numpy = next(w for w in report["wheels"] if w["name"] == "numpy")
    assert numpy["version"].startswith("1.26."), "the runtime's numpy<2 constraint holds"
    assert all(m["identical"] for m in report["verification"]["models"])
    assert sha256_file(built) == before, "the input wheel is never modified"


def test_build_options_without_selective_and_selective_with_a_runtime_are_refused(
    run_cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    alone = run_cli("stack", "--tf-version", "2.21.0", "--out", out)
    assert "--tf-version, --tf-source, --deps-dir, --profile and --no-xnnpack go with" in (
        assert_one_line_error(alone)
    )
    profile = run_cli("stack", "--profile", "speed", "--out", out)
    assert "go with --selective" in assert_one_line_error(profile)
    unknown = run_cli("stack", "--selective", "--profile", "fastest", "--out", out)
    line = assert_one_line_error(unknown)
    assert line.endswith("unsupported profile 'fastest' (the recipe has: size, size-lto, speed)")
    both = run_cli("stack", "--selective", "--runtime", "ai-edge-litert", "--out", out)
    line = assert_one_line_error(both)
    assert "--selective builds the runtime: give no --runtime/--runtime-wheel" in line
    assert not out.exists()
