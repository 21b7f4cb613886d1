"""Delta debugging for removal: find a large set of units whose removal the oracle still allows.

``reduce_removals`` is the complement half of ddmin, run as a binary search: try to remove a whole
chunk of candidate units at once; if the oracle refuses, split the chunk and recurse, carrying
every removal already proven safe. With ``k`` needed units among ``n`` it costs about
``2·k·log2(n/k)`` oracle runs, and one run when nothing is needed. For a monotone oracle (removing
more never repairs anything) the result is 1-minimal: every kept unit was refused on its own.

Verdicts are cached by the candidate's content (``Oracle.key``), so a candidate that recurs, in
this search or a later run, costs nothing. A verdict kept on disk is signed (HMAC-SHA256, with the
cache's own key) over the builder's version, the cache file it belongs to, the candidate's content
key and the verdict itself: an entry that was edited (a verdict flipped), copied from another file,
or written by another builder version fails its check and is judged again, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .cache import atomic_write_text, secret_key
from .console import warn


@dataclass
class SearchStats:
    runs: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    log: list[dict[str, object]] = field(default_factory=list)


class Oracle:
    """Wraps a test function with a content-keyed verdict cache, statistics and a run budget.

    ``test(removed)`` returns True when the candidate without ``removed`` still passes.
    ``key(removed)`` returns a digest of that candidate's content.
    """

    def __init__(
        self,
        test: Callable[[frozenset[str]], bool],
        key: Callable[[frozenset[str]], str],
        *,
        budget: int,
        cache_file: Path | None = None,
        describe: Callable[[frozenset[str]], str] = lambda removed: f"{len(removed)} units",
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._test = test
        self._key = key
        self._describe = describe
        self._progress = progress
        self.budget = budget
        self.stats = SearchStats()
        self._store = VerdictFile(cache_file) if cache_file is not None else None
        self._cache: dict[str, bool] = self._store.load() if self._store is not None else {}

    @property
    def exhausted(self) -> bool:
        return self.stats.runs >= self.budget

    def __call__(self, removed: frozenset[str], purpose: str = "") -> bool:
        key = self._key(removed)
        if key in self._cache:
            self.stats.cache_hits += 1
            verdict = self._cache[key]
            self._progress(f"cached  {self._describe(removed)}: {_word(verdict)}")
            return verdict
        if self.exhausted:
            self._progress(f"budget of {self.budget} oracle runs used up; keeping the rest")
            return False
        started = time.monotonic()
        verdict = self._test(removed)
        seconds = time.monotonic() - started
        self.stats.runs += 1
        self.stats.seconds += seconds
        self.stats.log.append(
            {
                "run": self.stats.runs,
                "purpose": purpose,
                "removed": len(removed),
                "verdict": verdict,
                "seconds": round(seconds, 2),
            }
        )
        self._progress(
            f"run {self.stats.runs:>3}  {purpose:<8} {self._describe(removed)}: "
            f"{_word(verdict)} ({seconds:.1f} s)"
        )
        self._cache[key] = verdict
        self._save()
        return verdict

    def _save(self) -> None:
        if self._store is not None:
            self._store.save(self._cache)


class VerdictFile:
    """Verdicts on disk, each signed with the key of the directory holding them (see the module
    doc); ``load`` returns only the entries whose signature holds."""

    def __init__(self, path: Path, version: str = __version__) -> None:
        self.path = path
        self.version = version

    def load(self) -> dict[str, bool]:
        if not self.path.exists():
            return {}
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))["verdicts"]
            items = list(entries.items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            warn(f"{self.path}: unreadable verdict cache, ignored; every candidate is judged anew")
            return {}
        key = secret_key(self.path.parent)
        valid = {
            name: entry["pass"]
            for name, entry in items
            if isinstance(entry, dict)
            and isinstance(entry.get("pass"), bool)
            and isinstance(entry.get("mac"), str)
            and hmac.compare_digest(entry["mac"], self._mac(key, name, entry["pass"]))
        }
        if len(valid) < len(items):
            warn(
                f"{self.path}: ignored {len(items) - len(valid)} of {len(items)} verdicts that"
                " fail their check (edited, copied, or written by another builder version);"
                " those candidates are judged again"
            )
        return valid

    def save(self, verdicts: Mapping[str, bool]) -> None:
        key = secret_key(self.path.parent)
        entries = {
            name: {"pass": verdict, "mac": self._mac(key, name, verdict)}
            for name, verdict in verdicts.items()
        }
        data = {"builder": self.version, "verdicts": entries}
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")

    def _mac(self, key: bytes, name: str, verdict: bool) -> str:
        message = content_key([self.version, self.path.name, name, "pass" if verdict else "fail"])
        return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def reduce_removals(
    candidates: Sequence[str],
    oracle: Oracle,
    removed: frozenset[str] = frozenset(),
    purpose: str = "search",
) -> frozenset[str]:
    """Return ``removed`` plus every candidate whose removal the oracle allows (see module doc)."""
    chunk = [c for c in candidates if c not in removed]
    if not chunk:
        return removed
    trial = removed | frozenset(chunk)
    if oracle(trial, purpose):
        return trial
    if len(chunk) == 1 or oracle.exhausted:
        return removed
    middle = len(chunk) // 2
    removed = reduce_removals(chunk[:middle], oracle, removed, purpose)
    return reduce_removals(chunk[middle:], oracle, removed, purpose)


def content_key(parts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _word(verdict: bool) -> str:
    return "pass" if verdict else "FAIL"
