"""Linux targets: system or manylinux CPython, stripped at link time, auditwheel for the tag."""

from __future__ import annotations

import platform as host
import shutil
import sys
from pathlib import Path

from ..errors import UnsupportedPlatformError
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


def interpreter(target: Platform, python: str) -> list[str]:
    """The command that runs CPython ``python`` (X.Y): this interpreter when it is that version,
    else ``pythonX.Y`` on PATH or a manylinux /opt/python one."""
    if _is_running_version(python):
        return [sys.executable]
    name = f"python{python}"
    found = shutil.which(name)
    if found:
        return [found]
    tag = "cp" + python.replace(".", "")
    manylinux = Path("/opt/python") / f"{tag}-{tag}" / "bin" / "python"
    if manylinux.is_file():
        return [str(manylinux)]
    raise UnsupportedPlatformError(
        f"no CPython {python} here: neither {name} on PATH nor {manylinux}"
    )


def planned_interpreter(target: Platform, python: str) -> list[str]:
    """The interpreter as a plan shows it; ``interpreter`` resolves it when the step runs."""
    return [sys.executable] if _is_running_version(python) else [f"python{python}"]


def _is_running_version(python: str) -> bool:
    return python == f"{sys.version_info.major}.{sys.version_info.minor}"


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


def repair_command(target: Platform, wheel: Path, out_dir: Path) -> list[str] | None:
    """auditwheel turns the script's linux_* wheel into a manylinux one (None: nothing to do)."""
    if not target.manylinux:
        return None
    return ["auditwheel", "repair", "--plat", target.manylinux, "-w", str(out_dir), str(wheel)]


def final_platform_tag(target: Platform, repair: bool) -> str:
    return target.manylinux if repair and target.manylinux else target.wheel_platform
