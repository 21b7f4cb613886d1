"""``slim PACKAGE``: shrink a wheel to what inference needs, verified on real models."""

from __future__ import annotations

import argparse
from pathlib import Path

from packaging.utils import canonicalize_name
from rich.table import Table

from ..console import console
from ..errors import WheelError
from ..pypi import download_wheel
from ..report import add_report_option, write_report
from ..runtimes import resolve_runtime, runtime_for_distribution
from ..slim import DEFAULT_BUDGET, SlimOptions, SlimResult, default_requirement, slim_wheel
from ..smoke import DEFAULT_TIMEOUT
from ..wheelfile import Wheel
from .verify import results_table

NAME = "slim"
HELP = "slim a wheel (numpy, tflite-runtime, ai-edge-litert, ...) and verify it on real models"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", help="distribution to slim, e.g. numpy")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--version", help="release to download from the index (default: the "
                        "newest one the runtime accepts)")  # fmt: skip
    source.add_argument("--wheel", type=Path, metavar="PATH", help="slim this wheel file")
    parser.add_argument("--runtime", metavar="SPEC", help="runtime to verify with (default: the "
                        "one with wheels for this interpreter)")  # fmt: skip
    parser.add_argument("--models", type=Path, metavar="DIR",
                        help="models to verify with (default: smoke_models/)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("dist"), metavar="DIR",
                        help="where the slim wheel goes (default: dist/)")  # fmt: skip
    parser.add_argument("--keep", action="append", default=[], metavar="GLOB",
                        help="always keep members matching GLOB, e.g. 'numpy/random/**' for "
                        "code you call besides inference (repeatable)")  # fmt: skip
    parser.add_argument("--max-oracle-runs", type=int, default=DEFAULT_BUDGET, metavar="N",
                        help=f"search budget (default {DEFAULT_BUDGET})")  # fmt: skip
    parser.add_argument("--no-strip", action="store_true", help="do not strip shared objects")
    parser.add_argument("--label", default="slim", help="local version label (default: slim)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="per-model time limit")  # fmt: skip
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    package = canonicalize_name(args.package)
    wheel = args.wheel or _download(package, args.version, args.runtime)
    if args.wheel is not None and Wheel.open(args.wheel).name != package:
        raise WheelError(f"{args.wheel.name} is not a {package} wheel")
    options = SlimOptions(
        runtime=args.runtime,
        models=args.models,
        out_dir=args.out,
        keep=tuple(args.keep),
        budget=args.max_oracle_runs,
        timeout=args.timeout,
        label=args.label,
        strip=not args.no_strip,
    )
    result = slim_wheel(wheel, options)
    print_summary(result)
    write_report(args.report, result.to_dict())
    return 0


def _download(package: str, version: str | None, runtime_spec: str | None) -> Path:
    runtime = resolve_runtime(runtime_spec)
    if runtime_for_distribution(package) is not None and version is None:
        if package == runtime.name:
            return download_wheel(str(runtime.requirement))
        return download_wheel(str(resolve_runtime(package).requirement))
    return download_wheel(default_requirement(package, runtime, version))


def print_summary(result: SlimResult) -> None:
    if result.verification is not None:
        console.print(results_table(result.verification.results, "final verification"))
    table = Table(title="slim result", title_justify="left", show_header=True)
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("saved", justify="right")
    for label, before, after in (
        ("wheel bytes", result.input_bytes, result.output_bytes),
        ("installed bytes", result.installed_before, result.installed_after),
    ):
        saved = f"{100 * (1 - after / before):.1f}%" if before else ""
        table.add_row(label, f"{before:,}", f"{after:,}", saved)
    console.print(table)
    console.print(
        f"removed {len(result.removed_units)} units, stripped {len(result.stripped)} files;"
        f" {result.oracle_runs} oracle runs, {result.cache_hits} cache hits,"
        f" {result.seconds:.1f} s"
    )
    console.print(f"[green]wrote[/green] {result.output}")
