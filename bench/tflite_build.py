"""Benchmark: tflite-runtime built from a TensorFlow tree, one CPython after another, with ccache.

Runs ``python -m builder build tflite-runtime`` for each ``--python`` in order, all sharing one
fresh builder cache (so the first build is cold and the next ones reuse its ccache objects), and
prints per build: wall seconds, the compile step's seconds, ccache hits/misses, wheel and module
bytes, the numpy requirement written into the wheel and the verification results. Then, for each
CPython where PyPI has tflite-runtime 2.14.0 (3.11 and older), the median inference time per
smoke model of the built wheel against the stock one (both under numpy 1.26.4, alternating
rounds). Targets (issue "Build tflite-runtime for real"): wheel <= 3.3 MB (cp312), cold build
<= 25 min, a further Python's build <= 20 % of the cold one.

Run: python bench/tflite_build.py --source TREE --deps-dir DEPS --tf-version 2.21.0.dev0
         [--python 3.12 --python 3.13 --python 3.11] [--keep-cache] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from _inference import measure, timing_request
from packaging.version import Version

from builder.environments import create_environment
from builder.interpreters import find

WHEEL_TARGET = 3_300_000
STOCK = "tflite-runtime==2.14.0"
NUMPY_1 = "numpy==1.26.4"


@dataclass
class Built:
    python: str
    wall_seconds: float
    compile_seconds: float
    ccache: dict[str, int] | None
    wheel: Path
    module_bytes: int
    numpy_requirement: str
    verified_with: list[tuple[str | None, bool | None]]

    @property
    def hits(self) -> str:
        return (
            "-"
            if not self.ccache
            else str(self.ccache["hits_direct"] + self.ccache["hits_preprocessed"])
        )

    @property
    def misses(self) -> str:
        return "-" if not self.ccache else str(self.ccache["misses"])


def build(args: argparse.Namespace, python: str, cache: Path, out: Path) -> Built:
    report = out / f"report-{python}.json"
    command = [sys.executable, "-m", "builder", "build", "tflite-runtime"]
    command += ["--tf-version", args.tf_version, "--platform", args.platform, "--python", python]
    command += ["--source", str(args.source), "--out", str(out), "--report", str(report)]
    if args.deps_dir:
        command += ["--deps-dir", str(args.deps_dir)]
    env = {**os.environ, "TFLITE_EDGE_BUILDER_CACHE": str(cache)}
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise SystemExit(f"the build for CPython {python} failed")
    data = json.loads(report.read_text())
    wheel = Path(data["wheel_path"])
    with zipfile.ZipFile(wheel) as zf:
        module = max(zf.infolist(), key=lambda i: i.file_size)
    script = next(s for s in data["steps"] if s["key"] == "script")
    return Built(
        python=python,
        wall_seconds=round(seconds, 1),
        compile_seconds=script["seconds"],
        ccache=data["ccache_stats"],
        wheel=wheel,
        module_bytes=module.file_size,
        numpy_requirement=data["numpy_requirement"],
        verified_with=[(v.get("numpy"), v.get("ok")) for v in data["verification"]],
    )


def latency(built: Built, repeats: int, rounds: int) -> dict[str, float]:
    """built/stock median inference time per smoke model, both under numpy 1.26.4."""
    interpreter = find(built.python)
    with tempfile.TemporaryDirectory(prefix="bench-tflite-") as tmp_name:
        tmp = Path(tmp_name)
        envs = {}
        for name, runtime in (("stock", STOCK), ("built", str(built.wheel))):
            envs[name] = create_environment(tmp / name, interpreter)
            envs[name].install([runtime, NUMPY_1])
        request, models = timing_request(tmp, "tflite_runtime.interpreter", repeats)
        samples: dict[str, dict[str, list[float]]] = {"stock": {}, "built": {}}
        for round_ in range(rounds):
            for name, env in envs.items():
                result = measure(env, request, tmp / f"{name}-{round_}.json")
                for model in models:
                    samples[name].setdefault(model, []).append(result[model])
    return {
        m: statistics.median(samples["built"][m]) / statistics.median(samples["stock"][m])
        for m in models
    }


def report(builds: list[Built]) -> None:
    cold = builds[0].wall_seconds
    print(
        f"{'CPython':>8} {'wall s':>8} {'compile s':>10} {'of cold':>8} {'hits':>6} "
        f"{'misses':>7} {'wheel B':>11} {'module B':>11}  numpy"
    )
    for b in builds:
        print(
            f"{b.python:>8} {b.wall_seconds:>8} {b.compile_seconds:>10} "
            f"{b.wall_seconds / cold:>8.0%} {b.hits:>6} {b.misses:>7} "
            f"{b.wheel.stat().st_size:>11,} {b.module_bytes:>11,}  {b.numpy_requirement}"
        )
    later = all(b.wall_seconds <= 0.2 * cold for b in builds[1:])
    print(f"cold build <= 1500 s: {cold <= 1500}; later builds <= 20 % of cold: {later}")
    for b in builds:
        size = b.wheel.stat().st_size
        print(
            f"{b.wheel.name}: <= {WHEEL_TARGET:,} B: {size <= WHEEL_TARGET}; "
            f"verified with numpy {b.verified_with}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the TensorFlow tree")
    parser.add_argument("--deps-dir", type=Path, help="local CMake dependencies")
    parser.add_argument("--tf-version", required=True, help="e.g. 2.21.0.dev0")
    parser.add_argument("--platform", default="linux_x86_64")
    parser.add_argument("--python", action="append", help="CPython X.Y, in build order")
    parser.add_argument("--out", type=Path, help="keep the wheels and reports here")
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    pythons = args.python or ["3.12", "3.13", "3.11"]
    with tempfile.TemporaryDirectory(prefix="bench-tflite-cache-") as cache:
        out = args.out or Path(cache) / "out"
        out.mkdir(parents=True, exist_ok=True)
        builds = []
        for python in pythons:
            builds.append(build(args, python, Path(cache), out))
            b = builds[-1]  # a line per build: the whole run takes the better part of an hour
            print(f"built CPython {python}: {b.wall_seconds} s, {b.wheel.name}", flush=True)
        report(builds)
        for b in builds:
            if Version(b.python) <= Version("3.11"):
                print(f"CPython {b.python}: built / stock {STOCK} median inference, {NUMPY_1}")
                for model, ratio in latency(b, args.repeats, args.rounds).items():
                    print(f"{model:>28}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
