"""Benchmark: lean numpy's wheel bytes, one row per size step (issue 14).

For one numpy release on this interpreter (1.26.4 under CPython 3.11 with tflite-runtime 2.14;
2.5.x under CPython 3.12 with ai-edge-litert: run the script with each interpreter), every row
measured on its own:

1. lean build (``size`` profile, this machine's glibc): ``build numpy``
2. slimmed as before, docstrings kept, zlib deflate: ``slim --keep-docstrings --compress deflate``
3. + docstrings blanked and comments dropped (recipe edit): ``slim --compress deflate``
4. + zopfli recompression of the final wheel (the default): ``slim``

With ``--glibc 2.28`` also:

5. lean build with zig against glibc 2.28: ``build numpy --glibc 2.28``
6. that build slimmed with every step: ``slim`` of it

Every slimmed wheel passed the slimmer's final check: a fresh ``pip install``, every smoke model
byte-identical to the stock (PyPI) stack. Targets: row 4 <= 1,000,000 B; row 6 <= row 4 + 10 %
and tagged manylinux_2_28 or older.
Run: python bench/numpy_steps.py --version 1.26.4 [--glibc 2.28] [--runtime SPEC] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.dependencies import glibc_floor
from builder.numpy_build import BuiltNumpy, build_numpy
from builder.slim import SlimOptions, SlimResult, slim_wheel
from builder.wheelfile import Wheel
from builder.zipwrite import DEFLATE, ZOPFLI

TARGET = 1_000_000
GLIBC_MARGIN = 1.10


def slim(built: BuiltNumpy, out: Path, runtime: str | None, **changes: Any) -> SlimResult:
    options = SlimOptions(runtime=runtime, out_dir=out, label=built.slim_label)
    result = slim_wheel(built.path, dataclasses.replace(options, **changes))
    assert result.verification is not None
    assert all(r.identical for r in result.verification.results), "outputs differ"
    return result


def show(rows: list[tuple[str, int, str, str]], row: tuple[str, int, str, str]) -> None:
    """Keep the row and print it at once: a later step's failure must not lose it."""
    rows.append(row)
    label, size, platform, note = row
    print(f"ROW {label:<44} {size:>11,} B  {platform:<24} {note}", flush=True)


def tag(path: Path) -> str:
    return ".".join(sorted({t.platform for t in Wheel.open(path).tags}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="numpy release, e.g. 1.26.4 or 2.5.5")
    parser.add_argument("--runtime", help="runtime spec (default: this interpreter's default)")
    parser.add_argument("--glibc", help="also build against this glibc with zig, e.g. 2.28")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the rows as JSON")
    args = parser.parse_args()
    rows: list[tuple[str, int, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-numpy-steps-") as tmp:
        out = Path(tmp)
        lean = build_numpy(args.version, runtime=args.runtime)
        show(rows, ("1 lean build", lean.wheel_bytes, lean.platform_tag, "build numpy"))
        steps: tuple[tuple[str, dict[str, Any]], ...] = (
            ("2 slimmed (docstrings kept, deflate)", {"docstrings": False, "compression": DEFLATE}),
            ("3 + docstrings blanked, comments dropped", {"compression": DEFLATE}),
            ("4 + zopfli", {"compression": ZOPFLI}),
        )
        for number, (label, changes) in enumerate(steps, start=2):
            result = slim(lean, out / f"step{number}", args.runtime, **changes)
            assert result.output is not None
            runs = f"{result.oracle_runs} oracle runs, {result.seconds:.0f} s"
            show(rows, (label, result.output_bytes, tag(result.output), runs))
        if args.glibc:
            zig = build_numpy(args.version, runtime=args.runtime, glibc=args.glibc)
            label = f"5 lean build, zig, glibc {args.glibc}"
            show(rows, (label, zig.wheel_bytes, zig.platform_tag, zig.compiler))
            result = slim(zig, out / "step6", args.runtime)
            assert result.output is not None
            runs = f"{result.oracle_runs} oracle runs, {result.seconds:.0f} s"
            row = ("6 zig build slimmed (all steps)", result.output_bytes, tag(result.output), runs)
            show(rows, row)
    print(f"numpy {args.version}, CPython {sys.version_info[0]}.{sys.version_info[1]}")
    for label, size, platform, note in rows:
        print(f"{label:<44} {size:>11,} B  {platform:<24} {note}")
    step4 = rows[3][1]
    checks = {f"step 4 <= {TARGET:,} B": step4 <= TARGET}
    if args.glibc:
        floor = glibc_floor(rows[5][2].split(".")[0])
        wanted = tuple(int(n) for n in args.glibc.split("."))
        checks["step 6 within +10 % of step 4"] = rows[5][1] <= step4 * GLIBC_MARGIN
        checks[f"step 6 tagged glibc <= {args.glibc}"] = floor is not None and floor[0] <= wanted
    for label, ok in checks.items():
        print(f"{label:<44} {'pass' if ok else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "checks": checks}, indent=1) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
