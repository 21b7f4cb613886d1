"""Isolated Python environments: a venv per job, and the one way this project runs pip.

An environment has no pip of its own: the running interpreter's pip works on it through
``--python`` (``Environment.pip``), so creating one is fast and every pip call has the same
prefix (``run_pip``; ``builder.pypi`` downloads through it too). What is installed is read by the
environment's own interpreter with ``importlib.metadata``, not by parsing pip's listing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import sysconfig
import venv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from .cache import child_temp_env
from .console import step
from .errors import CommandError, EnvironmentSetupError
from .runner import Arg, Result, run

PIP_TIMEOUT = 900
# pip --python runs pip inside the target interpreter: our own PYTHONPATH would make whatever it
# names look installed in the environment.
PIP_ENV = {"PYTHONPATH": ""}
# Run by the environment's interpreter (-I: no PYTHONPATH, no user site): name -> version of every
# distribution on its sys.path, the first one found winning as it does for imports; one JSON line.
_INSTALLED = """\
import importlib.metadata, json
found = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata.get("Name")
    if name and name not in found:
        found[name] = dist.version
print(json.dumps(found))
"""


def run_pip(
    *args: Arg,
    python: Path | None = None,
    echo: bool = False,
    log: bool = True,
    check: bool = True,
    timeout: float | None = PIP_TIMEOUT,
) -> Result:
    """``pip ARGS`` with the running interpreter's pip; for ``python``'s environment if given."""
    target: list[Arg] = ["--python", python] if python is not None else []
    command: list[Arg] = [sys.executable, "-m", "pip", "--disable-pip-version-check", *target]
    env = {**PIP_ENV, **child_temp_env()}  # pip's temporary files go where ours go
    return run([*command, *args], echo=echo, log=log, check=check, timeout=timeout, env=env)


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

    def pip(self, *args: Arg, echo: bool = False, log: bool = True, check: bool = True) -> Result:
        """``pip ARGS`` for this environment."""
        return run_pip(*args, python=self.python, echo=echo, log=log, check=check)

    def install(
        self, requirements: list[str], *, no_index: bool = False, echo: bool = False
    ) -> None:
        """``pip install`` exactly these requirements (files or specs), binary wheels only; also
        from the directories of any ``local_wheels`` block around the call."""
        args = ["install", "--no-input", "--only-binary", ":all:"]
        if no_index:
            args.append("--no-index")
        for directory in _LOCAL_WHEELS:
            args += ["--find-links", str(directory)]
        try:
            self.pip(*args, *requirements, echo=echo)
        except CommandError as exc:
            raise EnvironmentSetupError(
                f"cannot install {', '.join(_short(requirements))}: {pip_reason(exc)}"
            ) from None

    def install_requirements_file(self, requirements: Path, find_links: Path) -> None:
        """``pip install --no-index --require-hashes -r FILE --find-links DIR``: the command an
        edge machine runs, offline, with nothing but the pinned files of ``find_links``."""
        offline = ("--no-input", "--no-index", "--require-hashes")
        try:
            self.pip("install", *offline, "--find-links", find_links, "-r", requirements)
        except CommandError as exc:
            raise EnvironmentSetupError(
                f"cannot install -r {requirements.name}: {pip_reason(exc)}"
            ) from None

    def installed(self) -> dict[str, str]:
        """Normalised distribution name (``typing-extensions``) -> version of everything installed
        in the environment (projects spell their names as they like: ``typing_extensions``)."""
        result = run([self.python, "-I", "-c", _INSTALLED], echo=False, log=False)
        found: dict[str, str] = json.loads(result.tail())  # the last line: after any warning
        return {canonicalize_name(name): version for name, version in found.items()}

    def check(self) -> list[str]:
        """``pip check``: the problems it reports ([] when the requirements are consistent)."""
        result = self.pip("check", log=False, check=False)
        if result.returncode == 0:
            return []
        return [line.strip() for line in result.output.splitlines() if line.strip()]


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


def _short(requirements: list[str]) -> list[str]:
    return [Path(r).name if os.sep in r else r for r in requirements]


# pip's ERROR lines that only inform (yanked releases it skipped); the reason comes after them.
_NOT_THE_REASON = ("ERROR: Ignored the following",)


def pip_reason(exc: CommandError) -> str:
    lines = [line.strip() for line in exc.output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:") and not line.startswith(_NOT_THE_REASON):
            return line[len("ERROR:") :].strip()
    return lines[-1] if lines else str(exc)
