"""Options several subcommands share, each defined once (name, type, default, metavar, how its
value is checked); the command only says, where it differs, what the option means for it.

``check_outputs`` is the one check every command runs first: the paths it will write at its end
(``--out``, ``--report``, ``--requirements``) must be writable before any download, build, search
or upload starts, so that no result is lost to a path that could never take it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..cache import APP
from ..errors import ArgumentError
from ..slim import DEFAULT_BUDGET
from ..smoke import DEFAULT_TIMEOUT
from ..zipwrite import COMPRESSIONS

MODELS_HELP = "models to verify with (default: smoke_models/)"


def add_out_option(parser: argparse.ArgumentParser, what_goes: str) -> None:
    """``--out DIR`` (default ``dist/``): ``what_goes`` there, e.g. "the wheel goes"."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("dist"),
        metavar="DIR",
        help=f"where {what_goes} (default: dist/)",
    )


def add_models_option(parser: argparse.ArgumentParser, help: str = MODELS_HELP) -> None:
    """``--models DIR``: the models to verify with instead of the packaged smoke models."""
    parser.add_argument("--models", type=Path, metavar="DIR", help=help)


def add_budget_option(parser: argparse.ArgumentParser, what: str = "search budget") -> None:
    """``--max-oracle-runs N``: how many candidates a slim search may try."""
    parser.add_argument(
        "--max-oracle-runs",
        type=whole_number(1),
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"{what} (default {DEFAULT_BUDGET})",
    )


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    """``--timeout SECONDS``: the per-model time limit, a number of seconds above 0."""
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per-model time limit (default {DEFAULT_TIMEOUT:g})",
    )


def version(text: str) -> str:
    """An argparse type: a PEP 440 version, parsed by ``packaging`` now rather than after a
    download; the text is kept as given."""
    try:
        Version(text)
    except InvalidVersion:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version (e.g. 1.26.4)") from None
    return text


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {minimum} or more")
        return number

    return parse


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


# -- outputs -----------------------------------------------------------------------------------


def check_outputs(
    args: argparse.Namespace,
    *,
    dirs: Sequence[str] = (),
    files: Sequence[str] = (),
    trees: Sequence[str] = (),
) -> None:
    """Refuse, in one line (exit 2), an output path this run could not write at its end.

    Each entry names an option (``--out``); its value is read from ``args``, and ``--report`` is
    always checked. ``dirs``: a directory files are written into (an existing directory, or one
    that can be created); ``files``: a file written atomically, i.e. created beside itself and
    renamed (not a directory; its directory writable or creatable); ``trees``: a directory built
    beside itself and swapped into place (``index --out``: absent or a directory; its parent
    writable or creatable). Nothing is created: writability is proven with a probe file that is
    removed at once, in the directory itself or in its nearest existing ancestor.
    """
    for option, kind in (
        *((o, "dir") for o in dirs),
        *((o, "file") for o in (*files, "--report")),
        *((o, "tree") for o in trees),
    ):
        path = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if path is None:
            continue
        problem = _output_problem(Path(path), kind)
        if problem is not None:
            raise ArgumentError(f"{option} {path}: {problem}")


def _output_problem(path: Path, kind: str) -> str | None:
    exists = os.path.lexists(path)
    if kind == "dir":
        if exists and not path.is_dir():
            return "exists and is not a directory"
        return _directory_problem(path)
    if exists and path.is_dir() and kind == "file":
        return "is a directory, not a file"
    if exists and not path.is_dir() and kind == "tree":
        return "exists and is not a directory"
    return _directory_problem(Path(os.path.abspath(path)).parent)  # a symlink is replaced


def _directory_problem(directory: Path) -> str | None:
    """Why no file can be written in ``directory`` (created first where it does not exist)."""
    existing = directory
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create a directory below {existing}, which is not a directory"
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{APP}-probe-", dir=existing)
    except OSError as exc:
        return f"cannot write in {existing}: {exc.strerror or exc}"
    os.close(handle)
    os.unlink(probe)
    return None


def add_compress_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--compress zopfli|deflate``: how the output wheel's members are deflated."""
    parser.add_argument(
        "--compress",
        choices=COMPRESSIONS,
        default=default,
        help=f"deflate the output wheel with zopfli (smaller, slower) or zlib (default {default})",
    )


GLIBC_HELP = (
    "build numpy against this glibc's symbol versions with zig's cc/c++ (the [zig] extra), "
    "e.g. 2.28 for a manylinux_2_28 wheel that installs on older edge machines"
)


def add_glibc_option(parser: argparse.ArgumentParser) -> None:
    """``--glibc 2.28``: build numpy against that glibc's symbol versions (zig's compilers)."""
    parser.add_argument("--glibc", metavar="2.N", help=GLIBC_HELP)
