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
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.environments import Environment, create_environment
from builder.numpy_build import build_numpy, default_specifier
from builder.pypi import download_wheel
from builder.runner import run
from builder.runtimes import resolve_runtime
from builder.slim import SlimOptions, slim_wheel
from builder.smoke import load_models

TIMER = r"""
import importlib, json, statistics, sys, time
import numpy as np

request = json.load(open(sys.argv[1]))
Interpreter = importlib.import_module(request["module"]).Interpreter
repeats = request["repeats"]


def median_seconds(call, warmup=3):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


result = {"numpy": np.__version__}
for model in request["models"]:
    interpreter = Interpreter(model_path=model["path"])
    interpreter.allocate_tensors()
    inputs = np.load(model["inputs"])
    arrays = [inputs[f"arr_{i}"] for i in range(len(inputs.files))]
    details = interpreter.get_input_details()
    outputs = interpreter.get_output_details()

    def infer():
        for detail, array in zip(details, arrays):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        return [interpreter.get_tensor(o["index"]) for o in outputs]

    result[model["name"]] = median_seconds(infer)

matrix = np.random.default_rng(0).random((256, 256), dtype=np.float32)
matrix += np.eye(256, dtype=np.float32)
image = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
result["matmul 256x256 f32"] = median_seconds(lambda: matrix @ matrix)
result["linalg.inv 256x256 f32"] = median_seconds(lambda: np.linalg.inv(matrix))
result["cast u8->f32 224x224x3"] = median_seconds(lambda: image.astype(np.float32) / 255.0)
pixels = image.astype(np.float32) * 1.37
result["round+clip 224x224x3"] = median_seconds(lambda: np.clip(np.round(pixels), 0, 255))
json.dump(result, open(sys.argv[2], "w"))
"""


def environment(root: Path, wheel: Path, runtime: str) -> Environment:
    env = create_environment(root)
    env.install([str(wheel), runtime])
    return env


def measure(env: Environment, request: Path, out: Path) -> dict[str, float]:
    script = request.with_name("timer.py")
    script.write_text(TIMER)
    run([env.python, script, request, out], echo=False)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="numpy release (default: newest the runtime accepts)")
    parser.add_argument("--profile", default="size", help="lean build profile (size, speed)")
    parser.add_argument("--runtime", help="runtime spec (default: this interpreter's default)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating stock/lean rounds")
    parser.add_argument("--with-pypi-slim", action="store_true",
                        help="also slim the PyPI wheel (minutes) for the size table")  # fmt: skip
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
        request = tmp / "request.json"
        models = [{"name": m.name, "path": str(m.path), "inputs": str(m.inputs)}
                  for m in load_models() if m.inputs is not None]  # fmt: skip
        request.write_text(json.dumps({"module": runtime.module, "models": models,
                                       "repeats": args.repeats}))  # fmt: skip
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
        if key in {m["name"] for m in models}:
            worst = max(worst, ratio)
        print(f"{key:>28}: {before:>10.3f} {after:>10.3f} {ratio:>7.2f}")
    print(f"{'worst inference ratio':>28}: {worst:.2f} (target <= 1.05: {worst <= 1.05})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
