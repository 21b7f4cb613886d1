"""``python -m builder slim numpy --from-pypi`` end to end: PyPI's numpy 1.26.4, tflite-runtime
2.14.0, real venvs.

One slim run (module fixture) is shared by the checks on its wheel and report; a second run
proves the output byte-identical. All slow and network; skipped where tflite-runtime 2.14 is not
the default runtime (CPython >= 3.12), because the expectations below are numpy 1.26.4's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    NUMPY_VERSION,
    ROOT,
    SMOKE_DIR,
    TFLITE_DEFAULT,
    assert_one_line_error,
    bump_operator_version,
    cli,
    default_sigint,
)

from builder.cache import atomic_copy, cache_dir, scratch_dir
from builder.environments import create_environment
from builder.runner import run
from builder.smoke import PASS, check_run, expected_outputs, load_models, run_models
from builder.wheelfile import Wheel

pytestmark = [
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.skipif(not TFLITE_DEFAULT, reason="needs tflite-runtime 2.14 as default"),
]
SLIM_NAME = f"numpy-{NUMPY_VERSION}+slim-"


@dataclass(frozen=True)
class SlimRun:
    proc: subprocess.CompletedProcess[str]
    out: Path
    report: dict

    @property
    def wheel(self) -> Path:
        [wheel] = self.out.iterdir()
        return wheel


def slim_cli(workdir: Path, *args: str | Path) -> SlimRun:
    workdir.mkdir(parents=True, exist_ok=True)
    out, report = workdir / "out", workdir / "report.json"
    proc = cli("slim", "numpy", "--out", out, "--report", report, *args, cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SlimRun(proc, out, json.loads(report.read_text()))


@pytest.fixture(scope="module")
def slimmed(tmp_path_factory: pytest.TempPathFactory) -> SlimRun:
    """``python -m builder slim numpy --from-pypi``: the default numpy release for the default
    runtime, PyPI's wheel downloaded through the cache (the plain command builds numpy from
    source where a compiler exists; that path has its own tests)."""
    return slim_cli(tmp_path_factory.mktemp("slim-first"), "--from-pypi")


@pytest.fixture(scope="module")
def foreign_numpy() -> Path:
    """PyPI's numpy 1.26.4 for Windows (cached): a wheel this host cannot verify."""
    target = (
        cache_dir("test-wheels", "foreign") / f"numpy-{NUMPY_VERSION}-cp311-cp311-win_amd64.whl"
    )
    if not target.exists():
        with scratch_dir("foreign") as tmp:
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
            args = ["--platform", "win_amd64", "--python-version", "3.11", "-d", tmp]
            run([*pip, *args, f"numpy==={NUMPY_VERSION}"], echo=False)
            atomic_copy(tmp / target.name, target)
    return target


def test_writes_a_verified_slim_wheel(slimmed: SlimRun, stock_numpy: Path) -> None:
    wheel = slimmed.wheel
    assert wheel.name.startswith(SLIM_NAME)
    # Tags kept: same suffix as the stock wheel's file name.
    assert wheel.name[len(SLIM_NAME) :] == stock_numpy.name[len(f"numpy-{NUMPY_VERSION}-") :]
    slim = Wheel.open(wheel)  # valid RECORD, METADATA Version consistent with the name
    assert str(slim.version) == f"{NUMPY_VERSION}+slim"
    assert slim.dist_info == f"numpy-{NUMPY_VERSION}+slim.dist-info"
    assert wheel.stat().st_size < stock_numpy.stat().st_size
    names = set(slim.names())
    assert "numpy/core/multiarray.py" in names
    assert not any("/tests/" in n for n in names)
    # numpy.random is gone but for its licence (licence files travel with every copy).
    assert [n for n in names if n.startswith("numpy/random/")] == ["numpy/random/LICENSE.md"]
    assert any(n.startswith("numpy.libs/libopenblas") for n in names)  # the BLAS stays
    assert "rich" not in slimmed.proc.stdout  # the terminal output goes to stderr
    assert "wrote" in slimmed.proc.stderr and wheel.name in slimmed.proc.stderr


def test_report(slimmed: SlimRun, stock_numpy: Path) -> None:
    report, wheel = slimmed.report, slimmed.wheel
    assert report["input"] == str(stock_numpy)
    assert Path(report["output"]) == wheel
    assert report["runtime"] == "tflite-runtime==2.14.0"
    assert report["wheel_bytes"] == {
        "before": stock_numpy.stat().st_size,
        "after": wheel.stat().st_size,
    }
    installed = report["installed_bytes"]
    assert installed["after"] == Wheel.open(wheel).installed_size() < installed["before"]
    assert installed["before"] == Wheel.open(stock_numpy).installed_size()
    removed = report["removed_units"]
    # random/ goes as one unit once the recipe's edits make it lazy; tests/ etc. by the drop list
    assert "numpy/random/" in removed and "(recipe drop list)" in removed
    assert all(u["bytes"] > 0 and u["members"] >= 1 for u in removed.values())
    oracle = report["oracle"]
    assert oracle["runs"] + oracle["cache_hits"] >= 1
    assert oracle["runs"] == len(oracle["log"])
    assert report["seconds"] > 0
    assert report["traced_members"] == len(report["traced"]) > 0
    assert any("_multiarray_umath" in name for name in report["traced"])
    verification = report["verification"]
    assert verification["ok"] is True
    assert verification["installed"]["numpy"] == f"{NUMPY_VERSION}+slim"
    models = {m["model"]: m for m in verification["models"]}
    assert set(models) == {m.name for m in load_models()}
    assert all(m["status"] == PASS and m["identical"] is True for m in models.values())
    assert "final verification" in slimmed.proc.stderr
    # published wheels are zopfli-compressed; kept .py files lost their docstrings and comments
    assert report["compression"] == "zopfli"
    docstrings = report["docstrings"]
    assert docstrings["stripped"] > 20 and docstrings["kept"] == {}
    assert docstrings["bytes"]["after"] < docstrings["bytes"]["before"] / 2


def test_second_run_is_byte_identical(slimmed: SlimRun, tmp_path: Path) -> None:
    again = slim_cli(tmp_path, "--from-pypi")
    assert again.wheel.name == slimmed.wheel.name
    assert again.wheel.read_bytes() == slimmed.wheel.read_bytes()


def test_installs_as_numpy_1_26_4_beside_tflite_runtime(
    slimmed: SlimRun, stock_numpy: Path, runtime_wheel: Path, tmp_path: Path
) -> None:
    models = load_models()
    slim_env = create_environment(tmp_path / "slim")
    # `numpy==1.26.4` must still select the +slim wheel (a local label matches its release).
    offline = ["--no-index", "--find-links", slimmed.out]
    slim_env.pip("install", *offline, f"numpy=={NUMPY_VERSION}", runtime_wheel)
    assert slim_env.installed()["numpy"] == f"{NUMPY_VERSION}+slim"
    stock_env = create_environment(tmp_path / "stock")
    stock_env.install([str(stock_numpy), str(runtime_wheel)], no_index=True)
    slim_runs = run_models(slim_env.python, models)
    stock_runs = run_models(stock_env.python, models)
    for model in models:
        judged = check_run(model, slim_runs[model.name], expected_outputs(model))
        assert judged.ok, judged
        assert slim_runs[model.name].outputs == stock_runs[model.name].outputs, model.name


def test_foreign_platform_wheel_is_refused(foreign_numpy: Path, tmp_path: Path) -> None:
    before = foreign_numpy.read_bytes()
    out = tmp_path / "out"
    proc = cli("slim", "numpy", "--wheel", foreign_numpy, "--out", out, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert proc.stderr.strip() == line
    assert "win_amd64" in line and "cannot be verified here" in line
    assert not out.exists()
    assert foreign_numpy.read_bytes() == before


def test_models_failing_on_the_stock_wheel_stop_before_the_search(
    stock_numpy: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    broken = bump_operator_version((SMOKE_DIR / "cnn_int8.tflite").read_bytes())
    (models / "broken.tflite").write_bytes(broken)
    out = tmp_path / "out"
    proc = cli(
        "slim", "numpy", "--wheel", stock_numpy, "--models", models, "--out", out, cwd=tmp_path
    )
    line = assert_one_line_error(proc)
    assert f"model broken fails with the stock {stock_numpy.name}" in line
    assert "version '99'" in line
    assert "search:" not in proc.stderr and "tracing" not in proc.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_ctrl_c_leaves_nothing(stock_numpy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "builder", "slim", "numpy", "--wheel", stock_numpy, "--out", out]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        preexec_fn=default_sigint,  # Ctrl-C reaches it even when the suite runs in the background
    )
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        lines.append(line)
        if "baseline" in line or time.monotonic() > deadline:
            break
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    code = proc.wait(60)
    output = "".join(lines) + rest
    assert code == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert not out.exists() or list(out.iterdir()) == []
