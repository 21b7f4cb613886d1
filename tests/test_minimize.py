"""builder.minimize: delta debugging over units with a synthetic (but exact) oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from builder.minimize import Oracle, content_key, reduce_removals

UNITS = [f"u{i:02d}" for i in range(40)]


def make_oracle(
    needed: set[str], budget: int = 1000, cache_file: Path | None = None
) -> tuple[Oracle, list[frozenset[str]]]:
    """An oracle that passes exactly when no needed unit is removed (monotone), logging calls."""
    calls: list[frozenset[str]] = []

    def test(removed: frozenset[str]) -> bool:
        calls.append(removed)
        return not removed & needed

    oracle = Oracle(
        test, lambda removed: content_key(sorted(removed)), budget=budget, cache_file=cache_file
    )
    return oracle, calls


@pytest.mark.parametrize(
    "needed",
    [set(), {"u00"}, {"u39"}, {"u07", "u08"}, {"u03", "u17", "u31"}, set(UNITS[::5]), set(UNITS)],
    ids=["none", "first", "last", "adjacent", "three", "every-fifth", "all"],
)
def test_finds_exactly_the_removable_set(needed: set[str]) -> None:
    oracle, calls = make_oracle(needed)
    removed = reduce_removals(UNITS, oracle)
    assert removed == frozenset(UNITS) - needed
    assert oracle.stats.runs == len(calls)
    # 1-minimal: removing any one more unit fails.
    assert all(not oracle(removed | {unit}) for unit in needed)


def test_costs_one_run_when_nothing_is_needed_and_log_bound_otherwise() -> None:
    oracle, _ = make_oracle(set())
    reduce_removals(UNITS, oracle)
    assert oracle.stats.runs == 1
    oracle, _ = make_oracle({"u13"})
    reduce_removals(UNITS, oracle)
    # One needed unit among n: about 2·log2(n) runs.
    assert oracle.stats.runs <= 2 * math.ceil(math.log2(len(UNITS))) + 1


def test_carries_earlier_removals() -> None:
    oracle, calls = make_oracle({"u05"})
    removed = reduce_removals(UNITS[:10], oracle)
    removed = reduce_removals(UNITS[10:], oracle, removed, purpose="second")
    assert removed == frozenset(UNITS) - {"u05"}
    # The second search starts from the first one's result: one run removes all of UNITS[10:].
    assert calls[-1] == removed
    assert [e["purpose"] for e in oracle.stats.log].count("second") == 1
    assert {entry["purpose"] for entry in oracle.stats.log} == {"search", "second"}


def test_budget_is_respected_and_keeps_the_rest() -> None:
    needed = {"u01", "u20", "u33"}
    oracle, calls = make_oracle(needed, budget=8)
    removed = reduce_removals(UNITS, oracle)
    assert oracle.stats.runs == len(calls) == 8
    assert oracle.exhausted
    # Only what a run proved safe is removed: the result is the last accepted candidate.
    accepted = [c for c in calls if not c & needed]
    assert removed == accepted[-1]
    assert removed and not removed & needed
    assert not oracle(removed | {"u39"})  # over budget: an untested candidate is refused
    assert oracle.stats.runs == 8


def test_verdicts_are_cached_by_key() -> None:
    oracle, calls = make_oracle({"u02"})
    first = reduce_removals(UNITS, oracle)
    runs = oracle.stats.runs
    second = reduce_removals(UNITS, oracle)
    assert first == second
    assert oracle.stats.runs == runs == len(calls)
    assert oracle.stats.cache_hits >= runs


def test_key_decides_identity() -> None:
    # Two removal sets with the same key (same content) are judged once.
    calls: list[frozenset[str]] = []
    oracle = Oracle(lambda r: calls.append(r) or True, lambda r: "same", budget=10)
    assert oracle(frozenset({"a"})) and oracle(frozenset({"b"}))
    assert calls == [frozenset({"a"})]
    assert oracle.stats.cache_hits == 1


def test_cache_file_persists_verdicts(tmp_path: Path) -> None:
    cache = tmp_path / "verdicts.json"
    oracle, _ = make_oracle({"u09"}, cache_file=cache)
    expected = reduce_removals(UNITS, oracle)
    saved = json.loads(cache.read_text())
    assert len(saved) == oracle.stats.runs
    again, calls = make_oracle({"u09"}, cache_file=cache)
    assert reduce_removals(UNITS, again) == expected
    assert calls == [] and again.stats.runs == 0


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "verdicts.json"
    cache.write_text("{not json")
    oracle, calls = make_oracle(set(), cache_file=cache)
    assert reduce_removals(UNITS, oracle) == frozenset(UNITS)
    assert len(calls) == 1
    assert json.loads(cache.read_text()) == {content_key(sorted(UNITS)): True}


def test_content_key_separates_parts() -> None:
    assert content_key(["ab", "c"]) != content_key(["a", "bc"])
    assert content_key(["x"]) == content_key(["x"])
