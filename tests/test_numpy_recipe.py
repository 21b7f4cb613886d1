"""The ``[build]`` recipe of numpy: parsing, validation, rendering (fast, no network)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from packaging.version import Version

from builder.__main__ import main
from builder.errors import RecipeError, UnsupportedPlatformError
from builder.numpy_recipe import (
    BuildRecipe,
    check_project_options,
    load_build_recipe,
    parse_build_recipe,
    parse_option_types,
)
from builder.recipes import Table

COMMON = ["-Dblas=none", "-Dlapack=none", "-Dallow-noblas=true", "-Ddisable-svml=true"]
NO_DISPATCH = ["-Dcpu-baseline=min", "-Dcpu-dispatch=none"]
NO_SIMD = ["-Ddisable-optimization=true"]
SIZE = ["-Dbuildtype=minsize", "-Ddebug=false", "-Db_ndebug=true"]
SPEED = ["-Dbuildtype=release", "-Ddebug=false", "-Db_ndebug=true"]
NO_CXX_SIMD = ["-Ddisable-highway=true", "-Ddisable-intel-sort=true"]

MINIMAL: dict[str, Any] = {
    "default_profile": "size",
    "profiles": {
        "size": {"description": "d", "local_version": "lean", "meson": {"buildtype": "minsize"}},
        "speed": {"description": "d", "local_version": "lean.speed", "meson": {"debug": False}},
    },
    "platforms": {
        "linux": {"tags": ["linux_x86_64"], "env": {"CFLAGS": "-Os -g0"}, "strip": ["strip"]},
        "windows": {"tags": ["win_amd64"], "setup_args": ["--vsenv"]},
    },
    "numpy": [
        {
            "versions": ">=1.26,<2",
            "options": {"blas": "none", "allow-noblas": True},
            "profile_options": {"size": {"cpu-dispatch": "none"}},
        }
    ],
}


def parse(data: dict[str, Any]) -> BuildRecipe:
    return parse_build_recipe(Table(data, "numpy.toml", "build."))


def broken(**changes: Any) -> dict[str, Any]:
    """MINIMAL with ``changes`` applied; a key path is written a__b__c, None deletes."""
    data = copy.deepcopy(MINIMAL)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


def setup_args(version: str, profile: str | None, platform: str = "linux_x86_64") -> list[str]:
    plan = load_build_recipe().plan(Version(version), profile, platform)
    return [value for key, value in plan.config_settings() if key == "setup-args"]


# -- the real recipe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "profile", "expected"),
    [
        ("1.26.4", None, SIZE + COMMON + NO_SIMD),
        ("1.26.4", "size", SIZE + COMMON + NO_SIMD),
        ("1.26.4", "speed", SPEED + COMMON + NO_DISPATCH),
        ("2.4.6", "size", SIZE + COMMON + NO_CXX_SIMD + NO_SIMD),
        ("2.4.6", "speed", SPEED + COMMON + NO_CXX_SIMD + NO_DISPATCH),
    ],
)
def test_rendered_setup_args_per_version_and_profile(
    version: str, profile: str | None, expected: list[str]
) -> None:
    assert setup_args(version, profile) == expected


def test_windows_builds_use_the_same_options_plus_vsenv() -> None:
    for tag in ("win32", "win_amd64"):
        assert setup_args("1.26.4", "size", tag) == [*SIZE, *COMMON, *NO_SIMD, "--vsenv"]


def test_frontend_and_cibuildwheel_renderings() -> None:
    plan = load_build_recipe().plan(Version("1.26.4"), "size", "linux_x86_64")
    assert plan.frontend_args()[:2] == [
        "-Csetup-args=-Dbuildtype=minsize",
        "-Csetup-args=-Ddebug=false",
    ]
    assert plan.cibuildwheel_config_settings() == " ".join(
        f"setup-args={arg}" for arg in SIZE + COMMON + NO_SIMD
    )
    flags = "-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
    assert plan.cibuildwheel_environment() == (
        f"CFLAGS='{flags}' CXXFLAGS='{flags}' LDFLAGS='-Wl,--gc-sections -Wl,-O1'"
    )
    assert plan.profile.local_version == "lean"


def test_print_config_settings_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["build", "numpy", "--print-config-settings", "--version", "1.26.4"]
    assert main([*argv, "--profile", "size", "--platform", "win_amd64"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        " ".join(f"setup-args={arg}" for arg in [*SIZE, *COMMON, *NO_SIMD, "--vsenv"])
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--print-config-settings"], "need --version"),
        (["--print-config-settings", "--version", "1.20.0"], "range matches numpy 1.20.0"),
        (
            ["--print-environment", "--version", "2.4.6", "--platform", "macosx_arm64"],
            "no numpy build settings for platform macosx_arm64",
        ),
        (
            ["--print-config-settings", "--version", "2.4.6", "--profile", "tiny"],
            "no build profile 'tiny' (known: size, speed)",
        ),
        (["--platform", "win32"], "--platform only applies"),
    ],
)
def test_bad_build_requests_fail_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "numpy", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in " ".join(captured.err.split())
    assert "Traceback" not in captured.err


# -- validation ----------------------------------------------------------------------------------


def test_minimal_recipe_parses() -> None:
    recipe = parse(MINIMAL)
    assert [p.name for p in recipe.profiles] == ["size", "speed"]
    assert recipe.platform_tags() == ["linux_x86_64", "win_amd64"]
    plan = recipe.plan(Version("1.26.4"), "speed", "linux_x86_64")
    assert plan.project_options == (("blas", "none"), ("allow-noblas", True))
    assert recipe.plan(Version("1.26.4"), None, "win_amd64").frontend_args() == [
        "-Csetup-args=-Dbuildtype=minsize",
        "-Csetup-args=-Dblas=none",
        "-Csetup-args=-Dallow-noblas=true",
        "-Csetup-args=-Dcpu-dispatch=none",
        "-Csetup-args=--vsenv",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"profiles__size__meson": {"c_args": "-Os"}}, "meson splits array options on commas"),
        ({"profiles__size__meson": {"c_link_args": "-s"}}, "through build.platforms.*.env"),
        ({"profiles__size__meson": {"prefix": "/usr"}}, "not a meson built-in option"),
        ({"profiles__size__local_version": "Lean+1"}, "local_version: letters, digits and dots"),
        ({"profiles__size__descripton": "typo"}, "build.profiles.size.descripton is not a known"),
        ({"default_profile": "tiny"}, "no build profile 'tiny'"),
        ({"profiles": {}, "numpy__0__profile_options": None}, "defines no profile"),
        ({"numpy": []}, "no [[build.numpy]] version ranges"),
        ({"numpy__0__versions": "1.26"}, "build.numpy[0].versions is not a version specifier"),
        ({"numpy__0__profile_options": {"tiny": {}}}, "profile_options.tiny is not a known key"),
        ({"numpy__0__options": {"blas-order": ["mkl"]}}, "must be a string, boolean or integer"),
        ({"platforms__windows__tags": ["linux_x86_64"]}, "linux_x86_64 is in two build.platforms"),
        ({"platforms__linux__tags": []}, "tags must name at least one platform"),
        ({"platforms__linux__env": {"CFLAGS": 1}}, "env.CFLAGS must be a str"),
        ({"platforms": None}, "build.platforms is required"),
        ({"flavour": "x"}, "build.flavour is not a known key"),
    ],
)
def test_recipe_mistakes_are_clear_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(RecipeError) as caught:
        parse(broken(**changes))
    assert message in str(caught.value)
    assert str(caught.value).startswith("numpy.toml: ")


def test_unknown_version_profile_and_platform() -> None:
    recipe = parse(MINIMAL)
    with pytest.raises(RecipeError, match=r"no \[\[build.numpy\]\] range matches numpy 2.1.0"):
        recipe.plan(Version("2.1.0"), None, "linux_x86_64")
    with pytest.raises(RecipeError, match="no build profile 'fast'"):
        recipe.plan(Version("1.26.4"), "fast", "linux_x86_64")
    with pytest.raises(UnsupportedPlatformError, match="platform linux_aarch64"):
        recipe.plan(Version("1.26.4"), None, "linux_aarch64")


# -- checking against a numpy options file -------------------------------------------------------

OPTIONS_TEXT = """\
option('blas', type: 'string', value: 'auto',
        description: 'BLAS library')
option('allow-noblas', type: 'boolean', value: true,
        description: 'fallback routines')
option('cpu-dispatch', type: 'string', value: 'max -xop -fma4',
        description: 'Dispatched set of additional CPU features')
option('blas-order', type: 'array',
        value: ['mkl', 'openblas'])
"""


def test_option_types_are_read_from_a_meson_options_file() -> None:
    assert parse_option_types(OPTIONS_TEXT) == {
        "blas": "string",
        "allow-noblas": "boolean",
        "cpu-dispatch": "string",
        "blas-order": "array",
    }


def test_plan_options_checked_against_the_options_file() -> None:
    recipe = parse(MINIMAL)
    types = parse_option_types(OPTIONS_TEXT)
    check_project_options(recipe.plan(Version("1.26.4"), "size", "linux_x86_64"), types, "f")
    missing = {k: v for k, v in types.items() if k != "cpu-dispatch"}
    with pytest.raises(RecipeError, match=r"numpy 1\.26\.4 has no meson option 'cpu-dispatch'"):
        check_project_options(recipe.plan(Version("1.26.4"), "size", "linux_x86_64"), missing, "f")
    bad = parse(broken(numpy__0__options={"allow-noblas": "yes"}))
    with pytest.raises(RecipeError, match="'allow-noblas' is boolean in f; the recipe gives 'yes'"):
        check_project_options(bad.plan(Version("1.26.4"), "speed", "linux_x86_64"), types, "f")
