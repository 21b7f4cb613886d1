"""Terminal output: one rich console on stderr, so stdout stays free for machine-readable data."""

from __future__ import annotations

import os
import sys

from rich.console import Console

console = Console(stderr=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    console.print(message)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {message}")


def step(message: str) -> None:
    console.print(f"[bold cyan]==>[/bold cyan] {message}")


def is_interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
