"""Subcommands. Each module has NAME, HELP, ``configure_parser(parser)`` and ``execute(args)``."""

from __future__ import annotations

from types import ModuleType

from . import build, index, publish, slim, stack, verify

COMMANDS: list[ModuleType] = [
    verify,
    slim,
    stack,
    build,
    publish,
    index,
]
