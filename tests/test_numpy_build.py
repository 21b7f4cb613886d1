"""Lean numpy from source: planning and fallbacks (fast), and ONE real build of numpy 1.26.4 with
the ``size`` profile (slow, network), cached under ~/.cache so every later run reuses it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NUMPY_VERSION, TFLITE_RUNTIME
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from builder.__main__ import main
from builder.dependencies import glibc_floor
from builder.elf import needed_libraries
from builder.environments import create_environment
from builder.errors import BuildError, RecipeError
from builder.glibc import newest_glibc
from builder.index.sdist import Sdist
from builder.numpy_build import (
    BuiltNumpy,
    build_numpy,
    cache_key,
    choose_source,
    compiler_identity,
    plan_for,
    without_build_noise,
    work_root,
)
from builder.pypi import download_wheel
from builder.resources import RECIPES_ENV, recipes_dir
from builder.runner import run
from builder.slim import SlimOptions, slim_wheel
from builder.slim_recipe import load_slim_recipe
from builder.strip import is_elf
from builder.verify import verify_wheels
from builder.wheelfile import Wheel
from builder.zig import zig_executable


def fake_sdist(sha: str = "a" * 64) -> Sdist:
    return Sdist("numpy", Version(NUMPY_VERSION), Path(f"numpy-{NUMPY_VERSION}.tar.gz"), sha)


# -- fast -----------------------------------------------------------------------------------------


def test_cache_key_covers_sdist_options_and_compiler() -> None:
    size, speed = plan_for(NUMPY_VERSION, "size"), plan_for(NUMPY_VERSION, "speed")
    key = cache_key(size, fake_sdist(), "gcc 12")
    assert key == cache_key(plan_for(NUMPY_VERSION, None), fake_sdist(), "gcc 12")
    others = {
        cache_key(speed, fake_sdist(), "gcc 12"),
        cache_key(size, fake_sdist("b" * 64), "gcc 12"),
        cache_key(size, fake_sdist(), "gcc 13"),
    }
    assert key not in others and len(others) == 3


@pytest.mark.parametrize(
    ("version", "profile", "message"),
    [
        (NUMPY_VERSION, "tiny", "no build profile 'tiny'"),
        ("1.20.0", None, "range matches numpy 1.20.0"),
    ],
)
def test_bad_requests_fail_before_any_download(
    version: str, profile: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    with pytest.raises(RecipeError, match=re.escape(message)):
        build_numpy(version, profile)


def test_slim_takes_the_lean_path_where_a_compiler_exists() -> None:
    choice = choose_source(NUMPY_VERSION)
    assert choice.from_source, choice.reason
    assert "compiler is available" in choice.reason


def test_slim_falls_back_to_pypi_without_a_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "no-such-cc-1f3e")
    choice = choose_source(NUMPY_VERSION)
    assert not choice.from_source
    assert choice.reason.startswith("no C/C++ compiler found")
    with pytest.raises(BuildError, match=re.escape("no C/C++ compiler found")):
        compiler_identity()


def test_slim_falls_back_to_pypi_for_versions_the_recipe_lacks() -> None:
    choice = choose_source("1.20.0")
    assert not choice.from_source
    assert "no [[build.numpy]] range matches numpy 1.20.0" in choice.reason


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["numpy", "--wheel", "x.whl", "--from-source"], "--wheel excludes --from-source"),
        (["tflite-runtime", "--from-source"], "build numpy only, not tflite-runtime"),
        (["numpy", "--from-pypi", "--profile", "speed"], "cannot go with --from-pypi"),
        (["numpy", "--profile", "fastest"], "no build profile 'fastest'"),
        (["numpy", "--version", "1.20.0", "--profile", "size"], "needs a source build"),
    ],
)
def test_slim_origin_options_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["slim", *argv]) == 2
    assert message in capsys.readouterr().err


# -- one real build (slow, network) --------------------------------------------------------------


@pytest.fixture(scope="module")
def lean() -> BuiltNumpy:
    return build_numpy(NUMPY_VERSION)


@pytest.mark.slow
@pytest.mark.network
def test_lean_build_has_no_blas_and_a_true_manylinux_tag(lean: BuiltNumpy) -> None:
    wheel = Wheel.open(lean.path)
    names = wheel.names()
    assert not [n for n in names if n.startswith("numpy.libs/")]
    needed = {lib for n in names if is_elf(data := wheel.read(n)) for lib in needed_libraries(data)}
    assert needed, "no extension module read"
    assert not [lib for lib in needed if re.match(r"lib(openblas|gfortran|quadmath)", lib)]
    assert needed <= {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"}
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", lean.platform_tag)
    shown = run([sys.executable, "-m", "auditwheel", "show", lean.path], echo=False).output
    assert f'the following platform tag: "{lean.platform_tag}"' in " ".join(shown.split())
    assert parse_wheel_filename(lean.path.name)[1] == Version(NUMPY_VERSION)
    assert lean.stripped and all(after < before for before, after in lean.stripped.values())


@pytest.mark.slow
@pytest.mark.network
def test_second_build_comes_from_the_cache(lean: BuiltNumpy) -> None:
    started = time.monotonic()
    again = build_numpy(NUMPY_VERSION, "size")
    assert again.cached and again.path == lean.path and again.key == lean.key
    assert time.monotonic() - started < 60  # sdist listing and hash check, no compiler run


@pytest.mark.slow
@pytest.mark.network
def test_build_command_writes_a_labelled_wheel(lean: BuiltNumpy, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    argv = ["build", "numpy", "--version", NUMPY_VERSION, "--out", str(tmp_path)]
    assert main([*argv, "--report", str(report)]) == 0
    labelled = f"numpy-{NUMPY_VERSION}+lean-"
    out = tmp_path / lean.path.name.replace(f"numpy-{NUMPY_VERSION}-", labelled)
    assert Wheel.open(out).version == Version(f"{NUMPY_VERSION}+lean")
    data = json.loads(report.read_text())
    assert data["cached"] is True and data["output"] == str(out)
    assert data["platform_tag"] == lean.platform_tag
    assert "setup-args=-Dblas=none" in data["config_settings"]


@pytest.mark.slow
@pytest.mark.network
def test_lean_build_runs_the_smoke_models_under_tflite_runtime_2_14(lean: BuiltNumpy) -> None:
    stock = download_wheel(f"numpy=={NUMPY_VERSION}")
    result = verify_wheels([lean.path], TFLITE_RUNTIME, reference_wheels=[stock])
    assert result.ok, [r.to_dict() for r in result.results if not r.ok]
    assert result.installed["numpy"] == NUMPY_VERSION
    assert all(r.identical is not False for r in result.results)


@pytest.mark.slow
@pytest.mark.network
def test_public_api_works_after_the_slim_recipe_edits(lean: BuiltNumpy, tmp_path: Path) -> None:
    """The recipe's edits (lazy imports, no docstring modules) keep the public API working."""
    wheel = Wheel.open(lean.path)
    for edit in load_slim_recipe("numpy", Version(NUMPY_VERSION)).edits:
        text = wheel.read(edit.file).decode()
        wheel.replace(edit.file, edit.apply(text, wheel.filename).encode())
    wheel.set_local_version("edited")
    env = create_environment(tmp_path / "env")
    env.install([str(wheel.write(tmp_path / "out"))])
    script = (
        "import sys, numpy as np\n"
        "lazy = 'numpy.linalg' not in sys.modules and 'numpy.random' not in sys.modules\n"
        "inv = np.linalg.inv(np.array([[4.0, 7.0], [2.0, 6.0]]))\n"
        "rng = np.random.default_rng(0).integers(0, 100, 3)\n"
        "fft = np.fft.fft(np.array([1.0, 0.0, 0.0, 0.0]))\n"
        "masked = int(np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]).sum())\n"
        "print(lazy, inv.round(2).tolist(), len(rng), fft.real.tolist(), masked)\n"
    )
    output = subprocess.run(
        [str(env.python), "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")[0]
    assert output == "True [[0.6, -0.7], [-0.2, 0.4]] 3 [1.0, 1.0, 1.0, 1.0] 4"


@pytest.fixture(scope="module")
def lean_glibc_2_28() -> BuiltNumpy:
    try:
        zig_executable()
    except BuildError:
        pytest.skip("needs the ziglang package (the [zig] extra)")
    return build_numpy(NUMPY_VERSION, glibc="2.28")


@pytest.mark.slow
@pytest.mark.network
def test_a_glibc_2_28_build_promises_2_28_and_runs_the_smoke_models(
    lean_glibc_2_28: BuiltNumpy,
) -> None:
    built = lean_glibc_2_28
    floor = glibc_floor(built.platform_tag)
    assert floor is not None and floor[0] <= (2, 28), built.platform_tag
    assert built.glibc == "2.28" and built.compiler.startswith("zig ")
    wheel = Wheel.open(built.path)
    elf = {n: data for n in wheel.names() if is_elf(data := wheel.read(n))}
    newest, by = newest_glibc(elf)
    assert newest is not None and newest <= (2, 28), (newest, by)
    # zig's libc++ is linked in statically: nothing needs the target's libstdc++
    needed = {lib for data in elf.values() for lib in needed_libraries(data)}
    assert needed <= {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0"}, needed
    shown = run([sys.executable, "-m", "auditwheel", "show", built.path], echo=False).output
    assert f'the following platform tag: "{built.platform_tag}"' in " ".join(shown.split())
    stock = download_wheel(f"numpy=={NUMPY_VERSION}")
    result = verify_wheels([built.path], TFLITE_RUNTIME, reference_wheels=[stock])
    assert result.ok and all(r.identical is not False for r in result.results)


@pytest.mark.slow
@pytest.mark.network
def test_docstrings_are_blanked_except_where_code_reads_them(
    lean: BuiltNumpy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe edit makes numpy/_globals.py read its own docstring at import: the slimmer
    strips every other kept file, keeps that one as it was and says so."""
    recipes = tmp_path / "recipes"
    shutil.copytree(recipes_dir(), recipes)
    reads_its_doc = (
        '\n[[slim.edit]]\nversions = ">=1.25,<2"\nfile = "numpy/_globals.py"\n'
        'why = "test: code that reads a docstring"\nold = "\\nimport enum\\n"\n'
        "new = \"\\nimport enum\\nif not __doc__.strip():\\n    raise ImportError('no doc')\\n\"\n"
    )
    with open(recipes / "numpy.toml", "a", encoding="utf-8") as handle:
        handle.write(reads_its_doc)
    monkeypatch.setenv(RECIPES_ENV, str(recipes))
    result = slim_wheel(lean.path, SlimOptions(out_dir=tmp_path / "out", label="lean.slim"))
    assert result.output is not None and result.docstrings is not None
    assert "numpy/_globals.py" in result.docstrings.kept
    assert len(result.docstrings.stripped) > 20
    slim = Wheel.open(result.output)
    assert "Module defining global singleton classes" in slim.read_text("numpy/_globals.py")
    multiarray = slim.read_text("numpy/core/multiarray.py")
    assert '"""' not in multiarray.split("import functools")[0]  # module docstring blank
    assert "Parameters\n    ----------" not in multiarray
    assert result.verification is not None
    assert all(r.identical for r in result.verification.results)


@pytest.mark.slow
@pytest.mark.network
def test_slim_from_source_is_smaller_than_slim_from_pypi(lean: BuiltNumpy, tmp_path: Path) -> None:
    sizes, labels = {}, {}
    for origin in ("--from-source", "--from-pypi"):
        out, report = tmp_path / origin, tmp_path / f"{origin}.json"
        argv = ["slim", "numpy", origin, "--version", NUMPY_VERSION, "--out", str(out)]
        assert main([*argv, "--report", str(report)]) == 0
        data = json.loads(report.read_text())
        assert data["origin"]["from_source"] is (origin == "--from-source")
        assert data["verification"]["ok"] and len(data["verification"]["models"]) == 6
        [wheel] = out.glob("*.whl")
        sizes[origin] = wheel.stat().st_size
        labels[origin] = Wheel.open(wheel).version.local
    assert sizes["--from-source"] < sizes["--from-pypi"], sizes
    # Like `stack`, the name says how the wheel was made.
    assert labels == {"--from-source": "lean.slim", "--from-pypi": "slim"}


def test_builds_run_in_the_same_place_whatever_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cython bakes the build path into extensions: it must not depend on the cache location."""
    roots = []
    for cache in ("a", "b"):
        monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / cache))
        roots.append(work_root())
    assert roots[0] == roots[1]
    assert tmp_path not in roots[0].parents


def test_a_planted_symlink_as_build_root_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else's link in the shared temporary directory must not receive our build."""
    shared, elsewhere = tmp_path / "tmp", tmp_path / "elsewhere"
    shared.mkdir()
    elsewhere.mkdir()
    (shared / "tflite-edge-builder-numpy-build").symlink_to(elsewhere)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(shared))
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    assert work_root() == tmp_path / "cache" / "numpy-builds" / "work"


def test_build_noise_in_numpy_config_is_made_fixed() -> None:
    """The two lines in which two real builds of the same inputs differed (1.26.4, measured)."""
    first = '"name": "dep139706427439248",\n"path": r"/tmp/build-env-t1lpi_k9/bin/python",\n'
    second = '"name": "dep140074949590224",\n"path": r"/tmp/build-env-u9uvyj87/bin/python",\n'
    fixed = '"name": "dep",\n"path": r"<build-env>/bin/python",\n'
    assert without_build_noise(first) == without_build_noise(second) == fixed
    windows = r'"path": r"C:\Users\ci\AppData\Local\Temp\build-env-a1_b2\Scripts\python.exe"'
    assert without_build_noise(windows) == r'"path": r"<build-env>\Scripts\python.exe"'
