# /// script
# requires-python = ">=3.9,<3.12"
# dependencies = ["tensorflow==2.15.1", "numpy==1.26.4"]
# ///
"""Regenerate the smoke-test model suite, or check it against another interpreter.

Generation needs TensorFlow (see the inline script metadata above)::

    python smoke_models/generate.py --out smoke_models

Checking needs only numpy and one of tflite_runtime, ai_edge_litert or tensorflow::

    python smoke_models/generate.py --check smoke_models

For each model NAME the suite holds NAME.tflite, NAME.input.npz (arr_0.. in the order of
get_input_details()) and NAME.expected.npz (arr_0.. in the order of get_output_details()),
plus manifest.toml with per-model tolerances. Expected outputs come from the same procedure
the project's runner uses: Interpreter(model_path, num_threads=1), allocate_tensors(), and per
invocation reset_all_variables(), set_tensor(), invoke(), get_tensor().
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

SEED = 20240607
CNN_INPUT_SHAPE = (16, 16, 3)
SEQ_INPUT_SHAPE = (8, 4)
CNN_OPS = (
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "MAX_POOL_2D",
    "MUL",
    "RESHAPE",
    "SOFTMAX",
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    atol: float
    rtol: float
    required_ops: tuple[str, ...]
    invocations: int = 1


SPECS = (
    ModelSpec(
        "cnn_float32",
        "float32 CNN: CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, MAX_POOL_2D, AVERAGE_POOL_2D, "
        "CONCATENATION, RESHAPE, FULLY_CONNECTED, SOFTMAX; two outputs",
        1e-5,
        1e-5,
        CNN_OPS,
    ),
    ModelSpec(
        "cnn_float16",
        "the float32 CNN with float16 weights expanded by DEQUANTIZE at load time",
        1e-5,
        1e-5,
        (*CNN_OPS, "DEQUANTIZE"),
    ),
    ModelSpec(
        "cnn_dynamic_int8",
        "the CNN with dynamic-range int8 weights (hybrid kernels), float32 input and output",
        1e-4,
        1e-4,
        CNN_OPS,
    ),
    ModelSpec(
        "cnn_int8",
        "the CNN fully int8 quantised (representative dataset), int8 input and outputs",
        2,  # integer units; tflite-runtime 2.14 rounds some outputs one step away
        0,
        CNN_OPS,
    ),
    ModelSpec(
        "gru_while",
        "Keras GRU lowered to a WHILE loop with cond/body subgraphs, float32",
        1e-5,
        1e-5,
        ("WHILE",),
    ),
    ModelSpec(
        "lstm_stateful",
        "fused UNIDIRECTIONAL_SEQUENCE_LSTM whose state lives in variable tensors; "
        "outputs depend on state, so reset_all_variables() must run before each invocation",
        1e-5,
        1e-5,
        ("UNIDIRECTIONAL_SEQUENCE_LSTM",),
        invocations=2,
    ),
)


# --------------------------------------------------------------------------------------------
# Running a model: shared by generation and --check, so needs only numpy and an Interpreter.


def run_model(
    interpreter_cls: Callable[..., Any],
    model_path: Path,
    inputs: list[np.ndarray],
    invocations: int,
    reset: bool = True,
) -> list[list[np.ndarray]]:
    """Invoke like the project's runner; return the outputs of every invocation."""
    interpreter = interpreter_cls(model_path=str(model_path), num_threads=1)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()
    output_details = interpreter.get_output_details()
    if len(input_details) != len(inputs):
        raise SystemExit(
            f"{model_path}: {len(inputs)} inputs given, model has {len(input_details)}"
        )
    results = []
    for _ in range(invocations):
        if reset:
            interpreter.reset_all_variables()
        for detail, value in zip(input_details, inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        results.append([interpreter.get_tensor(d["index"]).copy() for d in output_details])
    return results


def load_npz(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def max_diff(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference; integer tensors are compared as integers."""
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        raise SystemExit(
            f"shape/dtype mismatch: {actual.dtype}{actual.shape} "
            f"vs {expected.dtype}{expected.shape}"
        )
    wide = np.int64 if np.issubdtype(expected.dtype, np.integer) else np.float64
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual.astype(wide) - expected.astype(wide))))


def tolerance_used(actual: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> float:
    """Largest |actual - expected| / (atol + rtol * |expected|); at most 1.0 means a match."""
    wide = np.int64 if np.issubdtype(expected.dtype, np.integer) else np.float64
    diff = np.abs(actual.astype(wide) - expected.astype(wide)).astype(np.float64)
    allowed = atol + rtol * np.abs(expected.astype(np.float64))
    if diff.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / allowed)
    return float(np.max(ratio))


def import_interpreter(which: str) -> tuple[str, Callable[..., Any]]:
    candidates = ["tflite_runtime", "ai_edge_litert", "tensorflow"]
    for name in candidates if which == "auto" else [which]:
        try:
            if name == "tensorflow":
                return name, importlib.import_module("tensorflow").lite.Interpreter
            return name, importlib.import_module(f"{name}.interpreter").Interpreter
        except ImportError:
            continue
    raise SystemExit(f"no interpreter importable for --interpreter {which}")


def load_manifest(path: Path) -> list[dict[str, Any]]:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(path.read_text(encoding="utf-8"))["model"]


def check_model(interpreter_cls: Callable[..., Any], folder: Path, entry: dict[str, Any]) -> dict:
    name, invocations = entry["name"], entry["invocations"]
    model_path = folder / f"{name}.tflite"
    inputs = load_npz(folder / f"{name}.input.npz")
    expected = load_npz(folder / f"{name}.expected.npz")
    runs = run_model(interpreter_cls, model_path, inputs, invocations)
    diffs = [max(max_diff(a, e) for a, e in zip(run, expected)) for run in runs]
    used = max(
        tolerance_used(a, e, entry["atol"], entry["rtol"])
        for run in runs
        for a, e in zip(run, expected)
    )
    report: dict[str, Any] = {"max_abs_diff": max(diffs), "tolerance_used": used, "ok": used <= 1}
    if invocations > 1:
        # Without reset the state carries over, so the second invocation must differ.
        unreset = run_model(interpreter_cls, model_path, inputs, 2, reset=False)
        report["stateful"] = any(max_diff(a, e) > 0 for a, e in zip(unreset[1], expected))
        report["ok"] = report["ok"] and report["stateful"]
    return report


def check(folder: Path, which: str) -> int:
    name, interpreter_cls = import_interpreter(which)
    version = getattr(sys.modules.get(name), "__version__", "?")
    results = {
        entry["name"]: check_model(interpreter_cls, folder, entry)
        for entry in load_manifest(folder / "manifest.toml")
    }
    print(
        json.dumps(
            {"interpreter": name, "version": version, "numpy": np.__version__, "models": results},
            indent=2,
        )
    )
    return 0 if all(r["ok"] for r in results.values()) else 1


# --------------------------------------------------------------------------------------------
# Generation: everything below needs TensorFlow.


def keras_cnn(tf: Any) -> Any:
    layers = tf.keras.layers
    inp = layers.Input(shape=CNN_INPUT_SHAPE, batch_size=1, name="image")
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = layers.DepthwiseConv2D(3, padding="same", activation="relu")(a)
    c = layers.Add()([a, b])
    d = layers.Multiply()([c, b])
    pooled = layers.Concatenate()([layers.MaxPooling2D(2)(d), layers.AveragePooling2D(2)(d)])
    e = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(pooled)
    # A reshape that is itself a model output cannot be folded into FULLY_CONNECTED.
    features = layers.Reshape((16, 16), name="features")(e)
    # Wide weights spread the logits, so the softmax output is far from uniform.
    wide = tf.keras.initializers.RandomNormal(stddev=1.0)
    logits = layers.Dense(10, kernel_initializer=wide)(layers.Flatten()(e))
    probs = layers.Softmax(name="probs")(logits)
    return tf.keras.Model(inp, [probs, features], name="cnn")


def keras_gru(tf: Any) -> Any:
    layers = tf.keras.layers
    inp = layers.Input(shape=SEQ_INPUT_SHAPE, batch_size=1, name="sequence")
    out = layers.GRU(8, return_sequences=True)(inp)
    return tf.keras.Model(inp, out, name="gru")


def keras_lstm(tf: Any) -> Any:
    layers = tf.keras.layers
    inp = layers.Input(shape=SEQ_INPUT_SHAPE, batch_size=1, name="sequence")
    out = layers.LSTM(8, return_sequences=True)(inp)
    return tf.keras.Model(inp, out, name="lstm")


def representative_images(count: int) -> Callable[[], Any]:
    rng = np.random.default_rng(SEED + 1)
    samples = [rng.random((1, *CNN_INPUT_SHAPE), dtype=np.float32) for _ in range(count)]

    def dataset() -> Any:
        for sample in samples:
            yield [sample]

    return dataset


def convert(tf: Any, model: Any, mode: str) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("float16", "dynamic_int8", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        converter.representative_dataset = representative_images(32)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def build_models(tf: Any) -> dict[str, bytes]:
    tf.keras.utils.set_random_seed(SEED)
    cnn = keras_cnn(tf)
    models = {
        f"cnn_{mode}": convert(tf, cnn, mode)
        for mode in ("float32", "float16", "dynamic_int8", "int8")
    }
    tf.keras.utils.set_random_seed(SEED + 2)
    models["gru_while"] = convert(tf, keras_gru(tf), "float32")
    tf.keras.utils.set_random_seed(SEED + 3)
    models["lstm_stateful"] = convert(tf, keras_lstm(tf), "float32")
    return models


def make_inputs(interpreter_cls: Callable[..., Any], model_path: Path, seed: int) -> list:
    interpreter = interpreter_cls(model_path=str(model_path), num_threads=1)
    rng = np.random.default_rng(seed)
    inputs = []
    for detail in interpreter.get_input_details():
        values = rng.uniform(-1.0, 1.0, size=detail["shape"])
        if "image" in detail["name"]:
            values = (values + 1.0) / 2.0  # images live in [0, 1), like the calibration data
        scale, zero_point = detail["quantization"]
        if detail["dtype"] == np.int8:
            values = np.clip(np.round(values / scale) + zero_point, -128, 127)
        inputs.append(values.astype(detail["dtype"]))
    return inputs


def has_variable_tensors(path: Path) -> bool:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    return any(t.isVariable for graph in model.subgraphs for t in graph.tensors)


def model_facts(path: Path) -> tuple[list[str], int, str | None]:
    """Operator names, subgraph count and min_runtime_version, read with TF's own schema."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = set()
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        ops.add(code.customCode.decode() if code.customCode else names[builtin])
    version = None
    for meta in model.metadata or []:
        if meta.name.decode() == "min_runtime_version":
            raw = bytes(model.buffers[meta.buffer].data)
            version = raw.split(b"\0", 1)[0].decode("ascii")
    return sorted(ops), len(model.subgraphs), version


def verify_model(tf: Any, spec: ModelSpec, path: Path, ops: list[str], subgraphs: int) -> None:
    missing = set(spec.required_ops) - set(ops)
    if missing:
        raise SystemExit(f"{spec.name}: converter did not emit {sorted(missing)}; got {ops}")
    if spec.name == "gru_while" and subgraphs < 2:
        raise SystemExit(f"{spec.name}: expected several subgraphs, got {subgraphs}")
    if spec.invocations > 1 and not has_variable_tensors(path):
        raise SystemExit(f"{spec.name}: no variable tensors, so nothing for a reset to reset")
    details = tf.lite.Interpreter(model_path=str(path)).get_tensor_details()
    dtypes = {d["dtype"] for d in details}
    if spec.name.endswith("int8") and np.int8 not in dtypes:
        raise SystemExit(f"{spec.name}: no int8 tensors, quantisation did not happen")
    if spec.name == "cnn_float16" and np.float16 not in dtypes:
        raise SystemExit(f"{spec.name}: no float16 tensors")


def verify_state(tf: Any, spec: ModelSpec, path: Path, inputs: list, expected: list) -> None:
    """Outputs must repeat after reset_all_variables() and drift without it."""
    with_reset = run_model(tf.lite.Interpreter, path, inputs, spec.invocations)
    for run in with_reset:
        if any(max_diff(a, e) != 0 for a, e in zip(run, expected)):
            raise SystemExit(f"{spec.name}: outputs differ between reset invocations")
    if spec.invocations > 1:
        without = run_model(tf.lite.Interpreter, path, inputs, 2, reset=False)
        if all(max_diff(a, e) == 0 for a, e in zip(without[1], expected)):
            raise SystemExit(f"{spec.name}: second invocation without reset did not change")


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable ASCII is a valid TOML basic string


def toml_float(value: float) -> str:
    return repr(float(value))  # "1e-05", "1.0": valid TOML floats


def manifest_text(entries: list[tuple[ModelSpec, list[str], str | None]]) -> str:
    lines = ["# Written by smoke_models/generate.py; do not edit by hand.", "schema = 1"]
    for spec, ops, version in entries:
        lines += [
            "",
            "[[model]]",
            f"name = {toml_string(spec.name)}",
            f"description = {toml_string(spec.description)}",
            f"atol = {toml_float(spec.atol)}",
            f"rtol = {toml_float(spec.rtol)}",
            f"invocations = {spec.invocations}",
            f"ops = [{', '.join(toml_string(op) for op in ops)}]",
        ]
        if version is not None:
            lines.append(f"min_runtime_version = {toml_string(version)}")
    return "\n".join(lines) + "\n"


def generate(out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # keeps TF's own maths reproducible
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    out.mkdir(parents=True, exist_ok=True)
    models = build_models(tf)
    entries = []
    for index, spec in enumerate(SPECS):
        path = out / f"{spec.name}.tflite"
        path.write_bytes(models[spec.name])
        ops, subgraphs, version = model_facts(path)
        verify_model(tf, spec, path, ops, subgraphs)
        inputs = make_inputs(tf.lite.Interpreter, path, SEED + 100 + index)
        expected = run_model(tf.lite.Interpreter, path, inputs, 1)[0]
        verify_state(tf, spec, path, inputs, expected)
        np.savez(out / f"{spec.name}.input.npz", *inputs)
        np.savez(out / f"{spec.name}.expected.npz", *expected)
        entries.append((spec, ops, version))
        print(
            f"{spec.name}: {path.stat().st_size} bytes, {subgraphs} subgraph(s), "
            f"min_runtime_version {version}, ops {' '.join(ops)}"
        )
    (out / "manifest.toml").write_text(manifest_text(entries), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path, help="write the suite into this folder (needs TF)")
    action.add_argument(
        "--check",
        type=Path,
        metavar="DIR",
        help="run the suite in DIR and compare with the expected outputs",
    )
    parser.add_argument(
        "--interpreter",
        default="auto",
        choices=["auto", "tflite_runtime", "ai_edge_litert", "tensorflow"],
        help="interpreter for --check (default: first importable)",
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        return check(args.check, args.interpreter)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
