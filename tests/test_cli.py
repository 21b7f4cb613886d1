"""``python -m builder``: dispatch, --help/--report on every command, and one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli
from wheel_factory import build_wheel

from builder import __version__
from builder.__main__ import build_parser


def _leaf_parsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every parser that runs something (``verify``, ``build numpy``, ...), by command path."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return {path.strip(): parser}
    found: dict[str, argparse.ArgumentParser] = {}
    for action in subparsers:
        for name, sub in action.choices.items():
            found.update(_leaf_parsers(sub, f"{path} {name}"))
    return found


LEAVES = _leaf_parsers(build_parser())


def test_verify_and_slim_are_commands() -> None:
    assert {"verify", "slim"} <= set(LEAVES)


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_every_command_takes_a_report(command: str) -> None:
    options = {o for a in LEAVES[command]._actions for o in a.option_strings}
    assert {"--help", "--report"} <= options


@pytest.mark.parametrize("command", ["verify", "slim"])
def test_help(command: str) -> None:
    proc = cli(command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: python -m builder {command}")
    assert "--report FILE.json" in proc.stdout and "--runtime SPEC" in proc.stdout


def test_version_and_usage_errors() -> None:
    proc = cli("--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"python -m builder {__version__}")
    proc = cli()
    assert proc.returncode == 2 and "required: COMMAND" in proc.stderr
    proc = cli("frobnicate")
    assert proc.returncode == 2 and "invalid choice: 'frobnicate'" in proc.stderr
    proc = cli("verify")
    assert proc.returncode == 2 and "WHEEL" in proc.stderr


def test_the_console_script_names_itself(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("tflite-edge-builder")  # installed by pip install -e
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"tflite-edge-builder {__version__}")
    proc = subprocess.run([script, "verify", "--help"], capture_output=True, text=True)
    assert proc.stdout.startswith("usage: tflite-edge-builder verify")


def test_missing_wheel_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "[odd]" / "numpy-1.26.4-py3-none-any.whl"
    proc = cli("verify", missing, "--report", tmp_path / "r.json")
    line = assert_one_line_error(proc)
    assert proc.returncode == 2
    assert line == f"error: {missing}: no such file"  # [brackets] are not eaten as markup
    assert not (tmp_path / "r.json").exists()


def test_bad_runtime_spec_is_one_line(tmp_path: Path) -> None:
    proc = cli("slim", "numpy", "--runtime", "tensorflow", "--out", tmp_path / "out")
    line = assert_one_line_error(proc)
    assert "unknown runtime 'tensorflow'" in line
    assert not (tmp_path / "out").exists()


def test_wrong_package_for_wheel(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in")
    proc = cli("slim", "numpy", "--wheel", wheel, "--out", tmp_path / "out")
    line = assert_one_line_error(proc)
    assert line == "error: demo-1.0-py3-none-any.whl is not a numpy wheel"
    assert not (tmp_path / "out").exists()


def test_slim_refuses_a_bad_label_before_any_work(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "numpy", "1.26.4")
    proc = cli("slim", "numpy", "--wheel", wheel, "--label", "not a label", "--out", tmp_path / "o")
    assert "invalid local version label 'not a label'" in assert_one_line_error(proc)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stack", "--runtime", "tflite-runtime", "--runtime-wheel", "x.whl"], "not both"),
        (["build", "numpy", "--print-environment"], "need --version"),
        (["publish", "x.whl"], "--repository-url is required"),
    ],
)
def test_bad_arguments_are_one_line_before_any_work(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = cli(*args, "--report", tmp_path / "r.json", cwd=tmp_path)
    assert message in assert_one_line_error(proc)
    assert proc.returncode == 2
    assert "downloading" not in proc.stderr
    assert sorted(tmp_path.iterdir()) == []


URL = ["--repository-url", "http://127.0.0.1:9/"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        *(
            (["stack", "--timeout", s], f"--timeout: {s!r} is not a number of seconds above 0")
            for s in ("0", "-1", "nan", "soon")
        ),
        (["verify", "x.whl", "--timeout", "-5"], "--timeout: '-5' is not a number of seconds"),
        (["slim", "numpy", "--version", "abc"], "--version: 'abc' is not a version"),
        (["stack", "--numpy", "two"], "--numpy: 'two' is not a version"),
        (["stack", "--selective", "--tf-version", "2.x"], "--tf-version: '2.x' is not a version"),
        (["slim", "numpy", "--version", "two"], "--version: 'two' is not a version"),
        (["slim", "tflite-runtime", "--version", "two"], "--version: 'two' is not a version"),
        (["build", "numpy", "--version", "1.26.4!"], "--version: '1.26.4!' is not a version"),
        (["build", "numpy", "--print-environment", "--version", "x.y"], "'x.y' is not a version"),
        (["slim", "numpy", "--max-oracle-runs", "-1"], "'-1' is not a whole number of 1 or more"),
        (["stack", "--max-oracle-runs", "0"], "'0' is not a whole number of 1 or more"),
        (["stack", "--max-oracle-runs", "2.5"], "'2.5' is not a whole number of 1 or more"),
        (["publish", "x.whl", *URL, "--retries", "-1"], "'-1' is not a whole number of 0 or more"),
        (["publish", "x.whl", "--max-size", "0"], "size '0' must be positive"),
        (["slim", "numpy", "--keep", "["], "--keep: '[': [ not supported"),
        (["slim", "numpy", "--keep", "/numpy/**"], "member paths are relative"),
        (["slim", "numpy", "--keep", "numpy/../x"], "member paths have no '..'"),
        (["slim", "numpy", "--keep", ""], "an empty pattern matches nothing"),
    ],
)
def test_malformed_values_are_refused_while_parsing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = cli(*args, "--report", tmp_path / "r.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "downloading" not in proc.stderr
    assert sorted(tmp_path.iterdir()) == []
