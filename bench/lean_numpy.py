"""Benchmark: stock (PyPI) numpy vs lean numpy built from source, under the same runtime.

Prints wheel bytes (stock, lean build, lean slimmed; with --with-pypi-slim also the slimmed PyPI
wheel), the median time of one inference per smoke model (lean/stock ratio; target <= 1.05), and
numpy's own costs of dropping BLAS and SIMD dispatch: a 256x256 float32 matmul, np.linalg.inv of
the same matrix, a uint8->float32 cast and a round/clip of a 224x224x3 image (ratios).
Stock and lean run alternately, in rounds, so that load on the shared cores hits both alike.

Run: python bench/lean_numpy.py [--version 1.26.4] [--profile size] [--runtime SPEC]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _inference import measure, timing_request

from builder.environments import Environment, create_environment
from builder.numpy_build import build_numpy, default_specifier
from builder.pypi import download_wheel
from builder.runtimes import resolve_runtime
from builder.slim import SlimOptions, slim_wheel


def environment(root: Path, wheel: Path, runtime: str) -> Environment:
    env = create_environment(root)
    env.install([str(wheel), runtime])
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="numpy release (default: newest the runtime accepts)")
    parser.add_argument("--profile", default="size", help="lean build profile (size, speed)")
    parser.add_argument("--runtime", help="runtime spec (default: this interpreter's default)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating stock/lean rounds")
    parser.add_argument(
        "--with-pypi-slim",
        action="store_true",
        help="also slim the PyPI wheel (minutes) for the size table",
    )
    args = parser.parse_args()
    runtime = resolve_runtime(args.runtime)
    lean = build_numpy(args.version, args.profile, runtime=args.runtime)
    stock = download_wheel(f"numpy=={lean.version}")
    sizes = {"stock wheel (PyPI)": stock.stat().st_size, "lean build": lean.wheel_bytes}
    with tempfile.TemporaryDirectory(prefix="bench-lean-numpy-") as tmp_name:
        tmp = Path(tmp_name)
        options = SlimOptions(runtime=args.runtime, out_dir=tmp / "slim-lean")
        sizes["lean build, slimmed"] = slim_wheel(lean.path, options).output_bytes
        if args.with_pypi_slim:
            options = SlimOptions(runtime=args.runtime, out_dir=tmp / "slim-pypi")
            sizes["PyPI wheel, slimmed"] = slim_wheel(stock, options).output_bytes
        envs = {
            "stock": environment(tmp / "stock", stock, str(runtime.requirement)),
            "lean": environment(tmp / "lean", lean.path, str(runtime.requirement)),
        }
        request, models = timing_request(tmp, runtime.module, args.repeats, numpy_ops=True)
        samples: dict[str, dict[str, list[float]]] = {"stock": {}, "lean": {}}
        for round_ in range(args.rounds):
            for name, env in envs.items():
                result = measure(env, request, tmp / f"{name}-{round_}.json")
                for key, value in result.items():
                    if key != "numpy":
                        samples[name].setdefault(key, []).append(value)
    print(f"numpy {lean.version}, lean profile {lean.profile} ({lean.platform_tag}), {runtime}")
    print(f"the runtime's numpy pin: {default_specifier(args.runtime) or 'none'}")
    for label, value in sizes.items():
        print(f"{label:>28}: {value:>12,} B")
    print(f"{'':>28}  {'stock ms':>10} {'lean ms':>10} {'ratio':>7}")
    worst = 0.0
    for key in samples["stock"]:
        before = statistics.median(samples["stock"][key]) * 1000
        after = statistics.median(samples["lean"][key]) * 1000
        ratio = after / before
        if key in models:
            worst = max(worst, ratio)
        print(f"{key:>28}: {before:>10.3f} {after:>10.3f} {ratio:>7.2f}")
    print(f"{'worst inference ratio':>28}: {worst:.2f} (target <= 1.05: {worst <= 1.05})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
