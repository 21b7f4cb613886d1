"""``stack``: the runtime and numpy for this interpreter, slimmed, verified together, pinned."""

from __future__ import annotations

import argparse
from pathlib import Path

from packaging.utils import parse_wheel_filename
from rich.table import Table

from ..console import console
from ..errors import ArgumentError
from ..report import add_report_option, write_report
from ..smoke import load_models
from ..stack import (
    NUMPY_SOURCES,
    REPORT,
    SelectiveBuild,
    StackOptions,
    StackResult,
    build_stack,
)
from ..zipwrite import ZOPFLI
from . import _options
from .verify import results_table

NAME = "stack"
HELP = "slim the runtime and numpy for this interpreter, verify them together, pin them by hash"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        metavar="SPEC",
        help="tflite-runtime or ai-edge-litert, optionally ==VERSION (default: the one with "
        "wheels for this interpreter)",
    )
    parser.add_argument(
        "--runtime-wheel",
        type=Path,
        metavar="WHEEL",
        help="a runtime wheel built here (`build tflite-runtime`) instead of the index's release: "
        "how CPython 3.12+ gets tflite-runtime",
    )
    parser.add_argument(
        "--selective",
        action="store_true",
        help="build tflite-runtime here for exactly the --models' operators and stack it: the "
        "smallest stack for your models",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="with --selective: the runtime's compiler flags from recipes/tflite-runtime.toml "
        "(default size, the smallest; speed keeps upstream's flags and their latency)",
    )
    parser.add_argument(
        "--tf-version",
        type=_options.version,
        metavar="V",
        help="with --selective: the TensorFlow to build (default: the newest release in the "
        "recipe; X.Y.Z.devN for a development --tf-source)",
    )
    parser.add_argument(
        "--tf-source",
        type=Path,
        metavar="DIR|ARCHIVE",
        help="with --selective: a TensorFlow tree or release archive (default: download it)",
    )
    parser.add_argument(
        "--deps-dir",
        type=Path,
        metavar="DIR",
        help="with --selective: local copies of the CMake dependencies",
    )
    parser.add_argument(
        "--xnnpack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --selective: build with XNNPACK (default)",
    )
    parser.add_argument(
        "--numpy",
        type=_options.version,
        metavar="VERSION",
        help="numpy release (default: the one the stock runtime installs: 1.26.x for "
        "tflite-runtime 2.14)",
    )
    parser.add_argument(
        "--numpy-from",
        choices=NUMPY_SOURCES,
        default="auto",
        help="build lean numpy from source, or slim PyPI's wheel (default auto: from source where "
        "a compiler exists)",
    )
    _options.add_models_option(parser)
    _options.add_out_option(parser, "the wheels, requirements-edge.txt and stack-report.json go")
    _options.add_budget_option(parser, "search budget per wheel")
    _options.add_compress_option(parser, ZOPFLI)
    _options.add_glibc_option(parser)
    _options.add_timeout_option(parser)
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    _options.check_outputs(args, dirs=["--out"])
    load_models(args.models)  # every model parsed before any download, build or environment
    if args.runtime is not None and args.runtime_wheel is not None:
        raise ArgumentError("give --runtime or --runtime-wheel, not both")
    options = StackOptions(
        runtime=args.runtime,
        runtime_wheel=args.runtime_wheel,
        selective=_selective(args),
        numpy=args.numpy,
        numpy_source=args.numpy_from,
        models=args.models,
        out_dir=args.out,
        budget=args.max_oracle_runs,
        timeout=args.timeout,
        compression=args.compress,
        glibc=args.glibc,
    )
    result = build_stack(options)
    print_summary(result)
    report = result.to_dict()
    write_report(args.out / REPORT, report)
    write_report(args.report, report)
    return 0


def _selective(args: argparse.Namespace) -> SelectiveBuild | None:
    build_flags = (args.tf_version, args.tf_source, args.deps_dir, args.profile)
    if not args.selective:
        if any(build_flags) or not args.xnnpack:
            raise ArgumentError(
                "--tf-version, --tf-source, --deps-dir, --profile and --no-xnnpack go with "
                "--selective"
            )
        return None
    if args.runtime is not None or args.runtime_wheel is not None:
        raise ArgumentError("--selective builds the runtime: give no --runtime/--runtime-wheel")
    return SelectiveBuild(
        tf_version=args.tf_version,
        source=args.tf_source,
        deps_dir=args.deps_dir,
        profile=args.profile or "size",
        xnnpack=args.xnnpack,
    )


def print_summary(result: StackResult) -> None:
    console.print(results_table(tuple(result.models), "the stack, installed from its hashes"))
    table = Table(title=f"stack for {result.runtime}", title_justify="left")
    table.add_column("wheel")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("from")
    for wheel in result.wheels:
        table.add_row(
            f"{wheel.name} {wheel.version}",
            f"{wheel.bytes_before:,}",
            f"{wheel.bytes_after:,}",
            wheel.origin,
        )
    in_stack = {w.name for w in result.wheels}
    for filename, size in sorted(result.stock.items()):
        if parse_wheel_filename(filename)[0] not in in_stack:
            table.add_row(f"[dim]{filename}[/dim]", f"{size:,}", "-", "never imported: dropped")
    table.add_row(
        "[bold]total[/bold]",
        f"{result.bytes_before:,}",
        f"{result.bytes_after:,}",
        f"{len(result.stock)} wheels -> {len(result.wheels)}",
    )
    console.print(table)
    if result.glibc.get("needed"):
        console.print(
            f"the stack needs glibc {result.glibc['needed']} or newer on the edge machine"
            f" ({result.glibc['needed_by']})"
        )
    console.print(
        f"[green]wrote[/green] {len(result.outputs)} wheels and {result.requirements}"
        f" in {result.seconds:.0f} s"
    )
