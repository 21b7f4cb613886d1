"""builder.entry_points: no entry point may outlive the module it names."""

from __future__ import annotations

from pathlib import Path

from wheel_factory import build_wheel

from builder.entry_points import prune_entry_points
from builder.wheelfile import Wheel

DIST = "demo-1.0.dist-info"
ENTRY_POINTS = b"""[console_scripts]
demo-answer = demo.core:answer
demo-tests = demo.tests.test_core:test

[demo.plugins]
ext = demo._speedups:register
pkg = demo:answer
"""


def _wheel(tmp_path: Path) -> Wheel:
    return Wheel.open(
        build_wheel(
            tmp_path / "in",
            files={
                f"{DIST}/entry_points.txt": ENTRY_POINTS,
                "demo/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
            },
        )
    )


def test_nothing_dropped_while_modules_are_present(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    assert prune_entry_points(wheel) == []
    assert wheel.read(f"{DIST}/entry_points.txt") == ENTRY_POINTS


def test_entry_points_of_removed_modules_are_dropped(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    wheel.remove(["demo/tests/test_core.py", "demo/_speedups.cpython-311-x86_64-linux-gnu.so"])
    assert prune_entry_points(wheel) == ["console_scripts:demo-tests", "demo.plugins:ext"]
    written = Wheel.open(wheel.write(tmp_path / "out"))
    text = written.read_text(f"{DIST}/entry_points.txt")
    assert "demo-answer = demo.core:answer" in text
    assert "pkg = demo:answer" in text  # a package counts through its __init__.py
    assert "demo-tests" not in text and "_speedups" not in text


def test_entry_points_file_removed_when_empty(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    wheel.remove(["demo/core.py", "demo/__init__.py", "demo/tests/test_core.py"])
    wheel.remove(["demo/_speedups.cpython-311-x86_64-linux-gnu.so"])
    assert len(prune_entry_points(wheel)) == 4
    written = Wheel.open(wheel.write(tmp_path / "out"))
    assert f"{DIST}/entry_points.txt" not in written.names()


def test_wheel_without_entry_points(tmp_path: Path) -> None:
    wheel = Wheel.open(build_wheel(tmp_path))
    assert prune_entry_points(wheel) == []
