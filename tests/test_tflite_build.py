"""``build tflite-runtime``: plans line by line, refusals, and a real build of a fake tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fake_tensorflow import make_tree
from packaging.utils import parse_wheel_filename

from builder.__main__ import main
from builder.platforms import host_description
from builder.recipes import project_root
from builder.tflite_build import BuildRequest, default_python, make_plan, render_plan
from builder.wheelfile import Wheel

SCRIPT = "tensorflow/lite/tools/pip_package/build_pip_package_with_cmake.sh"
URL = "https://github.com/tensorflow/tensorflow/archive/refs/tags/v{v}.tar.gz"
REQUIRES = "'numpy>=2.0' 'pybind11>=2.12' 'setuptools>=68' wheel"
SHA_2161 = "c729e56efc945c6df08efe5c9f5b8b89329c7c91b8f40ad2bb3e13900bd4876d"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A private cache and a private copy of the recipes (so the lock file is the test's own)."""
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    shutil.copy(project_root() / "recipes" / "tflite-runtime.toml", recipes)
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(recipes))
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(cache))
    return {"recipes": recipes, "cache": cache, "out": tmp_path / "out"}


def _plan(env: dict[str, Path], **kwargs: object) -> list[str]:
    fields = {"python": "3.12", "out": env["out"], "dry_run": True, "jobs": 2, **kwargs}
    return render_plan(make_plan(BuildRequest(**fields)))  # type: ignore[arg-type]


def _patch_lines(version: str, names: list[str]) -> list[str]:
    cmake = "tensorflow/lite/CMakeLists.txt"
    return [
        f"      patches/tflite-runtime/{version}/{n} -> {cmake if 'pyd' in n else SCRIPT}"
        for n in names
    ]


PATCHES_2161 = [
    "0001-git-version-from-recipe.patch",
    "0002-default-build-jobs.patch",
    "0003-cmake-generator-platform.patch",
    "0004-cmake-initial-cache.patch",
    "0005-release-config.patch",
    "0006-pyd-suffix.patch",
]


def test_win32_plan_line_by_line(env: dict[str, Path]) -> None:
    cache, work = env["cache"], env["cache"] / "tflite-runtime/work/2.16.1-win32-py3.12"
    tree = work / "tensorflow-2.16.1"
    wheel = "tflite_runtime-2.16.1-cp312-cp312-win32.whl"
    host = f"{host_description()}, CPython {default_python()}"
    expected = [
        "tflite-runtime 2.16.1 for win32, CPython 3.12 (dry run: nothing was executed)",
        " 1. Get the TensorFlow 2.16.1 source",
        f"      download {URL.format(v='2.16.1')} -> "
        f"{cache}/tflite-runtime/downloads/tensorflow-2.16.1.tar.gz",
        f"      sha256: {SHA_2161} (sha256 pinned in recipes/tflite-runtime.toml)",
        f"      extract tensorflow-2.16.1/ to {tree}",
        " 2. Apply 6 patches (exact: no fuzz, all or nothing)",
        *_patch_lines("2.16.1", PATCHES_2161),
        " 3. Check the upstream lines and local sources the build relies on",
        f"      {SCRIPT} exists",
        '      tensorflow/lite/CMakeLists.txt has: string(REPLACE "/O2" "/O1" ${CompFlag} '
        '"${${CompFlag}}")',
        " 4. Create the CPython 3.12 build environment",
        f"      $ py -3.12-32 -m venv {work}/venv",
        f"      $ {work}/venv/Scripts/python -m pip install {REQUIRES}",
        f" 5. Write the CMake initial cache {work}/initial-cache.cmake",
        '      set(CMAKE_SHARED_LINKER_FLAGS "/LIBPATH:<base_prefix of the build Python>/libs" '
        'CACHE STRING "")',
        "      dependencies: fetched by CMake at configure time (network needed; --deps-dir "
        "makes the build offline)",
        " 6. Run the official script",
        "      the patched script configures CMake (host tools, then the module) with: "
        f"-A Win32 -C {work}/initial-cache.cmake",
        "      and builds with: cmake --build . -j 2 --config Release "
        "-t _pywrap_tensorflow_interpreter_wrapper",
        "      Visual Studio generators are multi-config: --config Release builds Release (not "
        "Debug), the module is taken from cmake_build/Release/ and is named .pyd",
        "      nothing to strip: MSVC Release links without /DEBUG, so the .pyd carries no debug "
        "info",
        f"      produces {wheel}",
        "      env CI_BUILD_PYTHON=python",
        f"      env PATH={work}/venv/Scripts:$PATH",
        "      env BUILD_NUM_JOBS=2",
        "      env WHEEL_PLATFORM_NAME=win32",
        "      env TFLITE_GIT_VERSION=v2.16.1",
        "      env TFLITE_CMAKE_BUILD_CONFIG=Release",
        "      env TFLITE_CMAKE_GENERATOR_PLATFORM=Win32",
        f"      env TFLITE_CMAKE_INITIAL_CACHE={work}/initial-cache.cmake",
        f"      $ bash {SCRIPT} windows   (in {tree})",
        " 7. Verify the wheel with builder.verify",
        f"      [not run] this host ({host}) cannot install a cp312-cp312-win32 wheel",
        " 8. Collect the wheel",
        f"      copy {wheel} to {env['out']}/",
        "      check tags: cp312-cp312-win32",
        f"Output wheel: {wheel}",
    ]
    assert _plan(env, tf_version="2.16.1", platform="win32") == expected
    assert not env["cache"].exists(), "a dry run touches nothing"


def test_x64_windows_plan_differs_from_32_bit_only_where_it_must(env: dict[str, Path]) -> None:
    win32 = _plan(env, tf_version="2.16.1", platform="win32")
    amd64 = _plan(env, tf_version="2.16.1", platform="win_amd64")
    renamed = [
        line.replace("win_amd64", "win32")
        .replace("py -3.12-64", "py -3.12-32")
        .replace("=win-amd64", "=win32")
        .replace("PLATFORM=x64", "PLATFORM=Win32")
        .replace("-A x64 ", "-A Win32 ")
        for line in amd64
    ]
    # Everything else is identical, except the Win32-only check of upstream's /O2 -> /O1 switch.
    assert renamed == [line for line in win32 if '"/O2" "/O1"' not in line]
    assert "      env TFLITE_CMAKE_GENERATOR_PLATFORM=x64" in amd64
    assert any(
        line.endswith(
            f"with: -A x64 -C {env['cache']}/tflite-runtime/work/"
            "2.16.1-win_amd64-py3.12/initial-cache.cmake"
        )
        for line in amd64
    )
    assert amd64[-1] == "Output wheel: tflite_runtime-2.16.1-cp312-cp312-win_amd64.whl"


def test_linux_plan_for_the_newest_version(env: dict[str, Path]) -> None:
    python = default_python()
    tag = "cp" + python.replace(".", "")
    work = env["cache"] / f"tflite-runtime/work/2.20.0-linux_x86_64-py{python}"
    tree = work / "tensorflow-2.20.0"
    built = f"tflite_runtime-2.20.0-{tag}-{tag}-linux_x86_64.whl"
    wheel = f"tflite_runtime-2.20.0-{tag}-{tag}-manylinux_2_28_x86_64.whl"
    dist = tree / "tensorflow/lite/tools/pip_package/gen/tflite_pip/python/dist"
    lines = _plan(env, tf_version="2.20.0", platform="linux_x86_64", python=python)
    start = lines.index(" 2. Apply 5 patches (exact: no fuzz, all or nothing)")
    assert lines[start + 1 : start + 6] == _patch_lines(
        "2.20.0", [p for p in PATCHES_2161 if "default-build-jobs" not in p]
    )
    tail = lines[lines.index(f" 4. Create the CPython {python} build environment") :]
    assert tail == [
        f" 4. Create the CPython {python} build environment",
        f"      $ {sys.executable} -m venv {work}/venv",  # the running CPython is the target
        f"      $ {work}/venv/bin/python -m pip install {REQUIRES}",
        f" 5. Write the CMake initial cache {work}/initial-cache.cmake",
        '      set(CMAKE_SHARED_LINKER_FLAGS "-s" CACHE STRING "")',
        "      dependencies: fetched by CMake at configure time (network needed; --deps-dir "
        "makes the build offline)",
        " 6. Run the official script",
        "      the patched script configures CMake (host tools, then the module) with: "
        f"-C {work}/initial-cache.cmake",
        "      and builds with: cmake --build . -j 2 --config Release "
        "-t _pywrap_tensorflow_interpreter_wrapper",
        "      Makefiles are single-config: --config Release changes nothing; TFLite's CMakeLists "
        "defaults CMAKE_BUILD_TYPE to Release",
        "      stripped at link time (-s in CMAKE_SHARED_LINKER_FLAGS)",
        f"      produces {built}",
        "      env CI_BUILD_PYTHON=python",
        f"      env PATH={work}/venv/bin:$PATH",
        "      env BUILD_NUM_JOBS=2",
        "      env WHEEL_PLATFORM_NAME=linux-x86_64",
        "      env TFLITE_GIT_VERSION=v2.20.0",
        "      env TFLITE_CMAKE_BUILD_CONFIG=Release",
        f"      env TFLITE_CMAKE_INITIAL_CACHE={work}/initial-cache.cmake",
        f"      $ bash {SCRIPT} linux_x86_64   (in {tree})",
        " 7. Repair to manylinux_2_28_x86_64 with auditwheel",
        f"      $ auditwheel repair --plat manylinux_2_28_x86_64 -w {work}/repaired {dist}/{built}",
        " 8. Verify the wheel with builder.verify",
        " 9. Collect the wheel",
        f"      copy {wheel} to {env['out']}/",
        f"      check tags: {tag}-{tag}-manylinux_2_28_x86_64",
        f"Output wheel: {wheel}",
    ]


def test_deps_dir_plan_lists_every_dependency_source(env: dict[str, Path], tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    deps.mkdir()
    lines = _plan(env, tf_version="2.16.1", platform="linux_x86_64", deps_dir=deps)
    assert '      set(FETCHCONTENT_FULLY_DISCONNECTED "ON" CACHE BOOL "")' in lines
    assert (
        f'      set(FETCHCONTENT_SOURCE_DIR_ABSEIL-CPP "{deps}/abseil-cpp" CACHE PATH "")' in lines
    )
    assert f"      dependency xnnpack: {deps}/xnnpack (FETCHCONTENT_SOURCE_DIR_XNNPACK)" in lines
    assert f"      dependency pthreadpool: {deps}/pthreadpool (PTHREADPOOL_SOURCE_DIR)" in lines
    assert f"      {deps}/gemmlowp exists" in lines  # checked before anything is built
    assert not any("network needed" in line for line in lines)


def test_dry_run_cli_writes_a_report(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    report = env["out"].parent / "plan.json"
    argv = ["build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "win32"]
    assert main([*argv, "--python", "3.12", "--dry-run", "--report", str(report)]) == 0
    assert "Output wheel: tflite_runtime-2.16.1-cp312-cp312-win32.whl" in capsys.readouterr().err
    data = json.loads(report.read_text())
    assert data["dry_run"] is True
    assert data["wheel"] == "tflite_runtime-2.16.1-cp312-cp312-win32.whl"
    script = next(s for s in data["steps"] if s["key"] == "script")
    assert script["status"] == "planned"
    assert script["env"]["TFLITE_CMAKE_GENERATOR_PLATFORM"] == "Win32"
    assert not env["out"].exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--tf-version", "2.99.0", "--platform", "linux_x86_64"],
            "unsupported TensorFlow version",
        ),
        (["--tf-version", "2.16.1", "--platform", "win32"], "win32 wheels need MSVC on Windows"),
        (["--tf-version", "2.16.1", "--platform", "linux_x86_64", "--python", "3"], "--python"),
        (
            ["--tf-version", "2.16.1", "--platform", "linux_x86_64", "--source", "/nonexistent"],
            "--source /nonexistent: no such directory",
        ),
    ],
)
def test_refusals_are_one_line_errors(
    env: dict[str, Path], capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    if "win32" in extra and sys.platform == "win32":
        pytest.skip("this refusal is for non-Windows hosts")
    assert main(["build", "tflite-runtime", *extra, "--out", str(env["out"])]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not env["out"].exists()


def test_missing_local_dependency_stops_before_the_build(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.16.1")
    deps = tmp_path / "deps"
    deps.mkdir()
    argv = ["build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "linux_x86_64"]
    report = tmp_path / "report.json"
    rc = main([*argv, "--source", str(tree), "--deps-dir", str(deps), "--report", str(report)])
    assert rc == 2
    assert "--deps-dir lacks 15 dependencies, first: " in capsys.readouterr().err
    statuses = {s["key"]: s["status"] for s in json.loads(report.read_text())["steps"]}
    assert statuses == {
        "source": "executed",
        "patch": "executed",
        "check": "failed",
        "venv": "not run",
        "cache": "not run",
        "script": "not run",
        "repair": "not run",
        "collect": "not run",
        "verify": "not run",
    }


@pytest.mark.slow
@pytest.mark.network
def test_fake_tree_builds_a_wheel_that_installs(env: dict[str, Path], tmp_path: Path) -> None:
    """The patched script, CMake, setup.py and collection, for real, on a miniature TF tree."""
    if not sys.platform.startswith("linux") or shutil.which("cmake") is None:
        pytest.skip("needs Linux with cmake and a C++ compiler")
    python = default_python()
    tag = "cp" + python.replace(".", "")
    tree = make_tree(tmp_path / "tf", "2.16.1")
    report = tmp_path / "report.json"
    argv = ["build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "linux_x86_64"]
    argv += ["--python", python, "--source", str(tree), "--out", str(env["out"]), "--jobs", "2"]
    assert main([*argv, "--no-verify", "--no-repair", "--report", str(report)]) == 0

    name = f"tflite_runtime-2.16.1-{tag}-{tag}-linux_x86_64.whl"
    assert sorted(p.name for p in env["out"].iterdir()) == [name]
    wheel = Wheel.open(env["out"] / name)
    assert {str(t) for t in parse_wheel_filename(name)[3]} == {f"{tag}-{tag}-linux_x86_64"}
    module = "tflite_runtime/_pywrap_tensorflow_interpreter_wrapper.so"
    assert module in wheel.names()
    with zipfile.ZipFile(wheel.path) as zf:
        assert b".symtab" not in zf.read(module), "the module is stripped"
        assert (
            "Tag: " + f"{tag}-{tag}-linux_x86_64"
            in zf.read("tflite_runtime-2.16.1.dist-info/WHEEL").decode()
        )
    statuses = {s["key"]: s["status"] for s in json.loads(report.read_text())["steps"]}
    assert statuses["script"] == "executed"
    assert statuses["repair"] == statuses["verify"] == "skipped"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet"]
    subprocess.run([*pip, str(wheel.path)], check=True)
    probe = (
        "import tflite_runtime as t, tflite_runtime._pywrap_tensorflow_interpreter_wrapper as w;"
        "print(t.__version__, t.__git_version__, w.answer())"
    )
    out = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["2.16.1", "v2.16.1", "42"]


@pytest.mark.parametrize("platform", ["win32", "win_amd64", "linux_x86_64", "linux_aarch64"])
@pytest.mark.parametrize("version", ["2.16.1", "2.20.0"])
def test_every_version_and_platform_plans_the_official_script(
    env: dict[str, Path], version: str, platform: str
) -> None:
    lines = _plan(env, tf_version=version, platform=platform)
    text = "\n".join(lines)
    patches = sorted(
        p.name for p in (project_root() / "patches/tflite-runtime" / version).iterdir()
    )
    assert _patch_lines(version, patches) == [
        line for line in lines if "/patches/" in f"/{line.strip()}"
    ]
    target = {"win32": "windows", "win_amd64": "windows"}.get(platform, platform)
    assert f"      $ bash {SCRIPT} {target}   (in " in text
    generator = {"win32": "-A Win32 ", "win_amd64": "-A x64 "}.get(platform, "")
    assert f"configures CMake (host tools, then the module) with: {generator}-C " in text
    assert "and builds with: cmake --build . -j 2 --config Release " in text
    assert f"      env TFLITE_GIT_VERSION=v{version}" in lines
    tag = {"linux_x86_64": "manylinux_2_28_x86_64", "linux_aarch64": "manylinux_2_28_aarch64"}
    assert (
        lines[-1]
        == f"Output wheel: tflite_runtime-{version}-cp312-cp312-{tag.get(platform, platform)}.whl"
    )


def test_windows_driver_skips_wsl_bash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CreateProcess would pick System32\\bash.exe (WSL, no MSVC) for a bare "bash"."""
    from builder.platforms import windows

    found = {}
    for where in ("Windows/System32", "Git/usr/bin"):
        directory = tmp_path / where
        directory.mkdir(parents=True)
        found[where] = directory / "bash"
        found[where].write_text("#!/bin/sh\n")
        found[where].chmod(0o755)
    monkeypatch.setenv("SYSTEMROOT", str(tmp_path / "Windows"))
    monkeypatch.setenv("PATH", os.pathsep.join(str(p.parent) for p in found.values()))
    assert windows.find_shell() == str(found["Git/usr/bin"])
    monkeypatch.setenv("PATH", str(found["Windows/System32"].parent))
    assert windows.find_shell() is None


@pytest.mark.slow
@pytest.mark.network
def test_multi_config_generator_gets_platform_and_release_config(
    env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Windows fixes, exercised on Linux: with a multi-config generator (Ninja Multi-Config,
    like Visual Studio) the patched script must build Release, not Debug, and take the module from
    cmake_build/Release/; with TFLITE_CMAKE_GENERATOR_PLATFORM set it must pass -A to both
    configures. A cmake shim logs every call and drops the -A pair, which Ninja cannot take."""
    if not sys.platform.startswith("linux") or not (
        shutil.which("cmake") and shutil.which("ninja")
    ):
        pytest.skip("needs Linux with cmake, ninja and a C++ compiler")
    real_cmake = shutil.which("cmake")
    shims, log = tmp_path / "shims", tmp_path / "cmake.log"
    shims.mkdir()
    shim = shims / "cmake"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> "{log}"\n'
        "args=()\n"
        "while [[ $# -gt 0 ]]; do\n"
        '  if [[ "$1" == "-A" ]]; then shift 2; continue; fi\n'
        '  args+=("$1"); shift\n'
        "done\n"
        f'exec "{real_cmake}" "${{args[@]}}"\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CMAKE_GENERATOR", "Ninja Multi-Config")
    monkeypatch.setenv("TFLITE_CMAKE_GENERATOR_PLATFORM", "Win32")
    python = default_python()
    tree = make_tree(tmp_path / "tf", "2.16.1")
    argv = ["build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "linux_x86_64"]
    argv += ["--python", python, "--source", str(tree), "--out", str(env["out"]), "--jobs", "2"]
    assert main([*argv, "--no-verify", "--no-repair"]) == 0

    calls = log.read_text().splitlines()
    configures = [c for c in calls if c.endswith("tensorflow/lite") and "--build" not in c]
    assert len(configures) == 2, calls  # host tools, then the module
    assert all(c.startswith("-A Win32 -C ") for c in configures), configures
    builds = [c for c in calls if c.startswith("--build")]
    assert [b.split(" -t ")[1] for b in builds] == [
        "flatbuffers-flatc --config Release",
        "_pywrap_tensorflow_interpreter_wrapper --config Release",
    ]
    build_dir = tree / "tensorflow/lite/tools/pip_package/gen/tflite_pip/python/cmake_build"
    module = "_pywrap_tensorflow_interpreter_wrapper.so"
    assert (build_dir / "Release" / module).is_file() and not (build_dir / module).exists()
    wheel = Wheel.open(next(env["out"].glob("*.whl")))
    assert f"tflite_runtime/{module}" in wheel.names()
