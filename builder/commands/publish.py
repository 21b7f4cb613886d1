"""``publish WHEEL... --repository-url URL``: upload verified wheels to a private index."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console
from ..errors import ArgumentError
from ..index.budget import DEFAULT_MAX_SIZE, candidates_dict, check_only, format_size, parse_size
from ..index.http import DEFAULT_RETRY, RetryPolicy
from ..index.publish import publish
from ..index.requirements import REQUIREMENTS
from ..report import add_report_option, write_report
from ._options import check_outputs, whole_number

NAME = "publish"
HELP = "upload wheels (each under a size budget) to a private index and pin them by hash"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Credentials are read the twine way: TWINE_USERNAME and TWINE_PASSWORD, or keyring. "
        "They are never printed and never written to the report."
    )
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="wheels to publish")
    parser.add_argument(
        "--repository-url",
        metavar="URL",
        help="upload endpoint of the private index (required unless --check-only)",
    )
    parser.add_argument(
        "--index-url",
        metavar="URL",
        help="its PEP 503 simple index, read to compare files (default: REPOSITORY_URL/simple/, "
        "without a trailing legacy/)",
    )
    parser.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help=f"size budget per wheel, e.g. 5000000, 5MB, 4.5MiB (default {DEFAULT_MAX_SIZE})",
    )
    parser.add_argument(
        "--requirements",
        type=Path,
        default=Path(REQUIREMENTS),
        metavar="FILE",
        help=f"hash-pinned requirements to write (default {REQUIREMENTS})",
    )
    parser.add_argument(
        "--retries",
        type=whole_number(0),
        default=DEFAULT_RETRY.retries,
        metavar="N",
        help="further attempts after a connection error, 5xx or 429, with exponential backoff "
        f"(default {DEFAULT_RETRY.retries}; a 4xx is never retried; each attempt is one request: "
        "twine's own retries are off)",
    )
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="validate the wheels and the size budget, upload nothing",
    )
    add_report_option(parser)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def execute(args: argparse.Namespace) -> int:
    check_outputs(args, files=[] if args.check_only else ["--requirements"])
    if args.check_only:
        candidates = check_only(args.wheels, args.max_size)
        write_report(args.report, candidates_dict(candidates, args.max_size))
        console.print(
            f"[green]{len(candidates)} wheel(s) within the budget of "
            f"{format_size(args.max_size)}[/green]"
        )
        return 0
    if not args.repository_url:
        raise ArgumentError("--repository-url is required (or use --check-only)")
    result = publish(
        args.wheels,
        args.repository_url,
        index_url=args.index_url,
        max_size=args.max_size,
        requirements=args.requirements,
        retry=RetryPolicy(retries=args.retries, backoff=DEFAULT_RETRY.backoff),
    )
    write_report(args.report, result.to_dict())
    uploaded = sum(p.status == "uploaded" for p in result.files)
    console.print(
        f"[green]published {len(result.files)} file(s)[/green] to {result.target.repository_url} "
        f"({uploaded} uploaded, {len(result.files) - uploaded} already there); "
        f"pinned in {result.requirements}"
    )
    return 0
