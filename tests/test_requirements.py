"""The one ``requirements-edge.txt`` writer, for the stack's wheels and for published files."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheel_factory import index_wheel

from builder.cache import sha256_file
from builder.index.budget import collect
from builder.index.requirements import REQUIREMENTS, requirements_text, write_requirements
from builder.stack import REQUIREMENTS as STACK_REQUIREMENTS
from builder.stack import StackWheel


def stack_wheels() -> list[StackWheel]:
    return [
        StackWheel("tflite-runtime", "2.14.0+slim", "t.whl", "cd" * 32, 3, 2, "x"),
        StackWheel("numpy", "1.26.4+slim", "n.whl", "ab" * 32, 3, 2, "PyPI wheel, slimmed"),
    ]


def pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_one_file_name_for_every_writer() -> None:
    assert REQUIREMENTS == STACK_REQUIREMENTS == "requirements-edge.txt"


def test_the_stack_pins_every_wheel_by_hash(tmp_path: Path) -> None:
    text = write_requirements(tmp_path / REQUIREMENTS, stack_wheels()).read_text()
    assert pins(text) == [
        "numpy==1.26.4+slim \\",
        f"    --hash=sha256:{'ab' * 32}",
        "tflite-runtime==2.14.0+slim \\",
        f"    --hash=sha256:{'cd' * 32}",
    ]
    assert (
        "#   pip install --no-index --find-links DIR --require-hashes -r requirements-edge.txt"
        in (text.splitlines())
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [REQUIREMENTS]  # nothing else left


def test_several_files_of_a_project_share_one_entry_sorted_and_deduplicated(
    tmp_path: Path,
) -> None:
    first = index_wheel(tmp_path / "a", "Edge_Pkg", "1.0", b"a")
    other = tmp_path / "b" / "edge_pkg-1.0-py3-none-manylinux_2_17_x86_64.whl"
    other.parent.mkdir()
    other.write_bytes(index_wheel(tmp_path / "c", "Edge_Pkg", "1.0", b"b").read_bytes())
    candidates = collect([first, other])
    digests = sorted(sha256_file(p) for p in (first, other))
    text = requirements_text([*candidates, candidates[0]], "--index-url URL", "pins.txt")
    assert pins(text) == [
        "edge-pkg==1.0 \\",
        f"    --hash=sha256:{digests[0]} \\",
        f"    --hash=sha256:{digests[1]}",
    ]
    assert "#   pip install --index-url URL --require-hashes -r pins.txt" in text.splitlines()
    assert requirements_text(reversed(candidates), "--index-url URL", "pins.txt") == text


def test_one_project_at_two_versions_cannot_be_pinned() -> None:
    wheels = [*stack_wheels(), StackWheel("numpy", "2.0.0", "m.whl", "ef" * 32, 3, 2, "x")]
    with pytest.raises(ValueError, match="numpy is pinned at two versions"):
        requirements_text(wheels)


def test_the_file_names_itself_in_its_install_line(tmp_path: Path) -> None:
    path = write_requirements(tmp_path / "edge.txt", stack_wheels(), "--index-url URL")
    assert "#   pip install --index-url URL --require-hashes -r edge.txt" in path.read_text()
