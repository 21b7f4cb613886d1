"""Benchmark: slim PyPI's numpy 1.26.4 wheel and compare with the traced floor.

Prints the final wheel bytes, oracle runs, wall seconds, and the traced floor: the size of a
wheel holding exactly the files a traced inference run uses (after the recipe's source edits),
stripped where the slimmer found stripping safe. Targets (issue 3): result <= floor + 2%,
<= 40 oracle runs, <= 300 s on 2 cores.

The search starts from an empty verdict cache unless ``--warm`` is given, so the oracle runs
printed are what a first slim costs. Run: python bench/slim_numpy.py [--version 1.26.4]
[--runtime SPEC] [--warm] [--report FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.pypi import download_wheel
from builder.slim import SlimOptions, slim_wheel
from builder.wheelfile import Wheel

MAX_ORACLE_RUNS = 40
MAX_SECONDS = 300
FLOOR_MARGIN = 1.02


def traced_floor(source: Path, slim_path: Path, traced: list[str], out: Path) -> int:
    """Bytes of a wheel with exactly the traced members (+ metadata), edited and stripped as in
    the slim wheel where it kept them."""
    slim = Wheel.open(slim_path)
    kept_in_slim = set(slim.names())
    wheel = Wheel.open(source)
    wanted = set(traced)
    wheel.remove([n for n in wheel.names() if not wheel.is_dist_info(n) and n not in wanted])
    for name in sorted(wanted & kept_in_slim):
        wheel.replace(name, slim.read(name))
    wheel.set_local_version("floor")
    return wheel.write(out).stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.26.4")
    parser.add_argument("--runtime")
    parser.add_argument("--warm", action="store_true", help="reuse cached oracle verdicts")
    parser.add_argument("--report", type=Path, metavar="FILE.json")
    args = parser.parse_args()
    source = download_wheel(f"numpy=={args.version}")
    with tempfile.TemporaryDirectory(prefix="bench-slim-numpy-") as tmp:
        if not args.warm:
            # Verdicts are cached under the cache root: a fresh root means a cold search.
            os.environ["TFLITE_EDGE_BUILDER_CACHE"] = str(Path(tmp, "cache"))
        started = time.monotonic()
        result = slim_wheel(source, SlimOptions(runtime=args.runtime, out_dir=Path(tmp, "out")))
        seconds = time.monotonic() - started
        assert result.output is not None
        floor = traced_floor(source, result.output, result.traced, Path(tmp, "floor"))
    target = int(floor * FLOOR_MARGIN)
    rows: dict[str, object] = {
        "input wheel bytes": result.input_bytes,
        "slim wheel bytes": result.output_bytes,
        "traced floor bytes": floor,
        "target (floor + 2%)": target,
        "traced members": len(result.traced),
        "oracle runs": result.oracle_runs,
        "cache hits": result.cache_hits,
        "wall seconds": round(seconds, 1),
    }
    checks = {
        "size <= floor + 2%": result.output_bytes <= target,
        f"oracle runs <= {MAX_ORACLE_RUNS}": result.oracle_runs <= MAX_ORACLE_RUNS,
        f"wall seconds <= {MAX_SECONDS}": seconds <= MAX_SECONDS,
        "all models identical": result.verification is not None
        and all(r.identical for r in result.verification.results),
    }
    for label, value in rows.items():
        print(f"{label:>24}: {value:,}" if isinstance(value, int) else f"{label:>24}: {value}")
    for label, ok in checks.items():
        print(f"{label:>24}: {'pass' if ok else 'FAIL'}")
    if args.report:
        data = {"results": rows, "checks": checks, "warm": args.warm, "source": source.name}
        args.report.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
