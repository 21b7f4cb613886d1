"""builder.runner.run: real subprocesses, typed failures carrying the last line of output."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from builder.errors import CommandError
from builder.runner import format_command, run

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
