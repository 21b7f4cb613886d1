"""``build numpy``: lean numpy from its sdist (no BLAS, no SIMD dispatch, -Os), truly tagged."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..console import console
from ..errors import ArgumentError
from ..numpy_build import BuiltNumpy, build_environment, build_numpy, plan_for
from ..report import add_report_option, write_report
from ..wheelfile import Wheel
from ..zipwrite import DEFLATE
from ._options import add_compress_option, add_glibc_option, add_out_option, check_outputs, version

NAME = "numpy"
HELP = "build lean numpy from its sdist with the options of recipes/numpy.toml"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        type=version,
        metavar="V",
        help="numpy release (default: the newest the default runtime accepts: <2 for "
        "tflite-runtime 2.14)",
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="build profile from the recipe: size (default) or speed"
    )
    parser.add_argument(
        "--runtime", metavar="SPEC", help="runtime whose numpy pin picks the default version"
    )
    add_out_option(parser, "the wheel goes")
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached build")
    add_glibc_option(parser)
    add_compress_option(parser, DEFLATE)
    printing = parser.add_mutually_exclusive_group()
    printing.add_argument(
        "--print-config-settings",
        action="store_true",
        help="print CIBW_CONFIG_SETTINGS for --version/--profile/--platform and exit (no "
        "download, no build)",
    )
    printing.add_argument(
        "--print-environment",
        action="store_true",
        help="print CIBW_ENVIRONMENT (compiler flags) and exit",
    )
    parser.add_argument(
        "--platform",
        metavar="TAG",
        help="with --print-*: the target platform, e.g. win_amd64 (default: this host)",
    )
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    printing = args.print_config_settings or args.print_environment
    check_outputs(args, dirs=[] if printing else ["--out"])
    if printing:
        return _print_settings(args)
    if args.platform is not None:
        raise ArgumentError(
            "--platform only applies to --print-config-settings/--print-environment"
            ": numpy is built for this host"
        )
    built = build_numpy(
        args.version, args.profile, runtime=args.runtime, rebuild=args.rebuild, glibc=args.glibc
    )
    wheel = Wheel.open(built.path)
    wheel.set_local_version(built.label)
    output = wheel.write(args.out, args.compress)
    _print_summary(built, output)
    write_report(
        args.report,
        {**built.to_dict(), "output": str(output), "output_bytes": output.stat().st_size},
    )
    return 0


def _print_settings(args: argparse.Namespace) -> int:
    if args.version is None:
        raise ArgumentError("--print-config-settings/--print-environment need --version")
    plan = plan_for(args.version, args.profile, args.platform)
    if args.print_config_settings:
        line = plan.cibuildwheel_config_settings()
    else:
        line = plan.cibuildwheel_environment()
    print(line)
    write_report(
        args.report,
        {
            "version": str(plan.version),
            "profile": plan.profile.name,
            "platform": plan.platform,
            "config_settings": plan.cibuildwheel_config_settings(),
            "environment": plan.cibuildwheel_environment(),
            "local_environment": build_environment(plan),
        },
    )
    return 0


def _print_summary(built: BuiltNumpy, output: Path) -> None:
    table = Table(title="lean numpy", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("", overflow="fold")
    table.add_row("wheel", str(output))
    table.add_row("wheel bytes", f"{output.stat().st_size:,}")
    table.add_row("profile", built.profile)
    table.add_row("platform tag", built.platform_tag)
    table.add_row("compiler", built.compiler)
    table.add_row("glibc", built.glibc or "this machine's")
    source = "cache" if built.cached else "this run"
    table.add_row("build time", f"{built.build_seconds:.0f} s ({source})")
    table.add_row("meson options", " ".join(s.split("=", 1)[1] for s in built.config_settings))
    console.print(table)
