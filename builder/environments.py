"""Isolated Python environments: a venv per job, populated with pip from the running interpreter."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
import venv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from .console import step
from .errors import CommandError, EnvironmentSetupError
from .runner import run

PIP_TIMEOUT = 900
# pip --python runs pip inside the target interpreter: our own PYTHONPATH would make whatever it
# names look installed in the environment (and make `pip list` report it).
PIP_ENV = {"PYTHONPATH": ""}


@dataclass(frozen=True)
class Environment:
    root: Path

    @property
    def python(self) -> Path:
        if sys.platform == "win32":
            return self.root / "Scripts" / "python.exe"
        return self.root / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        """The purelib/platlib directory (the same one in a venv)."""
        scheme_vars = {"base": str(self.root), "platbase": str(self.root)}
        return Path(sysconfig.get_path("purelib", vars=scheme_vars))

    def install(
        self, requirements: list[str], *, no_index: bool = False, echo: bool = False
    ) -> None:
        """``pip install`` exactly these requirements (files or specs), binary wheels only."""
        args = [*_pip(self), "install", "--no-input", "--only-binary", ":all:"]
        if no_index:
            args.append("--no-index")
        for directory in _LOCAL_WHEELS:
            args += ["--find-links", str(directory)]
        try:
            run([*args, *requirements], echo=echo, timeout=PIP_TIMEOUT, env=PIP_ENV)
        except CommandError as exc:
            raise EnvironmentSetupError(
                f"cannot install {', '.join(_short(requirements))}: {_pip_reason(exc)}"
            ) from None

    def installed(self) -> dict[str, str]:
        """Normalised distribution name (``typing-extensions``) -> version of everything installed
        in the environment; pip lists names as each project spells them (``typing_extensions``)."""
        result = run([*_pip(self), "list", "--format=freeze"], echo=False, log=False, env=PIP_ENV)
        pairs = (line.split("==", 1) for line in result.output.splitlines() if "==" in line)
        return {canonicalize_name(name): version for name, version in pairs}


_LOCAL_WHEELS: list[Path] = []


@contextlib.contextmanager
def local_wheels(directory: Path) -> Iterator[None]:
    """While inside, every ``install`` may also take wheels from ``directory`` (``--find-links``):
    a runtime built here, which no index has, installs by name like a release."""
    _LOCAL_WHEELS.append(directory)
    try:
        yield
    finally:
        _LOCAL_WHEELS.remove(directory)


def create_environment(root: Path, python: Sequence[str] | None = None) -> Environment:
    """A fresh venv at ``root`` without pip of its own; pip runs from here with ``--python``.

    ``python``: the command of another CPython to create it with (default: this one)."""
    step(f"creating environment {root}")
    try:
        if python is None:
            venv.EnvBuilder(clear=True, with_pip=False, symlinks=os.name != "nt").create(root)
        else:
            shutil.rmtree(root, ignore_errors=True)
            run([*python, "-m", "venv", "--without-pip", str(root)], echo=False, log=False)
    except (OSError, CommandError) as exc:
        raise EnvironmentSetupError(
            f"cannot create a virtual environment at {root}: {exc}"
        ) from None
    return Environment(root)


def _pip(env: Environment) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(env.python)]


def _short(requirements: list[str]) -> list[str]:
    return [Path(r).name if os.sep in r else r for r in requirements]


# pip's ERROR lines that only inform (yanked releases it skipped); the reason comes after them.
_NOT_THE_REASON = ("ERROR: Ignored the following",)


def _pip_reason(exc: CommandError) -> str:
    lines = [line.strip() for line in exc.output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:") and not line.startswith(_NOT_THE_REASON):
            return line[len("ERROR:") :].strip()
    return lines[-1] if lines else str(exc)
