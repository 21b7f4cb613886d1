"""Terminal output: one rich console on stderr, so stdout stays free for machine-readable data."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, highlight=False, soft_wrap=True)


# Messages are plain text: file names and recipe keys such as [slim] must not be read as markup.
def info(message: str) -> None:
    console.print(escape(message))


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {escape(message)}")


def step(message: str) -> None:
    console.print(f"[bold cyan]==>[/bold cyan] {escape(message)}")


def is_interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
