"""Benchmark: the inference stack's wheel bytes before and after ``stack``, per runtime.

For each runtime with wheels for this interpreter (both on CPython 3.11 Linux), runs the whole
``stack`` job (runtime slim, dependency pruning, numpy lean from source where a compiler exists,
verification of the set together) and prints every wheel's bytes before and after, the stack
totals, the wall time, and whether the targets hold: tflite-runtime stack <= 3.2 MB (issue 14),
ai-edge-litert stack <= 7.0 MB (MB = 10**6 B).
Run: python bench/stack.py [--runtime NAME ...] [--numpy-from auto|source|pypi]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from builder.runtimes import load_runtimes
from builder.stack import NUMPY_SOURCES, StackOptions, build_stack

TARGETS = {"tflite-runtime": 3_200_000, "ai-edge-litert": 7_000_000}


def bench(runtime: str, numpy_from: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = build_stack(
            StackOptions(runtime=runtime, numpy_source=numpy_from, out_dir=Path(tmp))
        )
        seconds = time.monotonic() - started
    in_stack = {w.name for w in result.wheels}
    print(f"\n{result.runtime}")
    print(f"  {'wheel':<34} {'before':>12} {'after':>12}  from")
    for wheel in result.wheels:
        label = f"{wheel.name} {wheel.version}"
        print(f"  {label:<34} {wheel.bytes_before:>12,} {wheel.bytes_after:>12,}  {wheel.origin}")
    for filename, size in sorted(result.stock.items()):
        name = parse_wheel_filename(filename)[0]
        if name not in in_stack:
            print(f"  {name:<34} {size:>12,} {'-':>12}  never imported: dropped")
    target = TARGETS.get(canonicalize_name(Requirement(runtime).name))
    print(
        f"  {'total':<34} {result.bytes_before:>12,} {result.bytes_after:>12,}"
        f"  {len(result.stock)} wheels -> {len(result.wheels)}"
    )
    print(f"  needs glibc {result.glibc.get('needed')} ({result.glibc.get('needed_by')})")
    if target is None:
        print(f"  no size target for {runtime}; {seconds:.0f} s wall")
    else:
        print(f"  target <= {target:,} B: {result.bytes_after <= target}; {seconds:.0f} s wall")
    return {
        "runtime": result.runtime,
        "before": result.bytes_before,
        "after": result.bytes_after,
        "target": target,
        "seconds": round(seconds, 1),
        "glibc": result.glibc,
        "wheels": {w.filename: [w.bytes_before, w.bytes_after] for w in result.wheels},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtime",
        action="append",
        help="runtime(s) to bench (default: every runtime with wheels for this interpreter)",
    )
    parser.add_argument("--numpy-from", choices=NUMPY_SOURCES, default="auto")
    args = parser.parse_args()
    runtimes = args.runtime or [r.name for r in load_runtimes() if r.available_here()]
    results = [bench(runtime, args.numpy_from) for runtime in runtimes]
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
