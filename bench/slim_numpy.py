"""Benchmark: slim PyPI's numpy 1.26.4 wheel and compare with the traced floor.

Prints the final wheel bytes, oracle runs, wall seconds, and the traced floor: the size of a
wheel holding exactly the files a traced inference run uses (after the recipe's source edits),
stripped where the slimmer found stripping safe. Target: result <= floor + 2%, <= 40 oracle runs,
<= 300 s on 2 cores. Run: python bench/slim_numpy.py [--version 1.26.4] [--runtime SPEC]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.minimize import content_key  # noqa: E402
from builder.pypi import download_wheel  # noqa: E402
from builder.slim import SlimOptions, slim_wheel  # noqa: E402
from builder.wheelfile import Wheel  # noqa: E402


def traced_floor(source: Path, report: dict, out: Path) -> int:
    """Bytes of a wheel with exactly the traced members (+ metadata), edited and stripped."""
    slim = Wheel.open(Path(report["output"]))
    wheel = Wheel.open(source)
    traced = set(report["traced"])
    drop = [n for n in wheel.names() if not wheel.is_dist_info(n) and n not in traced]
    wheel.remove(drop)
    for name in traced:
        if name in slim.names():
            wheel.replace(name, slim.read(name))
    wheel.set_local_version("floor")
    return wheel.write(out).stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.26.4")
    parser.add_argument("--runtime")
    args = parser.parse_args()
    source = download_wheel(f"numpy=={args.version}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = slim_wheel(source, SlimOptions(runtime=args.runtime, out_dir=Path(tmp)))
        seconds = time.monotonic() - started
        report = result.to_dict()
        floor = traced_floor(source, report, Path(tmp) / "floor")
    target = int(floor * 1.02)
    rows = {
        "input wheel bytes": result.input_bytes,
        "slim wheel bytes": result.output_bytes,
        "traced floor bytes": floor,
        "target (floor + 2%)": target,
        "oracle runs": result.oracle_runs,
        "cache hits": result.cache_hits,
        "wall seconds": round(seconds, 1),
    }
    for label, value in rows.items():
        print(f"{label:>22}: {value:,}" if isinstance(value, int) else f"{label:>22}: {value}")
    verdict = result.output_bytes <= target and result.oracle_runs <= 40 and seconds <= 300
    print(f"{'meets targets':>22}: {verdict}")
    print(json.dumps({"key": content_key([str(v) for v in rows.values()])[:12]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
