"""Options several subcommands share, each defined once (name, type, default, metavar, how its
value is checked); the command only says, where it differs, what the option means for it."""

from __future__ import annotations

import argparse
from pathlib import Path

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
        type=int,
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


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


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
