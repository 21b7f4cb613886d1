"""``python -m builder``: a thin dispatcher over the subcommand modules in ``builder.commands``.

Ctrl-C ends a run cleanly: the commands still running are killed with their process groups,
temporary directories are removed (pip's too: its TMPDIR lies inside ours), nothing reaches the
output, exit code 130. SIGTERM (CI runners, systemd, ``timeout``) does the same with exit code 143
(128 + 15). A builder started with SIGINT ignored (a background job of a script,
``nohup tflite-edge-builder ... &``) leaves it ignored, as Python and POSIX tools do: the shell
ignores SIGINT for such jobs so that Ctrl-C at the terminal stops only the foreground command, and
a builder that re-armed it would die of a Ctrl-C meant for another. An ignored SIGTERM likewise.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from rich.markup import escape

from . import __version__
from .commands import COMMANDS
from .console import console
from .errors import BuilderError
from .runner import Terminated, kill_running, set_verbose, sigterm_raises

PROG = "python -m builder"
SCRIPT = "tflite-edge-builder"  # the console script of an installed builder (pyproject.toml)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build, slim, verify and publish small TensorFlow Lite inference stacks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream the output of compilers, CMake and meson (otherwise it goes to a log file)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        sub = subparsers.add_parser(
            module.NAME, help=module.HELP, description=module.HELP.capitalize() + "."
        )
        module.configure_parser(sub)
        sub.set_defaults(execute=module.execute)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    set_verbose(args.verbose)
    try:
        with sigterm_raises():
            return int(args.execute(args))
    except BuilderError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        error = f"[bold red]error:[/bold red] {escape(message)}"
        console.print(error, markup=True, highlight=False)
        return exc.exit_code
    except Terminated:
        kill_running()
        console.print("[bold red]terminated[/bold red]: nothing was written")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        kill_running()
        console.print("[bold red]interrupted[/bold red]: nothing was written to the output")
        return 130


def entry() -> None:
    sys.exit(main(prog=SCRIPT))


if __name__ == "__main__":
    sys.exit(main())
