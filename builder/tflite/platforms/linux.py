"""Linux targets: stripped at link time, ccache through CMake's compiler launchers, auditwheel
for the true manylinux tag."""

from __future__ import annotations

import platform as host
import shutil
import sys

from . import CacheEntry, Platform

OS = "linux"
VENV_BIN = "bin"
SCRIPT_SHELL = "bash"


def build_problem(target: Platform) -> str | None:
    """Why this host cannot build ``target`` (None when it can). No cross-compiling."""
    if not sys.platform.startswith("linux"):
        return (
            f"{target.name} wheels are built on Linux (see the Dockerfile); this is {sys.platform}"
        )
    machine = host.machine().lower()
    if target.machine and machine != target.machine:
        return f"{target.name} wheels are built on a {target.machine} host; this one is {machine}"
    return None


def find_shell() -> str | None:
    return shutil.which(SCRIPT_SHELL)


def environment(target: Platform) -> dict[str, str]:
    return {}


def cache_entries(target: Platform, python_base_prefix: str | None) -> list[CacheEntry]:
    if not target.strip:
        return []
    return [CacheEntry("CMAKE_SHARED_LINKER_FLAGS", "STRING", "-s")]


def configure_args(target: Platform) -> list[str]:
    return []  # Makefiles: no generator platform


def config_note(target: Platform, config: str) -> str:
    return (
        f"Makefiles are single-config: --config {config} changes nothing; TFLite's CMakeLists "
        "defaults CMAKE_BUILD_TYPE to Release"
    )


def strip_note(target: Platform) -> str:
    if target.strip:
        return "stripped at link time (-s in CMAKE_SHARED_LINKER_FLAGS)"
    return "not stripped (strip = false in the recipe)"


def ccache_problem(target: Platform) -> str | None:
    return None  # Makefile generators honour CMAKE_<LANG>_COMPILER_LAUNCHER


def repairs(target: Platform) -> bool:
    """auditwheel gives the script's linux_* wheel its true manylinux tag."""
    return True


def final_platform_tag(target: Platform, repair: bool) -> str:
    """Known only after auditwheel has read the symbol versions the module needs."""
    return f"manylinux_*_{target.machine}" if repair and target.machine else target.wheel_platform
