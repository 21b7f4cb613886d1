"""The one way this project starts subprocesses: logged, streamed, failing with a typed error."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from .console import console
from .errors import CommandError

Arg = Union[str, "os.PathLike[str]"]
TAIL_LINES = 40
# Commands running now, so that Ctrl-C can end those started by worker threads too.
_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()
# subprocess.CREATE_NEW_PROCESS_GROUP, which the subprocess module defines on Windows only.
CREATE_NEW_PROCESS_GROUP = 0x00000200


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
            **group_options(sys.platform),
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


# Process groups. Every command starts in a group of its own, so that a timeout or Ctrl-C ends it
# with everything it started (compilers under meson, pip's build backends). POSIX: a new session,
# ended with killpg(SIGKILL). Windows has neither: the child gets CREATE_NEW_PROCESS_GROUP, then
# CTRL_BREAK (the console signal a process group can receive) and taskkill /T /F for the whole
# tree. group_options and tree_kill_command hold the difference, so that tests on Linux exercise
# the Windows branch too.


def group_options(platform: str) -> dict[str, Any]:
    """Popen keyword arguments that start a child in a process group of its own."""
    if platform == "win32":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def tree_kill_command(pid: int) -> list[str]:
    """Windows: end ``pid`` and all its descendants, without asking."""
    return ["taskkill", "/T", "/F", "/PID", str(pid)]


def _kill_group(proc: subprocess.Popen[str], platform: str | None = None) -> None:
    """End ``proc`` and every process it started, then reap it."""
    if (platform or sys.platform) == "win32":
        _end_windows_tree(proc)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _end_windows_tree(proc: subprocess.Popen[str]) -> None:
    """CTRL_BREAK to the child's group, then ``taskkill /T /F``; without taskkill, the child."""
    ctrl_break = getattr(signal, "CTRL_BREAK_EVENT", None)  # defined on Windows only
    if ctrl_break is not None:
        with contextlib.suppress(OSError):
            proc.send_signal(ctrl_break)
    try:
        run(tree_kill_command(proc.pid), echo=False, log=False, check=False)
    except CommandError:
        proc.kill()


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
