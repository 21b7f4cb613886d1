"""``slim PACKAGE``: shrink a wheel to what inference needs, verified on real models."""

from __future__ import annotations

import argparse
from pathlib import Path

from packaging.utils import canonicalize_name
from rich.table import Table

from ..console import console, info
from ..errors import ArgumentError
from ..numpy_build import SourceChoice, build_numpy, choose_source
from ..pypi import download_wheel
from ..report import add_report_option, write_report
from ..runtimes import resolve_runtime, runtime_for_distribution
from ..slim import (
    LABEL,
    SlimOptions,
    SlimResult,
    default_requirement,
    slim_wheel,
)
from ..slim_recipe import glob_problem
from ..smoke import load_models
from ..wheelfile import Wheel, check_local_label
from ..zipwrite import ZOPFLI
from ._options import (
    add_budget_option,
    add_compress_option,
    add_models_option,
    add_out_option,
    add_timeout_option,
    check_outputs,
    version,
)
from .verify import results_table

NAME = "slim"
HELP = "slim a wheel (numpy, tflite-runtime, ai-edge-litert, ...) and verify it on real models"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", help="distribution to slim, e.g. numpy")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--version",
        type=version,
        help="release to download from the index (default: the newest one the runtime accepts)",
    )
    source.add_argument("--wheel", type=Path, metavar="PATH", help="slim this wheel file")
    origin = parser.add_mutually_exclusive_group()
    origin.add_argument(
        "--from-source",
        action="store_true",
        help="numpy: build lean numpy from its sdist first (default where a C compiler exists)",
    )
    origin.add_argument(
        "--from-pypi",
        action="store_true",
        help="numpy: start from the PyPI wheel even where a compiler is available",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="with a source build: the recipe's build profile (size or speed)",
    )
    parser.add_argument(
        "--runtime",
        metavar="SPEC",
        help="runtime to verify with (default: the one with wheels for this interpreter)",
    )
    add_models_option(parser)
    add_out_option(parser, "the slim wheel goes")
    parser.add_argument(
        "--keep",
        action="append",
        type=_glob,
        default=[],
        metavar="GLOB",
        help="always keep members matching GLOB, e.g. 'numpy/random/**' for code you call besides "
        "inference (repeatable)",
    )
    add_budget_option(parser)
    parser.add_argument("--no-strip", action="store_true", help="do not strip shared objects")
    parser.add_argument(
        "--keep-docstrings",
        action="store_true",
        help="keep docstrings and comments in the kept .py files (for help() on the edge)",
    )
    add_compress_option(parser, ZOPFLI)
    parser.add_argument(
        "--label",
        help="local version label (default: slim; lean.slim for lean numpy built from source)",
    )
    add_timeout_option(parser)
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    check_outputs(args, dirs=["--out"])
    load_models(args.models)  # every model parsed before any download, build or environment
    if args.label is not None:
        check_local_label(args.label)  # before any download or build
    label = args.label or LABEL
    package = canonicalize_name(args.package)
    origin = _origin(package, args)
    if args.wheel is not None:
        wheel = args.wheel
    elif origin.get("from_source"):
        built = build_numpy(args.version, args.profile, runtime=args.runtime)
        origin["build"] = built.to_dict()
        wheel = built.path
        label = args.label or built.slim_label
    else:
        wheel = _download(package, args.version, args.runtime)
    if args.wheel is not None and Wheel.open(args.wheel).name != package:
        raise ArgumentError(f"{args.wheel.name} is not a {package} wheel")
    options = SlimOptions(
        runtime=args.runtime,
        models=args.models,
        out_dir=args.out,
        keep=tuple(args.keep),
        budget=args.max_oracle_runs,
        timeout=args.timeout,
        label=label,
        strip=not args.no_strip,
        compression=args.compress,
        docstrings=not args.keep_docstrings,
    )
    result = slim_wheel(wheel, options)
    print_summary(result)
    write_report(args.report, {**result.to_dict(), "origin": origin})
    return 0


def _glob(pattern: str) -> str:
    problem = glob_problem(pattern)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{pattern!r}: {problem}")
    return pattern


def _origin(package: str, args: argparse.Namespace) -> dict[str, object]:
    """Where the wheel to slim comes from: ``--wheel``, a lean numpy build, or the index."""
    if args.wheel is not None:
        if args.from_source or args.from_pypi or args.profile:
            raise ArgumentError("--wheel excludes --from-source, --from-pypi and --profile")
        return {"from_source": False, "reason": f"--wheel {args.wheel}"}
    if package != "numpy":
        if args.from_source or args.profile:
            raise ArgumentError(f"--from-source/--profile build numpy only, not {package}")
        return {"from_source": False, "reason": "downloaded from the index"}
    if args.from_pypi:
        if args.profile:
            raise ArgumentError("--profile selects a source build; it cannot go with --from-pypi")
        choice = SourceChoice(False, "--from-pypi")
    elif args.from_source:
        choice = SourceChoice(True, "--from-source")
    else:
        choice = choose_source(args.version, args.profile)
        if args.profile and not choice.from_source:
            raise ArgumentError(f"--profile {args.profile} needs a source build: {choice.reason}")
    how = "lean numpy built from source" if choice.from_source else "the PyPI numpy wheel"
    info(f"slimming {how}: {choice.reason}")
    return {"from_source": choice.from_source, "reason": choice.reason}


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
