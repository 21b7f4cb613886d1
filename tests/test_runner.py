"""builder.runner.run: real subprocesses, typed failures carrying the last line of output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.errors import CommandError
from builder.runner import (
    CREATE_NEW_PROCESS_GROUP,
    _kill_group,
    first_error,
    format_command,
    group_options,
    run,
    set_verbose,
    tree_kill_command,
)

PY = sys.executable


def test_output_is_collected_in_order() -> None:
    result = run([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr)"], echo=False)
    assert result.returncode == 0
    # stdout and stderr share one pipe (stdout is block-buffered there, so order may vary).
    assert sorted(result.output.splitlines()) == ["err", "out"]
    assert result.tail() in ("out", "err")


def test_env_is_merged_and_cwd_used(tmp_path: Path) -> None:
    code = "import os; print(os.environ['RUNNER_TEST'], os.getcwd(), 'PATH' in os.environ)"
    result = run([PY, "-c", code], env={"RUNNER_TEST": "42"}, cwd=tmp_path, echo=False)
    assert result.output.split() == ["42", str(tmp_path), "True"]


def test_stdin_data() -> None:
    result = run([PY, "-c", "print(input()[::-1])"], stdin_data="abc\n", echo=False)
    assert result.output.strip() == "cba"


def test_missing_program() -> None:
    with pytest.raises(CommandError, match=r"cannot run /no/such/program: No such file"):
        run(["/no/such/program", "--flag"], echo=False)


def test_non_zero_exit_names_the_command_and_its_last_line() -> None:
    code = "print('working'); print('fatal: disk on fire'); print(''); raise SystemExit(3)"
    with pytest.raises(CommandError) as info:
        run([PY, "-c", code], echo=False)
    error = info.value
    assert error.returncode == 3
    assert "failed with exit code 3: fatal: disk on fire" in str(error)
    assert "\n" not in str(error)
    assert "working" in error.output


def test_non_zero_exit_without_check() -> None:
    result = run([PY, "-c", "print('x'); raise SystemExit(5)"], echo=False, check=False)
    assert (result.returncode, result.output) == (5, "x\n")


def test_signal_is_named() -> None:
    with pytest.raises(CommandError, match="was killed by SIGKILL"):
        run([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], echo=False)


def test_realtime_signal_is_named_too() -> None:
    with pytest.raises(CommandError, match="was killed by signal 40"):
        run(["sh", "-c", "kill -40 $$"], echo=False)


def test_timeout_kills_the_process_group_and_keeps_the_last_line(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild-survived"
    script = tmp_path / "slow.py"
    # The child starts a grandchild that would write the marker after 1.5 s: killing the whole
    # process group must stop it too.
    late = f"import time; time.sleep(1.5); open({str(marker)!r}, 'w')"
    script.write_text(
        "import subprocess, sys, time\n"
        f"late = {late!r}\n"
        "subprocess.Popen([sys.executable, '-c', late])\n"
        "print('started the slow part', flush=True)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        run([PY, script], timeout=0.5, echo=False)
    assert time.monotonic() - started < 10
    error = info.value
    assert error.returncode is None
    assert "timed out after 0.5 s: started the slow part" in str(error)
    time.sleep(max(0.0, started + 2.5 - time.monotonic()))
    assert not marker.exists()


def test_format_command_quotes() -> None:
    assert format_command(["echo", "a b", Path("/x")]) == "echo 'a b' /x"


# -- logged commands: output to a file, the first error on failure --------------------------------

COMPILER_LIKE = """
import sys
print("[ 10%] Building CXX object a.o")
print("c++ -Werror=unused-parameter -o a.o -c a.cc")
print("a.cc:3:5: error: 'x' was not declared in this scope", file=sys.stderr)
print("b.cc:9:1: error: later error")
print("make[2]: *** [CMakeFiles/a.dir/a.cc.o] Error 1")
sys.exit(2)
"""


def test_logged_output_goes_to_the_file_not_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    log = tmp_path / "logs" / "build.log"
    chatter = [PY, "-c", "print('compiler', 'chatter')"]
    run(chatter, log_file=log, progress="building")
    run([PY, "-c", "print('second', 'command')"], log_file=log)
    text = log.read_text()
    assert "compiler chatter" in text and "second command" in text  # appended, in order
    assert text.index("compiler chatter") < text.index("second command")
    assert text.startswith(f"$ {format_command(chatter)}\n")
    assert "compiler chatter" not in capsys.readouterr().err


def test_a_logged_failure_names_the_first_error_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    with pytest.raises(CommandError) as caught:
        run([PY, "-c", COMPILER_LIKE], log_file=log)
    message = str(caught.value)
    assert message.endswith(
        f"failed with exit code 2: a.cc:3:5: error: 'x' was not declared in"
        f" this scope (full log: {log})"
    )
    assert "Error 1" in log.read_text()


def test_verbose_streams_logged_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    set_verbose(True)
    try:
        run([PY, "-c", "print('streamed line')"], log_file=tmp_path / "build.log")
    finally:
        set_verbose(False)
    assert "streamed line" in capsys.readouterr().err
    assert "streamed line" in (tmp_path / "build.log").read_text()


@pytest.mark.parametrize(
    ("output", "first"),
    [
        ("ok\nCMake Error at CMakeLists.txt:9 (add_subdirectory):\n\n  not a directory\n",
         "CMake Error at CMakeLists.txt:9 (add_subdirectory): not a directory"),
        ("x.cc(12): error C2065: 'y': undeclared identifier\n",
         "x.cc(12): error C2065: 'y': undeclared identifier"),
        ("Traceback (most recent call last):\n  ...\nModuleNotFoundError: No module named 'np'\n",
         "ModuleNotFoundError: No module named 'np'"),
        ("ERROR: Could not find a version that satisfies the requirement numpy==9\n",
         "ERROR: Could not find a version that satisfies the requirement numpy==9"),
        ("cc -Werror=format -c a.c\nmake: *** [all] Error 2\n", "make: *** [all] Error 2"),
        ("warnings only\n", None),
    ],
)  # fmt: skip
def test_first_error(output: str, first: str | None) -> None:
    assert first_error(output) == first


# -- Windows process control, exercised on Linux ------------------------------------------------


def test_children_start_in_a_group_of_their_own_on_each_platform() -> None:
    assert group_options("linux") == {"start_new_session": True}
    assert group_options("darwin") == {"start_new_session": True}
    assert group_options("win32") == {"creationflags": CREATE_NEW_PROCESS_GROUP}
    assert getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) == CREATE_NEW_PROCESS_GROUP
    assert tree_kill_command(4242) == ["taskkill", "/T", "/F", "/PID", "4242"]


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether ``pid`` has ended (exited, or a zombie waiting for init) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _hanging_tree(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """A real child (in its own group, as run() starts it here) with a grandchild, both hanging.
    The child records SIGUSR1, which stands in for CTRL_BREAK on Linux, in ``break``."""
    script = tmp_path / "child.py"
    script.write_text(
        "import pathlib, signal, subprocess, sys, time\n"
        f"mark = pathlib.Path({str(tmp_path / 'break')!r})\n"
        "signal.signal(signal.SIGUSR1, lambda *_: mark.write_text('break'))\n"
        "grandchild = subprocess.Popen(['sleep', '60'])\n"
        "print(grandchild.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [PY, script], stdout=subprocess.PIPE, text=True, **group_options(sys.platform)
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def test_windows_branch_breaks_then_taskkills_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A taskkill for Linux: records its arguments, waits for the break to have arrived (up to
    # 5 s), then ends the tree as taskkill /T /F does.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    taskkill = bin_dir / "taskkill"
    taskkill.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/taskkill.args\n'
        f"for _ in $(seq 50); do [ -e {tmp_path}/break ] && break; sleep 0.1; done\n"
        'kill -s KILL -- "-$4"\n'
    )
    taskkill.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(signal, "CTRL_BREAK_EVENT", signal.SIGUSR1, raising=False)
    child, grandchild = _hanging_tree(tmp_path)
    _kill_group(child, platform="win32")
    assert (tmp_path / "break").read_text() == "break"
    assert (tmp_path / "taskkill.args").read_text().split() == ["/T", "/F", "/PID", str(child.pid)]
    assert child.returncode == -signal.SIGKILL  # reaped
    assert _gone(grandchild)


def test_windows_branch_without_taskkill_still_ends_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child, grandchild = _hanging_tree(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no taskkill
    try:
        _kill_group(child, platform="win32")
        assert child.returncode == -signal.SIGKILL  # the child at least, and reaped
    finally:
        os.kill(grandchild, signal.SIGKILL)
