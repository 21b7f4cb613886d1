"""The fault cases of issue 15, end to end: what a careless user, a damaged disk or an attacker
with write access to the cache does, and what the builder must do about it.

* outputs that can never be written (``--out`` is a file, ``--report`` a directory or in an
  unwritable place) are refused in one line before any download, build, search or upload;
* bad arguments (versions, numbers, globs, models) are refused before any environment exists;
* a 500-answering index gets exactly the requests the failure message states;
* a tampered cached wheel (its RECORD made consistent), a truncated one, and a flipped verdict are
  never trusted: moved aside with one warning line and fetched or judged again;
* SIGTERM ends a run like Ctrl-C: children killed, every temporary directory removed (pip's
  too), one line, exit 143.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SMOKE_DIR, assert_one_line_error, cli
from servers import Answer, serve
from wheel_factory import build_wheel

# -- outputs that can never be written -------------------------------------------------------


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory no file can be created in: read-only permissions, or for root (whom
    permissions do not stop) /proc, where the kernel creates nothing on request."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not sys.platform.startswith("linux"):
            pytest.skip("root ignores permissions; /proc is Linux's")
        yield Path("/proc")
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield locked
    finally:
        locked.chmod(stat.S_IRWXU)


def _command_lines(tmp_path: Path, server_url: str) -> dict[str, list[str | Path]]:
    """Each command with arguments that would start real work (a download, a build, an
    environment, an upload) if its outputs were not checked first."""
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
    numpy = build_wheel(tmp_path / "fake", "numpy", "1.26.4")
    platform = ["--platform", "linux_x86_64"]
    return {
        "verify": ["verify", wheel],
        "slim": ["slim", "numpy", "--wheel", numpy, "--no-strip"],
        "stack": ["stack", "--numpy-from", "pypi"],
        "build numpy": ["build", "numpy", "--version", "1.26.4"],
        "build tflite-runtime": ["build", "tflite-runtime", "--tf-version", "2.21.0", *platform],
        "publish": ["publish", wheel, "--repository-url", server_url],
        "index": ["index", tmp_path / "dist"],
    }


OUT = {"slim", "stack", "build numpy", "build tflite-runtime", "index"}
COMMANDS = ["verify", "slim", "stack", "build numpy", "build tflite-runtime", "publish", "index"]


def _refused_before_any_work(
    tmp_path: Path, command: str, extra: list[str | Path], fragment: str
) -> None:
    with serve(lambda request: Answer(500)) as server:
        args = _command_lines(tmp_path, server.url)[command]
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        proc = cli(*args, *extra, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert proc.returncode == 2, proc.stderr
    assert fragment in line, line
    for work in ("downloading", "creating environment", "checking", "indexing", "building"):
        assert work not in proc.stderr, proc.stderr
    assert server.requests == []
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", sorted(OUT))
def test_out_is_a_file(tmp_path: Path, command: str) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory\n")
    _refused_before_any_work(
        tmp_path, command, ["--out", target], f"--out {target}: exists and is not a directory"
    )
    assert target.read_text() == "not a directory\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_report_is_a_directory(tmp_path: Path, command: str) -> None:
    report = tmp_path / "reports"
    report.mkdir()
    extra: list[str | Path] = ["--report", report]
    if command in OUT:
        extra += ["--out", tmp_path / "out"]
    _refused_before_any_work(tmp_path, command, extra, f"--report {report}: is a directory")


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_report(tmp_path: Path, unwritable: Path, command: str) -> None:
    report = unwritable / "report.json"
    extra: list[str | Path] = ["--report", report]
    if command in OUT:
        extra += ["--out", tmp_path / "out"]
    _refused_before_any_work(tmp_path, command, extra, f"cannot write in {unwritable}")
    assert not report.exists()


@pytest.mark.parametrize(
    ("command", "option"),
    [("slim", "--out"), ("index", "--out"), ("publish", "--requirements"), ("verify", "--report")],
)
def test_an_output_below_a_file(tmp_path: Path, command: str, option: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _refused_before_any_work(
        tmp_path, command, [option, blocker / "sub" / "out"], f"below {blocker}, which is not"
    )


def test_unwritable_out_and_requirements(tmp_path: Path, unwritable: Path) -> None:
    _refused_before_any_work(
        tmp_path, "slim", ["--out", unwritable / "dist"], f"cannot write in {unwritable}"
    )
    requirements = unwritable / "requirements-edge.txt"
    _refused_before_any_work(
        tmp_path, "publish", ["--requirements", requirements], f"cannot write in {unwritable}"
    )


# -- models that are not models --------------------------------------------------------------


MALFORMED = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 3],
    "random": lambda good: bytes((i * 7919 + 13) % 251 for i in range(len(good))),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("command", ["verify", "slim", "stack"])
def test_a_malformed_model_is_one_line_before_any_environment(
    tmp_path: Path, command: str, kind: str
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("cnn_float32", "cnn_int8"):  # one good model beside the bad one
        for suffix in (".tflite", ".input.npz", ".expected.npz"):
            shutil.copy(SMOKE_DIR / f"{name}{suffix}", models)
    bad = models / "cnn_int8.tflite"
    bad.write_bytes(MALFORMED[kind](bad.read_bytes()))
    wheel = build_wheel(tmp_path / "dist", "numpy", "1.26.4")
    args: dict[str, list[str | Path]] = {
        "verify": ["verify", wheel],
        "slim": ["slim", "numpy", "--wheel", wheel, "--out", tmp_path / "out"],
        "stack": ["stack", "--out", tmp_path / "out"],
    }
    started = time.monotonic()
    proc = cli(*args[command], "--models", models, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert line.startswith(f"error: {bad}: ")
    assert "not a valid TensorFlow Lite model" in line
    assert proc.returncode == 2
    assert "creating environment" not in proc.stderr and "downloading" not in proc.stderr
    assert time.monotonic() - started < 30  # seconds of parsing, not of environments
    assert not (tmp_path / "out").exists()
