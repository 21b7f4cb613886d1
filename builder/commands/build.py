"""``build TARGET``: build a wheel from source (``tflite-runtime``, ``numpy``)."""

from __future__ import annotations

import argparse
from types import ModuleType

from . import build_numpy, build_tflite_runtime

NAME = "build"
HELP = "build a wheel from source"

# Each target module has NAME, HELP, configure_parser(parser) and execute(args).
BUILD_TARGETS: list[ModuleType] = [build_tflite_runtime, build_numpy]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for module in BUILD_TARGETS:
        sub = targets.add_parser(module.NAME, help=module.HELP, description=module.HELP + ".")
        module.configure_parser(sub)
        sub.set_defaults(execute=module.execute)


def execute(args: argparse.Namespace) -> int:  # replaced by the target's execute via set_defaults
    raise AssertionError("unreachable: argparse dispatches to the build target")
