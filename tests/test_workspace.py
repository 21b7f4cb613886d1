"""builder.workspace: swapping a prepared environment's files per candidate, and back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.environments import Environment
from builder.workspace import Workspace

FILES = {
    "pkg/__init__.py": b"import pkg.core\n",
    "pkg/core.py": b"X = 1\n",
    "pkg/sub/__init__.py": b"",
    "pkg/sub/ext.so": b"\x7fELF" + b"\0" * 60,
    "pkg/data/big.bin": bytes(range(256)) * 16,
}


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    env = Environment(tmp_path / "env")
    for name, data in FILES.items():
        path = env.site_packages / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (env.site_packages / "pkg/sub/ext.so").chmod(0o755)
    return Workspace(env, FILES, tmp_path / "stash")


def test_site_packages_is_inside_the_environment(workspace: Workspace, tmp_path: Path) -> None:
    assert workspace.site.is_relative_to(tmp_path / "env")
    assert workspace.site.name == "site-packages"


def test_apply_and_restore_round_trip(workspace: Workspace) -> None:
    original = snapshot(workspace.site)
    removed = frozenset({"pkg/core.py", "pkg/data/big.bin"})
    stripped = b"\x7fELF" + b"\1" * 10
    workspace.apply(removed, {"pkg/sub/ext.so": stripped})
    now = snapshot(workspace.site)
    assert set(now) == set(original) - removed
    assert now["pkg/sub/ext.so"] == (stripped, original["pkg/sub/ext.so"][1])  # mode kept
    # Base content and sizes are still what the members were before the candidate.
    assert workspace.read("pkg/core.py") == FILES["pkg/core.py"]
    assert workspace.read("pkg/sub/ext.so") == FILES["pkg/sub/ext.so"]
    assert workspace.size("pkg/data/big.bin") == len(FILES["pkg/data/big.bin"])
    # Another candidate, then back to nothing removed.
    workspace.apply(frozenset({"pkg/sub/__init__.py"}))
    assert "pkg/core.py" in snapshot(workspace.site)
    assert "pkg/sub/__init__.py" not in snapshot(workspace.site)
    workspace.apply(frozenset())
    assert snapshot(workspace.site) == original


def test_commit_changes_the_base(workspace: Workspace) -> None:
    before = workspace.key(frozenset())
    workspace.commit("pkg/core.py", b"X = 2\n")
    assert workspace.key(frozenset()) != before
    assert workspace.read("pkg/core.py") == b"X = 2\n"
    workspace.apply(frozenset({"pkg/core.py"}))
    workspace.apply(frozenset())
    assert (workspace.site / "pkg/core.py").read_bytes() == b"X = 2\n"


def test_key_is_content_not_history(workspace: Workspace) -> None:
    a = workspace.key(frozenset({"pkg/core.py"}))
    assert a == workspace.key(frozenset({"pkg/core.py"}))
    assert a != workspace.key(frozenset({"pkg/data/big.bin"}))
    same_bytes = {"pkg/sub/ext.so": FILES["pkg/sub/ext.so"]}
    assert workspace.key(frozenset(), same_bytes) == workspace.key(frozenset())
    assert workspace.key(frozenset(), {"pkg/sub/ext.so": b"other"}) != workspace.key(frozenset())
    workspace.apply(frozenset({"pkg/core.py"}), {"pkg/sub/ext.so": b"other"})
    assert workspace.key(frozenset({"pkg/core.py"})) == a  # applying a candidate changes no key


def test_moves_are_renames(workspace: Workspace) -> None:
    inode = os.stat(workspace.site / "pkg/data/big.bin").st_ino
    workspace.apply(frozenset({"pkg/data/big.bin"}))
    workspace.apply(frozenset())
    assert os.stat(workspace.site / "pkg/data/big.bin").st_ino == inode
