"""The builder as users install it: ``python -m build`` makes an sdist and, from it, a wheel that
carry the recipes, patches and smoke models; that wheel, installed (not editable) into a fresh
venv, works from a directory outside the checkout.

Slow and network: the build requirements and the builder's dependencies come from the index. The
builder itself comes from the wheel file built here, named by path, never from an index.
"""

from __future__ import annotations

import json
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import NUMPY_VERSION, ROOT, SMOKE_MODELS, TFLITE_DEFAULT, TFLITE_RUNTIME, cli

from builder import resources
from builder.environments import Environment
from builder.runner import run

pytestmark = [pytest.mark.slow, pytest.mark.network]
DATA = f"builder/{resources.PACKAGED_DATA}"
PATCHES_2_16_1 = "patches/tflite-runtime/2.16.1"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    work: Path  # an empty working directory outside the checkout

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "tflite-edge-builder"

    def tool(self, *args: str | Path) -> tuple[int, str, str]:
        proc = cli(*args, cwd=self.work, program=[self.script])
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT], echo=False, timeout=900)
    [wheel], [sdist] = dist.glob("*.whl"), dist.glob("*.tar.gz")
    venv = tmp_path_factory.mktemp("tool") / "venv"
    run([sys.executable, "-m", "venv", venv], echo=False)
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--no-input", wheel], echo=False, timeout=900)
    return Installed(wheel, sdist, venv, tmp_path_factory.mktemp("elsewhere"))


def shipped(directory: str) -> set[str]:
    """The checkout's files under ``directory``, relative to the checkout."""
    root = ROOT / directory
    files = (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {p.relative_to(ROOT).as_posix() for p in files}


def test_the_sdist_and_the_wheel_carry_the_data(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(installed.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert top == installed.sdist.name[: -len(".tar.gz")]
    for directory in resources.DATA_DIRS:
        files = shipped(directory)
        assert files, directory
        assert files <= in_sdist, files - in_sdist
        assert {f"{DATA}/{name}" for name in files} <= in_wheel


def test_installed_as_a_wheel_not_from_the_checkout(installed: Installed) -> None:
    python = installed.venv / "bin" / "python"
    code = (
        "import builder, importlib.metadata as m; print(builder.__file__); "
        "print(m.distribution('tflite-edge-builder').read_text('direct_url.json'))"
    )
    proc = cli("-c", code, cwd=installed.work, program=[python])
    location, direct_url = proc.stdout.split("\n", 1)
    assert Path(location).is_relative_to(installed.venv), location
    origin = json.loads(direct_url)
    assert "archive_info" in origin and "dir_info" not in origin  # a wheel file, not editable
    assert origin["url"].endswith(installed.wheel.name)


def test_help_and_stack_help(installed: Installed) -> None:
    code, out, _ = installed.tool("--help")
    assert code == 0
    assert out.startswith("usage: tflite-edge-builder ")
    for command in ("stack", "verify", "slim", "build", "publish", "index"):
        assert f"    {command} " in out, command
    code, out, _ = installed.tool("stack", "--help")
    assert code == 0
    assert out.startswith("usage: tflite-edge-builder stack ")
    assert "--numpy-from {auto,source,pypi}" in out


def test_dry_run_plan_names_the_packaged_patches(installed: Installed) -> None:
    args = ("build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "win32")
    code, _, err = installed.tool(*args, "--dry-run")
    assert code == 0, err
    # "      builder/_data/patches/tflite-runtime/2.16.1/0001-....patch -> tensorflow/lite/..."
    patch_lines = [line.split() for line in err.splitlines() if ".patch -> " in line]
    planned = [words[0] for words in patch_lines]
    assert planned == sorted(f"{DATA}/{name}" for name in shipped(PATCHES_2_16_1))
    site = Environment(installed.venv).site_packages
    assert all((site / name).is_file() for name in planned)
    assert f"Output wheel: tflite_runtime-2.16.1-{CP}-{CP}-win32.whl" in err


@pytest.mark.skipif(not TFLITE_DEFAULT, reason="needs tflite-runtime 2.14 as default")
def test_verify_numpy_with_the_packaged_smoke_models(
    installed: Installed, stock_numpy: Path
) -> None:
    report = installed.work / "verify.json"
    code, _, err = installed.tool("verify", stock_numpy, "--report", report)
    assert code == 0, err
    assert f"{TFLITE_RUNTIME} + {stock_numpy.name}" in err  # the table's title
    rows = {line.split()[1]: line.split()[3] for line in err.splitlines() if line.startswith("│")}
    assert {name: rows.get(name) for name in SMOKE_MODELS} == dict.fromkeys(SMOKE_MODELS, "pass")
    assert f"all passed: {len(SMOKE_MODELS)} of {len(SMOKE_MODELS)} models passed" in err
    result = json.loads(report.read_text())
    assert result["installed"]["numpy"] == NUMPY_VERSION
    assert {m["model"] for m in result["models"]} == SMOKE_MODELS
