"""Windows targets: MSVC through the Visual Studio generator, `-A Win32`/`-A x64`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from . import CacheEntry, Platform

OS = "windows"
VENV_BIN = "Scripts"
SCRIPT_SHELL = "bash"  # Git for Windows / MSYS2 bash runs the official script
PYTHON_LIBS_PLACEHOLDER = "<base_prefix of the build Python>/libs"


def build_problem(target: Platform) -> str | None:
    if sys.platform != "win32":
        return f"{target.name} wheels need MSVC on Windows; this host is {sys.platform}"
    if find_shell() is None:
        return "the official script needs bash on PATH (Git for Windows or MSYS2)"
    return None


def find_shell() -> str | None:
    """bash from PATH, skipping System32's bash.exe: that is WSL, which cannot see MSVC. (Given
    a bare "bash", CreateProcess would search System32 before PATH and find it.)"""
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    system_dirs = {os.path.normcase(os.path.join(root, d)) for d in ("System32", "Sysnative")}
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or os.path.normcase(os.path.normpath(entry)) in system_dirs:
            continue
        found = shutil.which(SCRIPT_SHELL, path=entry)
        if found:
            return found
    return None


def environment(target: Platform) -> dict[str, str]:
    if not target.generator_platform:
        return {}
    return {"TFLITE_CMAKE_GENERATOR_PLATFORM": target.generator_platform}


def cache_entries(target: Platform, python_base_prefix: str | None) -> list[CacheEntry]:
    """MSVC auto-links pythonXY.lib (pyconfig.h); the linker must be told where it lives."""
    libs = str(Path(python_base_prefix) / "libs") if python_base_prefix else PYTHON_LIBS_PLACEHOLDER
    return [CacheEntry("CMAKE_SHARED_LINKER_FLAGS", "STRING", f"/LIBPATH:{libs}")]


def configure_args(target: Platform) -> list[str]:
    """What TFLITE_CMAKE_GENERATOR_PLATFORM becomes in the patched script (before ``-C``)."""
    return ["-A", target.generator_platform] if target.generator_platform else []


def config_note(target: Platform, config: str) -> str:
    return (
        f"Visual Studio generators are multi-config: --config {config} builds {config} (not "
        f"Debug), the module is taken from cmake_build/{config}/ and is named .pyd"
    )


def strip_note(target: Platform) -> str:
    return "nothing to strip: MSVC Release links without /DEBUG, so the .pyd carries no debug info"


def ccache_problem(target: Platform) -> str | None:
    return "Visual Studio generators ignore CMake's compiler launchers"


def repairs(target: Platform) -> bool:
    return False  # the module needs only the Python DLL and the MSVC runtime


def final_platform_tag(target: Platform, repair: bool) -> str:
    return target.wheel_platform
