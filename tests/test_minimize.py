"""builder.minimize: delta debugging over units with a synthetic (but exact) oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from builder.minimize import Oracle, VerdictFile, content_key, reduce_removals

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
    saved = json.loads(cache.read_text())["verdicts"]
    assert len(saved) == oracle.stats.runs
    again, calls = make_oracle({"u09"}, cache_file=cache)
    assert reduce_removals(UNITS, again) == expected
    assert calls == [] and again.stats.runs == 0


def test_corrupt_cache_file_is_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "verdicts.json"
    cache.write_text("{not json")
    oracle, calls = make_oracle(set(), cache_file=cache)
    assert "unreadable verdict cache, ignored" in capsys.readouterr().err
    assert reduce_removals(UNITS, oracle) == frozenset(UNITS)
    assert len(calls) == 1
    assert VerdictFile(cache).load() == {content_key(sorted(UNITS)): True}


def flip(cache: Path, verdict: bool) -> None:
    """Turn every stored verdict to ``verdict``, as an editor of the file would."""
    data = json.loads(cache.read_text())
    for entry in data["verdicts"].values():
        entry["pass"] = verdict
    cache.write_text(json.dumps(data))


@pytest.mark.parametrize("verdict", [True, False])
def test_an_edited_verdict_is_judged_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verdict: bool
) -> None:
    cache = tmp_path / "verdicts.json"
    oracle, _ = make_oracle({"u09"}, cache_file=cache)
    expected = reduce_removals(UNITS, oracle)
    stored = VerdictFile(cache).load()
    flip(cache, verdict)
    capsys.readouterr()
    again, calls = make_oracle({"u09"}, cache_file=cache)
    flipped = sum(v != verdict for v in stored.values())
    assert f"ignored {flipped} of {len(stored)} verdicts that fail their check" in (
        capsys.readouterr().err
    )
    assert reduce_removals(UNITS, again) == expected  # the same result: nothing false trusted
    assert len(calls) == flipped
    assert VerdictFile(cache).load() == stored  # re-judged, re-signed


def test_a_verdict_binds_to_its_file_and_the_builder_version(tmp_path: Path) -> None:
    cache = tmp_path / "verdicts.json"
    VerdictFile(cache).save({"k": True})
    assert VerdictFile(cache).load() == {"k": True}
    assert VerdictFile(cache, version="99.0").load() == {}  # another builder's verdicts
    other = tmp_path / "other-runtime.json"
    other.write_bytes(cache.read_bytes())
    assert VerdictFile(other).load() == {}  # copied to where another runtime's verdicts live
    key = tmp_path / ".key"
    assert len(key.read_bytes()) == 32 and key.stat().st_mode & 0o077 == 0
    key.write_bytes(bytes(32))  # another cache's key
    assert VerdictFile(cache).load() == {}


def test_content_key_separates_parts() -> None:
    assert content_key(["ab", "c"]) != content_key(["a", "bc"])
    assert content_key(["x"]) == content_key(["x"])
