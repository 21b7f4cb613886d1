"""builder.runtimes: which runtime this interpreter gets, its constraints and TF versions."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.version import Version

from builder.errors import ArgumentError, RecipeError
from builder.runtimes import host_platform, resolve_runtime, runtime_for_distribution
from builder.slim import default_requirement


def test_default_runtime_for_this_interpreter() -> None:
    runtime = resolve_runtime(None)
    linux = host_platform() in ("linux_x86_64", "linux_aarch64")
    if linux and sys.version_info < (3, 12):
        assert str(runtime) == "tflite-runtime==2.14.0"
        assert runtime.module == "tflite_runtime.interpreter"
    else:
        assert runtime.name == "ai-edge-litert"


def test_named_runtimes() -> None:
    assert str(resolve_runtime("tflite-runtime")) == "tflite-runtime==2.14.0"
    assert str(resolve_runtime("tflite_runtime")) == "tflite-runtime==2.14.0"
    assert str(resolve_runtime("ai-edge-litert")) == "ai-edge-litert==2.3.0"
    ranged = resolve_runtime("ai-edge-litert>=2.3")
    assert ranged.pinned_version() is None
    assert resolve_runtime("ai-edge-litert==2.3.0").pinned_version() == Version("2.3.0")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [("tensorflow==2.15", "unknown runtime 'tensorflow'"), ("tflite runtime", "not a requirement")],
)
def test_bad_runtime_specs(spec: str, fragment: str) -> None:
    with pytest.raises(ArgumentError, match=fragment):
        resolve_runtime(spec)


def test_tflite_runtime_needs_numpy_1() -> None:
    runtime = resolve_runtime("tflite-runtime==2.14.0")
    [constraint] = runtime.constraints()
    assert str(constraint.requirement) == "numpy<2"
    assert "compiled using NumPy 1.x" in constraint.evidence
    assert Version("1.26.4") in constraint.requirement.specifier
    assert Version("2.0.0") not in constraint.requirement.specifier
    assert resolve_runtime("ai-edge-litert").constraints() == ()
    assert default_requirement("numpy", runtime, None) == "numpy<2"
    assert default_requirement("numpy", runtime, "1.26.4") == "numpy==1.26.4"
    assert default_requirement("numpy", resolve_runtime("ai-edge-litert"), None) == "numpy"


def test_tf_versions() -> None:
    tflite = resolve_runtime("tflite-runtime")
    assert tflite.tf_version(Version("2.14.0")) == Version("2.14.0")
    assert tflite.tf_version(Version("2.14.0.post1")) == Version("2.14.0")
    litert = resolve_runtime("ai-edge-litert")
    assert litert.tf_version(Version("2.3.0")) == Version("2.22.0")
    assert litert.tf_version(Version("9.9.9")) is None


def test_runtime_for_distribution() -> None:
    recipe = runtime_for_distribution("TFLite_Runtime")
    assert recipe is not None and recipe.name == "tflite-runtime"
    assert runtime_for_distribution("numpy") is None


def test_broken_runtimes_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(tmp_path))
    shutil.copy(ROOT / "recipes" / "runtimes.toml", tmp_path)
    text = (tmp_path / "runtimes.toml").read_text()
    (tmp_path / "runtimes.toml").write_text(
        text.replace('requirement = "numpy<2"', "requirement = 'numpy<<2'")
    )
    with pytest.raises(RecipeError, match=r"runtime\[0\]\.constraint\[0\]\.requirement"):
        resolve_runtime(None)
    (tmp_path / "runtimes.toml").write_text("")
    with pytest.raises(RecipeError, match="no \\[\\[runtime\\]\\] entries"):
        resolve_runtime(None)
