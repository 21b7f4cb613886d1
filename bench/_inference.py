"""Shared by the benchmarks: the median time of one inference per smoke model in an environment.

``timing_request`` writes the request (runtime module, models, repeats); ``measure`` runs the
timer script with the environment's interpreter and returns {model name: median seconds}, plus
numpy's own costs (matmul, inv, cast, round/clip) when asked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.environments import Environment
from builder.runner import run
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

if request["numpy_ops"]:
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


def timing_request(
    directory: Path,
    module: str,
    repeats: int,
    *,
    numpy_ops: bool = False,
    only: Sequence[str] | None = None,
) -> tuple[Path, list[str]]:
    """Write the timer's request for the smoke models (``only`` these, if given); return it and
    the models' names."""
    models = [
        {"name": m.name, "path": str(m.path), "inputs": str(m.inputs)}
        for m in load_models()
        if m.inputs is not None and (only is None or m.name in only)
    ]
    directory.mkdir(parents=True, exist_ok=True)
    request = directory / "request.json"
    request.write_text(
        json.dumps({"module": module, "models": models, "repeats": repeats, "numpy_ops": numpy_ops})
    )
    return request, [m["name"] for m in models]


def measure(env: Environment, request: Path, out: Path) -> dict[str, float]:
    script = request.with_name("timer.py")
    script.write_text(TIMER)
    run([env.python, script, request, out], echo=False)
    return json.loads(out.read_text())
