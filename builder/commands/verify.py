"""``verify WHEEL...``: prove that wheels still run the smoke models (or your own)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..console import console
from ..report import add_report_option, write_report
from ..smoke import ModelResult
from ..verify import VerifyResult, verify_wheels, warn_notes
from ._options import add_models_option, add_timeout_option, check_outputs

NAME = "verify"
HELP = "install wheels into a fresh environment and check that models still run correctly"

STYLES = {"pass": "green", "unusable": "yellow"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="wheels to verify")
    parser.add_argument(
        "--runtime",
        metavar="SPEC",
        help="runtime requirement, e.g. tflite-runtime==2.14.0 or ai-edge-litert (default: the "
        "one with wheels for this interpreter; a runtime wheel among WHEEL wins)",
    )
    add_models_option(
        parser,
        "a directory of NAME.tflite with NAME.input.npz/NAME.expected.npz, or one .tflite file "
        "(expected outputs are then computed on the unmodified stack); default: smoke_models/",
    )
    add_timeout_option(parser)
    add_report_option(parser)


def execute(args: argparse.Namespace) -> int:
    check_outputs(args)
    result = verify_wheels(args.wheels, args.runtime, args.models, timeout=args.timeout)
    print_result(result)
    write_report(args.report, result.to_dict())
    return 0 if result.ok else 1


def print_result(result: VerifyResult) -> None:
    warn_notes(result)
    console.print(results_table(result.results, f"{result.runtime} + {', '.join(result.wheels)}"))
    for r in result.results:
        if not r.ok:
            console.print(f"[bold]{r.model}[/bold] ({r.status}): {r.message}", highlight=False)
    passed = sum(r.ok for r in result.results)
    verdict = "[green]all passed[/green]" if result.ok else "[red]FAILED[/red]"
    console.print(
        f"{verdict}: {passed} of {len(result.results)} models passed in {result.seconds:.1f} s"
    )


def results_table(results: tuple[ModelResult, ...], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("model", "status", "max abs error", "seconds", "detail"):
        table.add_column(column, no_wrap=column != "detail", overflow="ellipsis", max_width=60)
    for r in results:
        style = STYLES.get(r.status, "red")
        error = "" if r.max_abs_error is None else f"{r.max_abs_error:.3g}"
        seconds = f"{r.seconds:.2f}" if r.seconds else ""
        detail = r.message if r.ok else "see below"
        table.add_row(r.model, f"[{style}]{r.status}[/{style}]", error, seconds, detail)
    return table
