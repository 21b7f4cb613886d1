"""``verify``: the fast checks made before any environment exists, then real verifications with
PyPI's numpy and tflite-runtime 2.14.0 in fresh virtual environments (slow, network)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    NUMPY_VERSION,
    SMOKE_DIR,
    SMOKE_MODELS,
    TFLITE_DEFAULT,
    assert_one_line_error,
    bump_operator_version,
    cli,
)
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.version import Version
from wheel_factory import build_wheel

from builder.cache import cache_dir, sha256_file
from builder.errors import (
    ArgumentError,
    DownloadError,
    EnvironmentSetupError,
    UnsupportedPlatformError,
)
from builder.pypi import ORIGIN, download_wheel, find_cached_wheel
from builder.runtimes import resolve_runtime
from builder.tflite_model import read_model_info
from builder.verify import (
    _ReferenceStack,
    check_host_can_run,
    conflicts,
    reference_requirements,
    runtime_for,
)
from builder.wheelfile import Wheel

NUMPY2 = "numpy==2.2.6"  # the newest 2.x with cp39-cp313 wheels at once


def real_stack(test: Callable[..., None]) -> Callable[..., None]:
    """Slow, needs PyPI, and meaningful where tflite-runtime 2.14.0 is the default runtime."""
    skip = pytest.mark.skipif(not TFLITE_DEFAULT, reason="needs tflite-runtime 2.14 as default")
    return pytest.mark.slow(pytest.mark.network(skip(test)))


def fake_numpy(directory: Path, version: str, tag: str = "py3-none-any") -> Wheel:
    """A tiny wheel that only looks like numpy (enough for the checks made before installing)."""
    name = f"numpy-{version}-{tag}.whl"
    return Wheel.open(build_wheel(directory, "numpy", version, filename=name))


# -- before any environment ---------------------------------------------------------------------


def test_foreign_platform_is_refused(tmp_path: Path) -> None:
    wheel = fake_numpy(tmp_path, "1.26.4", "cp311-cp311-win_amd64")
    with pytest.raises(UnsupportedPlatformError, match="cannot be verified here"):
        check_host_can_run(wheel)
    check_host_can_run(fake_numpy(tmp_path, "1.26.4"))  # py3-none-any runs anywhere


def test_foreign_platform_through_the_cli(tmp_path: Path) -> None:
    wheel = fake_numpy(tmp_path / "in", "1.26.4", "cp311-cp311-macosx_11_0_arm64").path
    before = wheel.read_bytes()
    report = tmp_path / "report.json"
    proc = cli("verify", wheel, "--report", report, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert "cp311-cp311-macosx_11_0_arm64" in line and "cannot be verified here" in line
    assert not report.exists() and wheel.read_bytes() == before


def test_numpy_2_conflicts_with_tflite_runtime_2_14(tmp_path: Path) -> None:
    runtime = resolve_runtime("tflite-runtime==2.14.0")
    [problem] = conflicts(runtime, [fake_numpy(tmp_path, "2.2.6")])
    assert "needs numpy<2" in problem and "compiled using NumPy 1.x" in problem
    assert conflicts(runtime, [fake_numpy(tmp_path, "1.26.4")]) == []
    assert conflicts(resolve_runtime("ai-edge-litert"), [fake_numpy(tmp_path, "2.2.6")]) == []


def test_reference_stack_comes_from_the_index(tmp_path: Path) -> None:
    runtime = resolve_runtime("tflite-runtime==2.14.0")
    plain = fake_numpy(tmp_path / "a", "1.26.4")
    labelled = fake_numpy(tmp_path / "b", "1.26.4+slim")
    expected = ["numpy===1.26.4", "tflite-runtime===2.14.0", "numpy<2"]
    # An unlabelled wheel may have been changed all the same: it cannot vouch for itself.
    assert reference_requirements(runtime, [plain]) == expected
    assert reference_requirements(runtime, [labelled]) == expected
    local = reference_requirements(runtime, [plain], from_index=False)
    assert local == [str(plain.path), "tflite-runtime===2.14.0", "numpy<2"]
    # A numpy the runtime cannot use is replaced by the constraint in the reference.
    numpy2 = fake_numpy(tmp_path / "c", "2.2.6")
    assert reference_requirements(runtime, [numpy2]) == ["tflite-runtime===2.14.0", "numpy<2"]
    given = reference_requirements(runtime, [labelled], [plain.path])
    assert given == [str(plain.path), "tflite-runtime===2.14.0"]


def test_runtime_wheel_wins_and_conflicting_runtime_is_refused(tmp_path: Path) -> None:
    path = build_wheel(
        tmp_path, "tflite_runtime", "2.14.0", filename="tflite_runtime-2.14.0-py3-none-any.whl"
    )
    wheel = Wheel.open(path)
    runtime, found = runtime_for([wheel], None)
    assert str(runtime) == "tflite-runtime==2.14.0" and found is wheel
    with pytest.raises(ArgumentError, match="conflicts with the runtime wheel"):
        runtime_for([wheel], "ai-edge-litert")


# -- the reference stack and the wheel cache (offline) ---------------------------------------------


@pytest.mark.network
def test_reference_falls_back_to_the_given_wheels_only_for_a_release_the_index_lacks(
    tmp_path: Path,
) -> None:
    wheel = str(build_wheel(tmp_path / "in", "tflite_edge_absent_demo", "1.0"))
    absent = _ReferenceStack(tmp_path / "a", ["tflite-edge-absent-demo===1.0"], [wheel])
    assert absent.python.is_file()
    assert absent.requirements == [wheel] and "own reference" in absent.notes[0]
    broken = _ReferenceStack(
        tmp_path / "b", [str(tmp_path / "missing-1.0-py3-none-any.whl")], [wheel]
    )
    with pytest.raises(EnvironmentSetupError):
        broken.python  # noqa: B018 - the property creates the environment


def recorded(wheel: Path) -> Path:
    """``wheel`` as a download leaves it in the cache: beside it, the sha256 that vouches for it."""
    manifest = {"sha256": sha256_file(wheel), "url": f"https://example.org/{wheel.name}"}
    wheel.with_name(wheel.name + ORIGIN).write_text(json.dumps(manifest))
    return wheel


def test_cached_wheel_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    wheels = cache_dir("wheels")
    tag = next(iter(sys_tags()))
    generic = build_wheel(wheels, "numpy", "1.26.4", filename="numpy-1.26.4-py3-none-any.whl")
    specific = generic.with_name(f"numpy-1.26.4-{tag}.whl")
    specific.write_bytes(generic.read_bytes())
    wheels.joinpath("numpy-1.26.4-cp311-cp311-win_amd64.whl").write_bytes(b"")
    assert find_cached_wheel(Requirement("numpy==1.26.4")) is None  # nothing vouches for them
    for wheel in wheels.glob("*.whl"):
        recorded(wheel)
    assert find_cached_wheel(Requirement("numpy==1.26.4")) == specific  # most specific tag
    assert find_cached_wheel(Requirement("numpy<2")) is None  # only exact pins are cached
    assert find_cached_wheel(Requirement("numpy==1.26.3")) is None
    assert download_wheel("numpy==1.26.4") == specific  # served from the cache, no pip
    # Our own relabelled build never stands in for the release it was made from.
    ours = specific.with_name(f"numpy-1.26.4+slim-{tag}.whl")
    ours.write_bytes(generic.read_bytes())
    recorded(ours)
    specific.unlink()
    assert find_cached_wheel(Requirement("numpy==1.26.4")) == generic
    assert find_cached_wheel(Requirement("numpy==1.26.4+slim")) == ours
    with pytest.raises(DownloadError, match="not a valid requirement"):
        download_wheel("numpy = = 1")


@pytest.mark.network
def test_download_takes_the_release_not_a_local_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private index (here: a find-links directory) holding this project's numpy 1.26.4+slim:
    # under PEP 440 "==1.26.4" matches it too, and pip would prefer it as the higher version.
    links = tmp_path / "links"
    build_wheel(links, "numpy", "1.26.4+slim", filename="numpy-1.26.4+slim-py3-none-any.whl")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    wheel = Wheel.open(download_wheel(f"numpy=={NUMPY_VERSION}"))
    assert wheel.version == Version(NUMPY_VERSION)
    assert wheel.version.local is None
    # A range ("the newest numpy 1.x", as slim asks for it) gets the release as well.
    wheel.path.unlink()
    assert download_wheel("numpy<2,>=1.26") == wheel.path


# -- real stacks --------------------------------------------------------------------------------


def needs_future_runtime(data: bytes) -> bytes:
    """cnn_float32 claiming (in its min_runtime_version metadata) to need TF Lite 9.9.0."""
    assert data.count(b"1.5.0\0") == 1
    return data.replace(b"1.5.0\0", b"9.9.0\0")


def verify_cli(tmp_path: Path, *args: str | Path) -> tuple[int, dict, str]:
    report = tmp_path / "report.json"
    proc = cli("verify", *args, "--report", report, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(report.read_text()), proc.stderr


def by_model(report: dict) -> dict[str, dict]:
    return {entry["model"]: entry for entry in report["models"]}


@real_stack
def test_stock_numpy_passes_every_smoke_model(stock_numpy: Path, tmp_path: Path) -> None:
    code, report, _ = verify_cli(tmp_path, stock_numpy)
    assert code == 0
    assert report["ok"] is True
    assert report["runtime"] == "tflite-runtime==2.14.0"
    assert report["installed"]["numpy"] == NUMPY_VERSION
    assert report["installed"]["tflite-runtime"] == "2.14.0"
    results = by_model(report)
    assert set(results) == SMOKE_MODELS
    assert {r["status"] for r in results.values()} == {"pass"}
    assert all(r["max_abs_error"] is not None and r["seconds"] > 0 for r in results.values())
    assert report["reference_stack"] == []  # nothing failed: the reference was never built


@real_stack
def test_numpy_2_fails_naming_the_abi_error(tmp_path: Path) -> None:
    numpy2 = download_wheel(NUMPY2)
    code, report, stderr = verify_cli(tmp_path, numpy2)
    assert code == 1
    assert report["ok"] is False
    assert report["installed"]["numpy"] == "2.2.6"
    for result in report["models"]:
        # Blamed on the wheel (the reference stack with numpy<2 passes), not "unusable".
        assert result["status"] in ("error", "import-error"), result
        assert result["message"].startswith("numpy ABI mismatch"), result
        assert "cannot be run in NumPy 2.2.6" in result["message"]
    assert "numpy<2" in report["reference_stack"]
    assert "numpy ABI mismatch" in stderr


@real_stack
def test_numpy_without_a_required_file_fails_with_the_import_error(
    stock_numpy: Path, tmp_path: Path
) -> None:
    wheel = Wheel.open(stock_numpy)
    wheel.remove(["numpy/core/multiarray.py"])
    broken = wheel.write(tmp_path / "broken")  # same name and version as PyPI's wheel
    code, report, stderr = verify_cli(tmp_path, broken)
    assert code == 1
    for result in report["models"]:
        assert result["status"] == "import-error", result
        assert result["message"].startswith("ImportError: cannot import name 'multiarray'")
        assert "(while import numpy)" in result["message"]
    assert report["reference_stack"][0] == f"numpy==={NUMPY_VERSION}"
    assert "cannot import name 'multiarray'" in stderr


@real_stack
def test_own_model_alone_gets_expected_outputs_from_the_unmodified_stack(
    stock_numpy: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(SMOKE_DIR / "cnn_int8.tflite", models / "mine.tflite")
    code, report, _ = verify_cli(tmp_path, stock_numpy, "--models", models)
    assert code == 0
    [result] = report["models"]
    assert (result["model"], result["status"]) == ("mine", "pass")
    assert result["max_abs_error"] == 0.0  # same stack, same kernels: identical outputs
    assert report["reference_stack"][0] == f"numpy==={NUMPY_VERSION}"


@real_stack
def test_unusable_models_are_not_blamed(stock_numpy: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    int8 = (SMOKE_DIR / "cnn_int8.tflite").read_bytes()  # its operator codes store versions
    (models / "broken.tflite").write_bytes(bump_operator_version(int8))
    float32 = (SMOKE_DIR / "cnn_float32.tflite").read_bytes()
    (models / "future.tflite").write_bytes(needs_future_runtime(float32))
    assert read_model_info(models / "future.tflite").min_runtime_version == "9.9.0"
    code, report, stderr = verify_cli(tmp_path, stock_numpy, "--models", models)
    assert code == 1
    results = by_model(report)
    assert results["broken"]["status"] == "unusable"
    assert results["broken"]["message"].startswith("fails on the unmodified stack too")
    assert "version '99'" in results["broken"]["message"]
    assert results["future"]["status"] == "unusable"
    assert "needs TensorFlow Lite runtime >= 9.9.0" in results["future"]["message"]
    assert "implements TensorFlow 2.14.0" in results["future"]["message"]
    assert Version(report["installed"]["numpy"]) == Version(NUMPY_VERSION)
    assert "unusable" in stderr


@real_stack
def test_runtime_wheel_given_with_numpy(
    stock_numpy: Path, runtime_wheel: Path, tmp_path: Path
) -> None:
    # A runtime wheel among the wheels is the runtime: nothing else is fetched for it.
    code, report, _ = verify_cli(tmp_path, stock_numpy, runtime_wheel, "--models", SMOKE_DIR)
    assert code == 0
    assert report["runtime"] == "tflite-runtime==2.14.0"
    assert report["wheels"] == [stock_numpy.name, runtime_wheel.name]
    assert {m["status"] for m in report["models"]} == {"pass"}


# Appended to numpy/__init__.py: misbehave differently per model (the runner's request file,
# sys.argv[1], names the model), so one verification shows every way a candidate can fail.
SABOTAGE = """

def _sabotage():
    import json as _json, os as _os, signal as _signal, sys as _sys, time as _time
    global frombuffer
    try:
        with open(_sys.argv[1]) as _fh:
            _model = _os.path.basename(_json.load(_fh)["model"])
    except Exception:
        return
    if _model == "cnn_float32.tflite":
        _original = frombuffer
        frombuffer = lambda *a, **k: _original(*a, **k) * 2
    elif _model == "gru_while.tflite":
        _os.kill(_os.getpid(), _signal.SIGSEGV)
    elif _model == "cnn_int8.tflite":
        _time.sleep(600)
    elif _model == "lstm_stateful.tflite":
        raise ImportError("sabotaged: no lstm today")
    elif _model == "cnn_float16.tflite":
        raise RuntimeError("sabotaged: float16 refused")


_sabotage()
"""


@real_stack
def test_every_failure_kind_is_reported_and_blamed(stock_numpy: Path, tmp_path: Path) -> None:
    wheel = Wheel.open(stock_numpy)
    wheel.replace("numpy/__init__.py", wheel.read("numpy/__init__.py") + SABOTAGE.encode())
    wheel.set_local_version("sabotaged")
    candidate = wheel.write(tmp_path / "candidate")
    code, report, stderr = verify_cli(tmp_path, candidate, "--timeout", "8")
    assert code == 1
    results = by_model(report)
    wrong = results["cnn_float32"]
    assert wrong["status"] == "wrong-output"
    assert wrong["max_abs_error"] > 0
    assert f"max abs error {wrong['max_abs_error']:.6g}" in wrong["message"]
    assert results["gru_while"]["status"] == "crash"
    assert results["gru_while"]["message"] == "killed by SIGSEGV"
    assert results["cnn_int8"]["status"] == "timeout"
    assert results["cnn_int8"]["message"] == "no result after 8 s"
    assert results["lstm_stateful"]["status"] == "import-error"
    assert "ImportError: sabotaged: no lstm today (while import numpy)" in stderr
    assert results["cnn_float16"]["status"] == "error"
    assert "RuntimeError: sabotaged: float16 refused" in results["cnn_float16"]["message"]
    assert results["cnn_dynamic_int8"]["status"] == "pass"
    # Every failure was checked on the unmodified stack, which passed: the candidate is blamed.
    assert report["reference_stack"][0] == f"numpy==={NUMPY_VERSION}"
