"""Benchmark: the smallest tflite-runtime for your models: size profiles and selective builds.

Builds tflite-runtime from a TensorFlow tree for this interpreter's CPython in seven
configurations (ccache makes the later ones quick): full/speed (upstream's flags), full/size,
full/size-lto, selective/speed (upstream's flags, only the smoke models' operators),
selective/size for the smoke models with and without XNNPACK, and selective/size for one model.
Prints each wheel's and module's bytes, and per smoke model the median inference time against
full/speed: the median over rounds of each round's median (configurations alternate in each
round, each in a fresh process: a process's code layout alone moves these 10-80 us inferences by
up to 15 %, so few rounds are noise). Targets (issue "The smallest runtime
that runs your models"), cp312 linux_x86_64: full/size <= 1.9 MB; selective/size <= 1.5 MB with
XNNPACK, <= 800 KB without; the recommended configuration within 1.10x of full/speed.

Run: python bench/tflite_size.py --source TREE --deps-dir DEPS --tf-version 2.21.0.dev0
         [--out DIR] [--repeats 1000] [--rounds 15] [--measure-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from _inference import measure, timing_request

from builder.environments import create_environment
from builder.resources import smoke_models_dir

ONE_MODEL = "lstm_stateful"
TARGETS = {"full/size": 1_900_000, "selective/size": 1_500_000,
           "selective/size, no XNNPACK": 800_000}  # fmt: skip


@dataclass(frozen=True)
class Config:
    name: str
    flags: tuple[str, ...]
    models: tuple[str, ...] | None = None  # None: every smoke model


def configs() -> list[Config]:
    smoke = str(smoke_models_dir())
    one = str(smoke_models_dir() / f"{ONE_MODEL}.tflite")
    size = ("--profile", "size")
    return [
        Config("full/speed", ()),
        Config("full/size", size),
        Config("full/size-lto", ("--profile", "size-lto")),
        Config("selective/speed", ("--ops-from", smoke)),
        Config("selective/size", (*size, "--ops-from", smoke)),
        Config("selective/size, no XNNPACK", (*size, "--ops-from", smoke, "--no-xnnpack")),
        Config("selective/size, one model", (*size, "--ops-from", one), (ONE_MODEL,)),
    ]


def build(args: argparse.Namespace, config: Config, out: Path) -> Path:
    """Build one configuration into its own directory (full/speed and full/size wheels have
    the same file name); with ``--measure-only``, take the wheel an earlier run built there."""
    out = out / config.name.replace("/", "-").replace(", ", "-").replace(" ", "-")
    report = out / "report.json"
    if args.measure_only:
        if not report.is_file():
            raise SystemExit(f"--measure-only: no earlier build of {config.name} in {out}")
        return Path(json.loads(report.read_text())["wheel_path"])
    command = [sys.executable, "-m", "builder", "build", "tflite-runtime", "--tf-version",
               args.tf_version, "--platform", "linux_x86_64", "--source", str(args.source),
               "--out", str(out), "--report", str(report), *config.flags]  # fmt: skip
    if args.deps_dir:
        command += ["--deps-dir", str(args.deps_dir)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise SystemExit(f"the {config.name} build failed")
    return Path(json.loads(report.read_text())["wheel_path"])


def module_bytes(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as zf:
        return max(i.file_size for i in zf.infolist() if i.filename.endswith((".so", ".pyd")))


def latencies(wheels: dict[str, Path], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Median seconds per model per configuration, configurations alternating in rounds."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in wheels}
    with tempfile.TemporaryDirectory(prefix="bench-tflite-size-") as tmp_name:
        tmp = Path(tmp_name)
        envs = {}
        for index, (name, wheel) in enumerate(wheels.items()):
            envs[name] = create_environment(tmp / f"env{index}")
            envs[name].install([str(wheel)])
        requests = {}
        for config in configs():
            if config.name in wheels:
                requests[config.name] = timing_request(
                    tmp / f"req{len(requests)}", "tflite_runtime.interpreter", args.repeats,
                    only=config.models,
                )  # fmt: skip
        for round_ in range(args.rounds):
            for name, env in envs.items():
                request, models = requests[name]
                result = measure(env, request, tmp / f"{len(samples)}-{round_}-{name[:4]}.json")
                for model in models:
                    samples[name].setdefault(model, []).append(result[model])
    return {n: {m: statistics.median(v) for m, v in s.items()} for n, s in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the TensorFlow tree")
    parser.add_argument("--deps-dir", type=Path, help="local CMake dependencies")
    parser.add_argument("--tf-version", required=True, help="e.g. 2.21.0.dev0")
    parser.add_argument("--out", type=Path, help="keep the wheels and reports here")
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time the wheels an earlier run built into --out, build nothing",
    )
    args = parser.parse_args()
    if args.measure_only and not args.out:
        parser.error("--measure-only needs the --out of an earlier run")
    with tempfile.TemporaryDirectory(prefix="bench-tflite-size-out-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        wheels = {c.name: build(args, c, out) for c in configs()}
        times = latencies(wheels, args)
        base = times["full/speed"]
        models = list(base)
        print(f"{'configuration':<28} {'wheel B':>11} {'module B':>11}  target  " +
              " ".join(f"{m[:12]:>12}" for m in models))  # fmt: skip
        for name, wheel in wheels.items():
            size = wheel.stat().st_size
            target = TARGETS.get(name)
            met = "-" if target is None else ("yes" if size <= target else "NO")
            ratios = " ".join(
                f"{times[name][m] / base[m]:>11.2f}x" if m in times[name] else f"{'-':>12}"
                for m in models
            )
            print(f"{name:<28} {size:>11,} {module_bytes(wheel):>11,}  {met:>6}  {ratios}")
        print("medians (ms) of full/speed: " +
              ", ".join(f"{m} {base[m] * 1000:.3f}" for m in models))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
