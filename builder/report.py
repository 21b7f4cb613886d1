"""Machine-readable reports: ``--report FILE.json`` on every command that produces a result."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .cache import atomic_write_text


def add_report_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report", type=Path, metavar="FILE.json", help="also write the result as JSON to FILE"
    )


def write_report(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
