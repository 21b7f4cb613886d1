"""Finding a CPython X.Y on this machine, for builds and verifications that target another Python.

A name on PATH is not proof: a pyenv shim named ``python3.12`` exists whenever pyenv has 3.12,
but fails unless that version is selected. So every candidate is run once and must answer with
the right version. Candidates, in order: this interpreter; ``pythonX.Y`` on PATH; the manylinux
image's ``/opt/python/cpXY-cpXY``; pyenv's installed versions (newest patch release first); on
Windows, the ``py`` launcher (``py -X.Y-32`` / ``-64``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .errors import ArgumentError, CommandError, UnsupportedPlatformError
from .runner import run

_PROBE = (
    "import struct, sys; print('%d.%d %d' % (sys.version_info[:2] + (struct.calcsize('P') * 8,)))"
)
_VERSION = re.compile(r"^3\.\d+$")


def check_version(text: str) -> str:
    """``3.12`` as given, or a one-line error for anything that is not a CPython 3 X.Y."""
    if not _VERSION.match(text):
        raise ArgumentError(f"--python must look like 3.12, not {text!r}")
    return text


def parse(spec: str, bits: str | None = None) -> tuple[str, list[str] | None]:
    """``--python``: a version (``3.12``, found when needed) or the path of a CPython executable
    (run once now for its version; with ``bits``, it must have that pointer width). Returns
    (X.Y, the command when a path was given)."""
    if _VERSION.match(spec):
        return spec, None
    if not (os.sep in spec or "/" in spec) or not Path(spec).is_file():
        raise ArgumentError(
            f"--python must be a version such as 3.12 or a CPython executable, not {spec!r}"
        )
    version, width = _answers((spec,))
    if version is None:
        raise ArgumentError(f"--python {spec}: does not run as a CPython 3")
    if bits is not None and width != bits:
        raise UnsupportedPlatformError(
            f"--python {spec} is a {width}-bit CPython; the target needs a {bits}-bit one"
        )
    return version, [spec]


def running_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def planned(version: str, bits: str | None = None, launcher: bool = False) -> list[str]:
    """The interpreter as a plan shows it before anything runs (``find`` resolves it).
    ``launcher``: the target is Windows, where the ``py`` launcher finds CPython."""
    if _is_running(version, bits) and (sys.platform == "win32") == launcher:
        return [sys.executable]
    if launcher:
        return ["py", f"-{version}" + (f"-{bits}" if bits else "")]
    return [f"python{version}"]


def find(version: str, bits: str | None = None) -> list[str]:
    """The command that runs CPython ``version`` (with ``bits``-bit pointers if given)."""
    for command in _candidates(version, bits):
        answered_version, answered_bits = _answers(tuple(command))
        if answered_version == version and bits in (None, answered_bits):
            return command
    width = f" ({bits}-bit)" if bits else ""
    raise UnsupportedPlatformError(
        f"no working CPython {version}{width} here (tried python{version} on PATH, "
        f"/opt/python, pyenv{', py launcher' if sys.platform == 'win32' else ''}); install it "
        "or run the builder with that interpreter"
    )


def _is_running(version: str, bits: str | None) -> bool:
    own_bits = str(_pointer_bits())
    return version == running_version() and bits in (None, own_bits)


def _pointer_bits() -> int:
    return 64 if sys.maxsize > 2**32 else 32


def _candidates(version: str, bits: str | None) -> list[list[str]]:
    found: list[list[str]] = []
    if _is_running(version, bits):
        found.append([sys.executable])
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append([on_path])
    tag = "cp" + version.replace(".", "")
    manylinux = Path("/opt/python") / f"{tag}-{tag}" / "bin" / "python"
    if manylinux.is_file():
        found.append([str(manylinux)])
    found += [[str(p)] for p in _pyenv_pythons(version)]
    if sys.platform == "win32" and shutil.which("py"):
        found.append(["py", f"-{version}" + (f"-{bits}" if bits else "")])
    return found


def _pyenv_pythons(version: str) -> list[Path]:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    versions = Path(root) / "versions"
    if not versions.is_dir():
        return []
    matches = []
    for entry in versions.iterdir():
        try:
            release = Version(entry.name)
        except InvalidVersion:
            continue
        python = entry / "bin" / f"python{version}"
        if f"{release.major}.{release.minor}" == version and python.is_file():
            matches.append((release, python))
    return [python for _, python in sorted(matches, reverse=True)]


@cache
def _answers(command: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(X.Y, pointer bits) that ``command`` reports, or (None, None) if it does not run."""
    try:
        done = run([*command, "-c", _PROBE], timeout=30, echo=False, log=False, check=False)
    except CommandError:  # cannot start, or hangs
        return None, None
    parts = done.output.split()
    if done.returncode != 0 or len(parts) != 2:
        return None, None
    return parts[0], parts[1]
