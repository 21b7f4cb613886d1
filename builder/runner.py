"""The one way this project starts subprocesses: logged, streamed, failing with a typed error.

Short commands stream their output to the console (``echo``). Long tool runs (compilers, CMake,
meson, auditwheel) pass ``log_file``: their output goes to that file, the terminal shows one
progress line (a heartbeat line per minute where stderr is not a terminal), and a failure is
reported with the first error line of the output and the log's path instead of the last
screens of make output. ``set_verbose(True)`` (the CLI's ``-v``) streams everything as well.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

from .console import console
from .errors import CommandError

Arg = Union[str, "os.PathLike[str]"]
TAIL_LINES = 40
# Commands running now, so that Ctrl-C can end those started by worker threads too.
_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()
# subprocess.CREATE_NEW_PROCESS_GROUP, which the subprocess module defines on Windows only.
CREATE_NEW_PROCESS_GROUP = 0x00000200
HEARTBEAT_SECONDS = 60.0
_VERBOSE = False
# The first line that names an error: compilers (gcc/clang ": error:", MSVC ": error C2065:"),
# CMake, pip/meson ("ERROR:"), Python exceptions. make's "*** [...] Error 1" only as a last resort.
_ERROR_LINE = re.compile(
    r":\s*(fatal )?error( [A-Z]+\d+)?:|^CMake Error|^(ERROR|error):|^\w+(Error|Exception): "
)
_MAKE_ERROR = re.compile(r"\*\*\* .*Error \d+|^FAILED: ")


def set_verbose(verbose: bool) -> None:
    """Stream the output of logged commands to the console too (the CLI's ``-v``)."""
    global _VERBOSE
    _VERBOSE = verbose


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
    log_file: Path | None = None,
    progress: str | None = None,
) -> Result:
    """Run ``cmd``, streaming its combined output to the console when ``echo`` is set.

    ``env`` is merged over ``os.environ``. Raises CommandError if the command cannot start,
    times out, or (with ``check``) exits non-zero; the message carries the last output line,
    or, with ``log_file`` (output appended there, not echoed), the first error line and the
    log's path. ``progress`` labels the progress line of a logged command.
    """
    args = [os.fspath(part) for part in cmd]
    where = f" (in {cwd})" if cwd else ""
    if log:
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
    label = progress or Path(args[0]).name
    try:
        with _sink(log_file, echo, label, f"$ {format_command(args)}{where}") as sink:
            output = _collect(proc, sink, stdin_data, timeout, args)
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
    result = Result(proc.returncode, output)
    if check and proc.returncode != 0:
        raise CommandError(_failure_message(args, result, log_file), proc.returncode, output)
    return result


class _Sink:
    """Where a command's output lines go: the console, a log file, a progress line."""

    def __init__(self, echo: bool, log: IO[str] | None, label: str) -> None:
        self.echo = echo or _VERBOSE
        self.log = log
        self.label = label
        self.started = time.monotonic()
        self.last_beat = self.started
        self.status = console.status(label) if log is not None and console.is_terminal else None

    def line(self, line: str) -> None:
        if self.log is not None:
            self.log.write(line)
        if self.echo:
            console.out(line.rstrip("\n"), style="dim", highlight=False)
        elif self.log is not None:
            self._progress(line.strip())

    def _progress(self, last: str) -> None:
        now = time.monotonic()
        text = f"{self.label} · {_minutes(now - self.started)} · {last[:100]}"
        if self.status is not None:
            self.status.update(text)
        elif now - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = now
            console.print(text, markup=False, highlight=False)


@contextlib.contextmanager
def _sink(log_file: Path | None, echo: bool, label: str, header: str) -> Iterator[_Sink]:
    if log_file is None:
        yield _Sink(echo, None, label)
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8", errors="replace") as log:
        log.write(f"{header}\n")
        sink = _Sink(False, log, label)
        if sink.status is None:
            yield sink
            return
        with sink.status:
            yield sink


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def first_error(output: str) -> str | None:
    """The first line of ``output`` that names an error (with CMake's message line after it)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if _ERROR_LINE.search(line.strip()):
            text = line.strip()
            if text.startswith("CMake Error"):
                following = next((x.strip() for x in lines[index + 1 :] if x.strip()), "")
                text = f"{text} {following}".strip()
            return text
    return next((line.strip() for line in lines if _MAKE_ERROR.search(line)), None)


def _collect(
    proc: subprocess.Popen[str],
    sink: _Sink,
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
            sink.line(line)

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


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI runners, systemd and ``timeout`` send), raised where Ctrl-C raises
    KeyboardInterrupt, so that the same cleanup runs: commands killed with their process groups,
    temporary directories removed, nothing half-written."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` in the main thread; the first one only, so that
    a second cannot cut the cleanup short. A SIGTERM ignored or handled when the block starts
    (an inherited SIG_IGN, a host program's handler) is left as it is, as for SIGINT."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _failure_message(args: list[str], result: Result, log_file: Path | None = None) -> str:
    name = " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args[:3]))
    if result.returncode < 0:
        how = f"was killed by {signal_name(-result.returncode)}"
    else:
        how = f"failed with exit code {result.returncode}"
    if log_file is not None:
        error = first_error(result.output) or result.tail()
        return f"`{name}` {how}: {error.strip()} (full log: {log_file})"
    last = result.tail()
    return f"`{name}` {how}" + (f": {last.strip()}" if last else "")
