"""The one way this project starts subprocesses: logged, streamed, failing with a typed error."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from .console import console
from .errors import CommandError

Arg = Union[str, "os.PathLike[str]"]
TAIL_LINES = 40
# Commands running now, so that Ctrl-C can end those started by worker threads too.
_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str

    def tail(self, lines: int = 1) -> str:
        meaningful = [line for line in self.output.splitlines() if line.strip()]
        return "\n".join(meaningful[-lines:])


def format_command(cmd: Sequence[Arg]) -> str:
    return shlex.join(os.fspath(part) for part in cmd)


def run(
    cmd: Sequence[Arg],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    echo: bool = True,
    log: bool = True,
    check: bool = True,
    stdin_data: str | None = None,
) -> Result:
    """Run ``cmd``, streaming its combined output to the console when ``echo`` is set.

    ``env`` is merged over ``os.environ``. Raises CommandError if the command cannot start,
    times out, or (with ``check``) exits non-zero; the message carries the last output line.
    """
    args = [os.fspath(part) for part in cmd]
    if log:
        where = f" (in {cwd})" if cwd else ""
        console.print(f"[dim]$ {format_command(args)}{where}[/dim]")
    full_env = {**os.environ, **env} if env is not None else None
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandError(f"cannot run {args[0]}: {exc.strerror or exc}") from None
    with _LOCK:
        _RUNNING.add(proc)
    try:
        output = _collect(proc, echo, stdin_data, timeout, args)
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
    result = Result(proc.returncode, output)
    if check and proc.returncode != 0:
        raise CommandError(_failure_message(args, result), proc.returncode, output)
    return result


def _collect(
    proc: subprocess.Popen[str],
    echo: bool,
    stdin_data: str | None,
    timeout: float | None,
    args: list[str],
) -> str:
    lines: list[str] = []
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            tail.append(line)
            if echo:
                console.out(line.rstrip("\n"), style="dim", highlight=False)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if stdin_data is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin_data)
        proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        reader.join(5)
        output = "".join(lines)
        last = Result(-1, output).tail().strip()
        message = f"{Path(args[0]).name} timed out after {timeout:g} s"
        raise CommandError(message + (f": {last}" if last else ""), None, output) from None
    except KeyboardInterrupt:
        _kill_group(proc)
        raise
    reader.join()
    return "".join(lines)


def kill_running() -> None:
    """Kill every command still running, in any thread (with its process group).

    Ctrl-C interrupts only the main thread: commands that worker threads started (models run in
    parallel) would otherwise run on, and the interpreter would wait for them before exiting."""
    with _LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def signal_name(number: int) -> str:
    """``SIGSEGV`` for 11; real-time signals have no enum member, so ``signal 40`` for 40."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _failure_message(args: list[str], result: Result) -> str:
    name = " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args[:3]))
    if result.returncode < 0:
        how = f"was killed by {signal_name(-result.returncode)}"
    else:
        how = f"failed with exit code {result.returncode}"
    last = result.tail()
    return f"`{name}` {how}" + (f": {last.strip()}" if last else "")
