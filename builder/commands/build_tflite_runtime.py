"""``build tflite-runtime``: a tflite-runtime wheel through TensorFlow's official CMake script."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console, info
from ..errors import ArgumentError
from ..interpreters import running_version
from ..report import add_report_option, write_report
from ..tflite.model import BuildRequest
from ..tflite.plan import execute_plan, make_plan, render_plan, render_summary
from ..tflite.recipe import load_tflite_recipe
from ._options import check_outputs

NAME = "tflite-runtime"
HELP = "build a tflite-runtime wheel with TensorFlow's CMake pip script and our patches"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tf-version",
        required=True,
        metavar="V",
        help="a release in the recipe (2.21.0), or X.Y.Z.devN for a development tree",
    )
    parser.add_argument(
        "--platform",
        required=True,
        choices=["win32", "win_amd64", "linux_x86_64", "linux_aarch64"],
        help="target platform (settings in recipes/tflite-runtime.toml)",
    )
    parser.add_argument(
        "--python",
        default=running_version(),
        metavar="X.Y|PATH",
        help="target CPython: a version (found on PATH, in /opt/python, pyenv or the py "
        "launcher) or an interpreter's path (default: this one)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        metavar="DIR|ARCHIVE",
        help="a TensorFlow tree (patched in place; a tree that already carries the patches is "
        "left as it is) or the release's .tar.gz (checked against the recipe's sha256); "
        "default: download the release",
    )
    parser.add_argument(
        "--deps-dir",
        type=Path,
        metavar="DIR",
        help="local copies of the CMake dependencies (DIR/<name>): build without network",
    )
    parser.add_argument("--out", type=Path, default=Path("dist"), metavar="DIR", help="wheel dir")
    parser.add_argument("--jobs", type=int, metavar="N", help="parallel build jobs")
    parser.add_argument(
        "--ccache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile through ccache (default: when it is installed; its cache lives under "
        "the builder's cache, so a build for a second Python reuses the objects)",
    )
    parser.add_argument(
        "--profile",
        default="speed",
        metavar="NAME",
        help="compiler flags from recipes/tflite-runtime.toml [profiles]: speed (upstream's, "
        "the default), size (-Os, unused code dropped by the linker) or size-lto (size with "
        "link-time optimisation)",
    )
    parser.add_argument(
        "--ops-from",
        type=Path,
        nargs="+",
        metavar="MODEL_OR_DIR",
        help="build a selective runtime: register only the operators of these .tflite models "
        "(directories: every .tflite in them); the wheel carries the operator set and a "
        "+ops.<hash> version label",
    )
    parser.add_argument(
        "--xnnpack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build with the XNNPACK delegate (default); --no-xnnpack: smaller, slower where "
        "XNNPACK does the work",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the full plan and touch nothing (a given tree is checked: version, line "
        "endings, patches, dependencies)",
    )
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="allow a first, unverified source download and record its sha256 in the lock file",
    )
    parser.add_argument(
        "--lock-file",
        type=Path,
        metavar="FILE",
        help="where --allow-unpinned records hashes (default: the user's config directory)",
    )
    parser.add_argument("--no-verify", action="store_true", help="do not run builder.verify")
    parser.add_argument(
        "--no-repair", action="store_true", help="Linux: keep the linux_* tag (no auditwheel)"
    )
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    check_outputs(args, dirs=[] if args.dry_run else ["--out"])
    if args.jobs is not None and args.jobs < 1:
        raise ArgumentError("--jobs must be 1 or more")
    request = BuildRequest(
        tf_version=args.tf_version,
        platform=args.platform,
        python=args.python,
        out=args.out,
        source=args.source,
        deps_dir=args.deps_dir,
        dry_run=args.dry_run,
        allow_unpinned=args.allow_unpinned,
        lock_file=args.lock_file,
        verify=not args.no_verify,
        repair=not args.no_repair,
        jobs=args.jobs,
        ccache=args.ccache,
        profile=args.profile,
        ops_from=tuple(args.ops_from or ()),
        xnnpack=args.xnnpack,
    )
    plan = make_plan(request, load_tflite_recipe())
    _print(render_plan(plan))
    if args.dry_run:
        write_report(args.report, plan.to_dict())
        return 0
    try:
        execute_plan(plan)
    finally:
        info("Steps:")
        _print(render_summary(plan))
        write_report(args.report, plan.to_dict())
    info(f"wheel: {plan.wheel_path}")
    return 0


def _print(lines: list[str]) -> None:
    for line in lines:
        console.out(line, highlight=False)
