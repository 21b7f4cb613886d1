"""Delta debugging for removal: find a large set of units whose removal the oracle still allows.

``reduce_removals`` is the complement half of ddmin, run as a binary search: try to remove a whole
chunk of candidate units at once; if the oracle refuses, split the chunk and recurse, carrying
every removal already proven safe. With ``k`` needed units among ``n`` it costs about
``2·k·log2(n/k)`` oracle runs, and one run when nothing is needed. For a monotone oracle (removing
more never repairs anything) the result is 1-minimal: every kept unit was refused on its own.

Verdicts are cached by the candidate's content (``Oracle.key``), so a candidate that recurs, in
this search or a later run, costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cache import atomic_write_text


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
        self._cache_file = cache_file
        self._cache: dict[str, bool] = _load_cache(cache_file)

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
        if self._cache_file is not None:
            atomic_write_text(self._cache_file, json.dumps(self._cache, sort_keys=True))


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


def _load_cache(path: Path | None) -> dict[str, bool]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}


def _word(verdict: bool) -> str:
    return "pass" if verdict else "FAIL"
