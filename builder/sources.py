"""TensorFlow source archives: download once into the cache, verify by sha256, extract safely.

A hash pinned in the recipe wins. Without one, the hash of the first download is recorded in a
lock file (``$XDG_CONFIG_HOME/tflite-edge-builder/tflite-runtime.lock``, i.e. under
``~/.config``, or ``--lock-file``: never inside the installed package) and every later download
must match it. That first download is trust-on-first-use, so it happens only with an explicit
``allow_unpinned``, and always from the URL: a file found in the cache is never what gets
recorded. A cached archive that no longer matches its pin is moved aside and downloaded again
(``builder.index.http.download_cached``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archives import extract_tar
from .cache import APP, atomic_write_text, cache_dir, sha256_file
from .console import info, warn
from .errors import DownloadError, RecipeError
from .index.http import download, download_cached

LOCK_NAME = "tflite-runtime.lock"


@dataclass(frozen=True)
class SourceArchive:
    version: str
    url: str
    sha256: str | None  # pinned in the recipe, when known
    root: str  # the single top-level directory inside the archive

    @property
    def filename(self) -> str:
        return f"{self.root}.tar.gz"


@dataclass(frozen=True)
class Pin:
    sha256: str | None
    origin: str  # "recipe", "lock" or "none"
    description: str


def lock_path() -> Path:
    """The user's lock file: trust decisions belong to the user, not to the installed package."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / APP / LOCK_NAME


def load_lock(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecipeError(f"{path}: unreadable lock file: {exc}") from None
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, dict):
        raise RecipeError(f"{path}: lock file lacks a 'sources' table")
    return sources


def pin_for(archive: SourceArchive, lock_file: Path) -> Pin:
    if archive.sha256:
        return Pin(archive.sha256, "recipe", "sha256 pinned in recipes/tflite-runtime.toml")
    entry = load_lock(lock_file).get(archive.url)
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        recorded = f"sha256 recorded in {lock_file.name} on first download"
        return Pin(entry["sha256"], "lock", recorded)
    return Pin(None, "none", f"not pinned: no sha256 in the recipe, no entry in {lock_file.name}")


def fetch(archive: SourceArchive, lock_file: Path, allow_unpinned: bool) -> Path:
    """Return the verified archive in the cache, downloading it if needed."""
    pin = pin_for(archive, lock_file)
    if pin.sha256 is None and not allow_unpinned:
        raise DownloadError(
            f"TensorFlow {archive.version} source is {pin.description}; refusing an unverified "
            f"download. Pin sha256 in the recipe, or pass --allow-unpinned to record the hash of "
            f"this first download in {lock_file} and verify every later download against it"
        )
    target = cache_dir("tflite-runtime", "downloads") / archive.filename
    if pin.sha256 is None:
        download(archive.url, target)
        actual = sha256_file(target)
        record_lock(lock_file, archive, actual)
        warn(f"{archive.filename} was not pinned; recorded sha256 {actual} in {lock_file}")
        return target
    download_cached(archive.url, target, pin.sha256, pinned_by=pin.origin)
    info(f"verified {archive.filename}: {pin.description}")
    return target


def record_lock(lock_file: Path, archive: SourceArchive, sha256: str) -> None:
    sources = load_lock(lock_file)
    sources[archive.url] = {"version": archive.version, "sha256": sha256}
    text = json.dumps({"sources": sources}, indent=2, sort_keys=True) + "\n"
    atomic_write_text(lock_file, text)


def extract(archive_path: Path, root: str, dest: Path) -> Path:
    """Extract ``archive_path`` (whose top directory is ``root``) to ``dest``, replacing it."""
    return extract_tar(archive_path, root, dest)
