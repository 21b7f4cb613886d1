"""``index DIST --out DIR``: write a static PEP 503 simple index for any static file host."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console
from ..index.simple_index import build_index
from ..report import add_report_option, write_report
from ._options import check_outputs

NAME = "index"
HELP = "write a static PEP 503 simple index of the wheels in a directory"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Serve DIR as-is (any static file server or bucket) and install with "
        "pip install --index-url https://HOST/PATH/ (the URL of DIR, trailing slash)."
    )
    parser.add_argument("dist", type=Path, metavar="DIST", help="directory holding the wheels")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="index root to write (new, empty, or an index written earlier by this command)",
    )
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    check_outputs(args, trees=["--out"])
    index = build_index(args.dist, args.out)
    write_report(args.report, index.to_dict())
    console.print(
        f"[green]indexed {len(index.files)} file(s) of {len(index.projects)} project(s)[/green] "
        f"in {index.root}"
    )
    return 0
