"""builder.cache: atomic outputs, alone and as a set."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder import cache
from builder.cache import atomic_copy_all, atomic_path, build_lock


def _sources(tmp_path: Path, n: int) -> list[Path]:
    sources = []
    for i in range(n):
        source = tmp_path / "src" / f"f{i}"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(bytes([i]) * (i + 1))
        sources.append(source)
    return sources


def test_atomic_path_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.whl"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list((tmp_path / "out").iterdir()) == []


def test_copy_all_writes_every_target_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = _sources(tmp_path, 3)
    targets = [tmp_path / "out" / s.name for s in sources]
    renamed: list[str] = []
    real_replace = cache.os.replace

    def spy(src: object, dst: object) -> None:
        renamed.append(Path(str(dst)).name)
        real_replace(src, dst)

    monkeypatch.setattr(cache.os, "replace", spy)
    atomic_copy_all(list(zip(sources, targets)))
    assert renamed == ["f0", "f1", "f2"]
    assert [t.read_bytes() for t in targets] == [s.read_bytes() for s in sources]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f0", "f1", "f2"]


def test_copy_all_writes_nothing_when_a_copy_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = _sources(tmp_path, 3)
    targets = [tmp_path / "out" / s.name for s in sources]
    calls = 0
    real_copy = shutil.copyfile

    def interrupted(src: object, dst: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real_copy(src, dst)

    monkeypatch.setattr(cache.shutil, "copyfile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_copy_all(list(zip(sources, targets)))
    assert list((tmp_path / "out").iterdir()) == []


def test_builds_sharing_a_lock_wait_for_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes building in one fixed directory (numpy, a TensorFlow tree): the second
    says so and waits."""
    lock = tmp_path / "locks" / "entry.lock"
    script = (
        "import sys, time; from pathlib import Path\n"
        "from builder.cache import build_lock\n"
        "with build_lock(Path(sys.argv[1]), 'the thing'):\n"
        "    print('locked', flush=True); time.sleep(1.5)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    started = time.monotonic()
    with build_lock(lock, "the thing"):
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited > 0.5
    assert "waiting for another build of the thing to finish" in capsys.readouterr().err
