"""``slim tflite-runtime`` for real: strip the extension, repair the metadata the recipe names
(``numpy<2``, the true manylinux tag), keep outputs identical; without a recipe, warn and leave
the metadata alone. (``slim ai-edge-litert`` runs in test_dependencies.py.)"""

from __future__ import annotations

import email.parser
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, cli

pytestmark = [pytest.mark.slow, pytest.mark.network]

Cli = Callable[..., subprocess.CompletedProcess[str]]
EXTENSION = "tflite_runtime/_pywrap_tensorflow_interpreter_wrapper.so"


def _metadata(wheel: Path, name: str) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(f".dist-info/{name}"))
        return email.parser.HeaderParser().parsestr(zf.read(member).decode())


def _slim(cli: Cli, out: Path) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    report = out / "report.json"
    proc = cli("slim", "tflite-runtime", "--out", out / "dist", "--report", report)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (out / "dist").glob("*.whl")
    return proc, json.loads(report.read_text()), wheel


@pytest.fixture(scope="module")
def slimmed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    _, report, wheel = _slim(cli, tmp_path_factory.mktemp("tflite"))
    return report, wheel


def test_slim_tflite_runtime_strips_the_extension_and_keeps_outputs_identical(
    slimmed: tuple[dict, Path], runtime_wheel: Path
) -> None:
    report, wheel = slimmed
    assert wheel.name.startswith("tflite_runtime-2.14.0+slim-")
    assert report["wheel_bytes"]["after"] == wheel.stat().st_size
    assert report["wheel_bytes"]["before"] == runtime_wheel.stat().st_size
    assert wheel.stat().st_size < runtime_wheel.stat().st_size
    before, after = report["stripped"][EXTENSION]["before"], report["stripped"][EXTENSION]["after"]
    with zipfile.ZipFile(wheel) as zf:
        assert zf.getinfo(EXTENSION).file_size == after < before
    models = report["verification"]["models"]
    assert len(models) == 6 and all(m["status"] == "pass" and m["identical"] for m in models)


def test_slim_tflite_runtime_pins_numpy_below_2_and_gets_its_true_platform_tag(
    slimmed: tuple[dict, Path],
) -> None:
    report, wheel = slimmed
    assert _metadata(wheel, "METADATA").get_all("Requires-Dist") == ["numpy<2,>=1.23.2"]
    assert _metadata(wheel, "METADATA")["Version"] == "2.14.0+slim"
    assert wheel.name.endswith("-manylinux_2_31_x86_64.whl")
    assert [t.split("-")[-1] for t in _metadata(wheel, "WHEEL").get_all("Tag")] == [
        "manylinux_2_31_x86_64"
    ]
    assert report["platform"]["glibc_needed"] == "2.29"
    assert report["platform"]["needed_by"] == EXTENSION
    assert report["dependencies"]["imported_distributions"] == ["numpy"]
    assert report["pip_check"] == []


def test_slim_without_a_recipe_warns_and_leaves_the_metadata_alone(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    shutil.copy(ROOT / "recipes" / "runtimes.toml", recipes)
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(recipes))
    proc, report, wheel = _slim(run_cli, tmp_path)
    assert "warning: no recipe for tflite-runtime: using the generic slimmer" in proc.stderr
    assert _metadata(wheel, "METADATA").get_all("Requires-Dist") == ["numpy >=1.23.2"]
    assert wheel.name.endswith("-manylinux2014_x86_64.whl")
    assert report["dependencies"]["changes"][0]["action"] == "keep"
    assert any("needs GLIBC_2.29; no recipe entry retags it" in w for w in report["warnings"])
