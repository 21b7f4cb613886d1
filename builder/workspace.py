"""One prepared environment whose package files are swapped per candidate.

Creating a virtual environment per oracle run would dominate the search; instead the stock wheel
is installed once and each candidate is realised by moving members out to a stash (removal) or
writing replacement bytes (source edits, stripped libraries). Moves are renames: a candidate
costs milliseconds, and every state can be restored exactly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from .environments import Environment
from .minimize import content_key


class Workspace:
    def __init__(self, env: Environment, members: Iterable[str], stash: Path) -> None:
        self.env = env
        self.site = env.site_packages
        self.members = tuple(sorted(members))
        self._stash = stash / "removed"
        self._originals = stash / "originals"
        self._removed: set[str] = set()
        self._overrides: dict[str, str] = {}  # member -> sha256 of the bytes written over it
        self._digests = {name: _sha256(self.site / name) for name in self.members}

    def commit(self, name: str, data: bytes) -> None:
        """Permanently change a member's content (source edits): the base of every candidate."""
        _write(self.site / name, data)
        self._digests[name] = hashlib.sha256(data).hexdigest()

    def apply(self, removed: frozenset[str], overrides: Mapping[str, bytes] | None = None) -> None:
        """Make site-packages hold exactly the members not in ``removed``, with ``overrides``."""
        overrides = overrides or {}
        for name in self.members:
            wanted = name not in removed
            if wanted and name in self._removed:
                _move(self._stash / name, self.site / name)
                self._removed.discard(name)
            elif not wanted and name not in self._removed:
                _move(self.site / name, self._stash / name)
                self._removed.add(name)
        for name in set(self._overrides) | set(overrides):
            self._set_content(name, overrides.get(name))

    def key(self, removed: frozenset[str], overrides: Mapping[str, bytes] | None = None) -> str:
        """A digest of the candidate's content: the names and bytes of what it keeps."""
        overrides = overrides or {}
        parts = []
        for name in self.members:
            if name in removed:
                continue
            digest = hashlib.sha256(overrides[name]).hexdigest() if name in overrides else None
            parts.append(f"{name}={digest or self._digests[name]}")
        return content_key(parts)

    def size(self, name: str) -> int:
        """The member's base size in bytes."""
        original = self._originals / name
        return (original if original.exists() else self._where(name)).stat().st_size

    def read(self, name: str) -> bytes:
        """The member's base content (after commits, before candidate overrides)."""
        original = self._originals / name
        return original.read_bytes() if original.exists() else (self._where(name)).read_bytes()

    def _where(self, name: str) -> Path:
        return self._stash / name if name in self._removed else self.site / name

    def _set_content(self, name: str, data: bytes | None) -> None:
        current = self._overrides.get(name)
        wanted = hashlib.sha256(data).hexdigest() if data is not None else None
        if current == wanted:
            return
        original = self._originals / name
        if data is None:
            _move(original, self._where(name))
            del self._overrides[name]
            return
        if current is None:
            _move(self._where(name), original)
        _write(self._where(name), data, mode_from=original)
        self._overrides[name] = wanted  # type: ignore[assignment]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _write(path: Path, data: bytes, mode_from: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode_from is not None and mode_from.exists():
        shutil.copymode(mode_from, path)
