"""Smoke models and running them: the proof that an environment still does real inference.

A models directory holds ``NAME.tflite`` with ``NAME.input.npz`` and ``NAME.expected.npz`` (arrays
``arr_0..`` in the order of the interpreter's input/output details) and optionally a
``manifest.toml`` giving each model's tolerance and invocation count. Each model runs in its own
subprocess of the environment's interpreter (``_model_runner.py``) with a timeout, so an import
error, a crash (signal), a hang or a wrong output is reported per model with its message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arrays import RawArray, compare, random_array, read_npz
from .errors import CommandError, RecipeError, VerificationError
from .recipes import load_toml
from .resources import model_runner, smoke_models_dir
from .runner import kill_running, run, signal_name
from .tflite_model import read_model_info

DEFAULT_TIMEOUT = 120.0
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
ALL_RUNTIME_MODULES = ("tflite_runtime.interpreter", "ai_edge_litert.interpreter")
NUMPY_ABI_RE = re.compile(r"compiled using NumPy 1\.x cannot be run in\s+NumPy ([0-9][0-9.a-z]*)")

PASS = "pass"
IMPORT_ERROR = "import-error"
ERROR = "error"
CRASH = "crash"
WRONG_OUTPUT = "wrong-output"
TIMEOUT = "timeout"
UNUSABLE = "unusable"

Outputs = tuple[tuple[RawArray, ...], ...]  # a run's output arrays, one tuple per invocation


@dataclass(frozen=True)
class SmokeModel:
    name: str
    path: Path
    inputs: Path | None
    expected: Path | None
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    invocations: int = 1
    description: str = ""


@dataclass(frozen=True)
class Trace:
    """Absolute paths an inference run opened, imported and mapped."""

    opened: frozenset[str]
    modules: frozenset[str]
    mapped: frozenset[str]

    def paths(self) -> frozenset[str]:
        return self.opened | self.modules | self.mapped


@dataclass(frozen=True)
class ModelRun:
    """What one subprocess run of a model produced, before any comparison."""

    status: str  # PASS when the model ran; otherwise IMPORT_ERROR, ERROR, CRASH or TIMEOUT
    message: str
    outputs: Outputs = ()
    inputs: tuple[dict[str, object], ...] = ()
    trace: Trace | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ModelResult:
    model: str
    status: str
    message: str
    max_abs_error: float | None = None
    identical: bool | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "status": self.status,
            "message": self.message,
            "max_abs_error": self.max_abs_error,
            "identical": self.identical,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class SuiteResult:
    results: tuple[ModelResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def summary(self) -> str:
        passed = sum(r.ok for r in self.results)
        return f"{passed} of {len(self.results)} models passed"


# -- loading ------------------------------------------------------------------------------------


def load_models(models: Path | None = None) -> list[SmokeModel]:
    """The models of a directory (with or without manifest), or a single ``.tflite`` file; each
    one parsed as a TensorFlow Lite flatbuffer (``ModelFormatError`` naming the file if not)."""
    models = models or smoke_models_dir()
    if models.is_file():
        if models.suffix != ".tflite":
            raise RecipeError(f"{models}: expected a .tflite model or a directory of them")
        return [_model_from_files(models.parent, models.stem)]
    if not models.is_dir():
        raise RecipeError(f"{models}: no such models directory or file")
    manifest = models / "manifest.toml"
    if manifest.exists():
        return _models_from_manifest(manifest)
    found = [_model_from_files(models, p.stem) for p in sorted(models.glob("*.tflite"))]
    if not found:
        raise RecipeError(f"{models}: no .tflite models found")
    return found


def _model_from_files(directory: Path, name: str, **settings: object) -> SmokeModel:
    path = directory / f"{name}.tflite"
    if not path.is_file():
        raise RecipeError(f"{path}: model file not found")
    inputs = directory / f"{name}.input.npz"
    expected = directory / f"{name}.expected.npz"
    if expected.exists() and not inputs.exists():
        raise RecipeError(f"{expected} has no matching {inputs.name}")
    read_model_info(path)  # a TFLite flatbuffer, or one line naming the file, before any venv
    return SmokeModel(
        name=name,
        path=path,
        inputs=inputs if inputs.exists() else None,
        expected=expected if expected.exists() else None,
        **settings,  # type: ignore[arg-type]
    )


def _models_from_manifest(manifest: Path) -> list[SmokeModel]:
    table = load_toml(manifest)
    table.check_keys({"schema", "model"})
    if table.integer("schema", 1) != 1:
        raise RecipeError(f"{manifest}: unsupported schema (this builder reads schema 1)")
    models = []
    for entry in table.tables("model"):
        entry.check_keys(
            {"name", "description", "atol", "rtol", "invocations", "ops", "min_runtime_version"}
        )
        invocations = entry.integer("invocations", 1)
        if invocations < 1:
            raise RecipeError(f"{manifest}: {entry.prefix}invocations must be at least 1")
        models.append(
            _model_from_files(
                manifest.parent,
                entry.string("name"),
                atol=entry.number("atol", DEFAULT_ATOL),
                rtol=entry.number("rtol", DEFAULT_RTOL),
                invocations=invocations,
                description=entry.string("description", ""),
            )
        )
    if not models:
        raise RecipeError(f"{manifest}: no [[model]] entries")
    return models


# -- running ------------------------------------------------------------------------------------


def run_model(
    python: Path,
    model: SmokeModel,
    *,
    runtime_modules: Sequence[str] = ALL_RUNTIME_MODULES,
    inputs: Sequence[RawArray] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    trace: bool = False,
    describe: bool = False,
) -> ModelRun:
    """Run ``model`` once in a subprocess of ``python``; never raises for model failures."""
    if inputs is None and not describe:
        if model.inputs is None:
            raise VerificationError(f"{model.name}: no inputs to run it with")
        inputs = read_npz(model.inputs)
    request = {
        "model": str(model.path.resolve()),
        "modules": list(runtime_modules),
        "inputs": [a.to_json() for a in inputs or ()],
        "invocations": model.invocations,
        "trace": trace,
        "describe": describe,
    }
    with tempfile.TemporaryDirectory(prefix="tflite-edge-run-") as tmp:
        request_path, result_path = Path(tmp, "request.json"), Path(tmp, "result.json")
        request_path.write_text(json.dumps(request))
        runner = Path(tmp, "_model_runner.py")
        shutil.copyfile(model_runner(), runner)
        started = time.monotonic()
        failure, output = _execute(python, runner, request_path, timeout)
        seconds = time.monotonic() - started
        if failure is not None:
            return ModelRun(failure[0], _diagnosis(output) + failure[1], seconds=seconds)
        if not result_path.exists():
            return ModelRun(ERROR, "the runner exited without a result", seconds=seconds)
        return _parse_result(json.loads(result_path.read_text()), seconds, _diagnosis(output))


def _execute(
    python: Path, runner: Path, request: Path, timeout: float
) -> tuple[tuple[str, str] | None, str]:
    """Run the runner: ((status, message) if it crashed or timed out, else None; its output)."""
    result_path = request.with_name("result.json")
    try:
        result = run(
            [python, "-I", runner, request, result_path],
            timeout=timeout,
            echo=False,
            log=False,
            check=False,
            env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except CommandError as exc:
        if exc.returncode is None and "timed out" in str(exc):
            return (TIMEOUT, f"no result after {timeout:g} s"), exc.output
        raise
    if result.returncode < 0:
        return (CRASH, f"killed by {signal_name(-result.returncode)}"), result.output
    if result.returncode != 0 and not result_path.exists():
        return (ERROR, f"exit code {result.returncode}: {_last_line(result.output)}"), result.output
    return None, result.output


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _diagnosis(output: str) -> str:
    """Known diagnostics that runtimes print to stderr rather than raise (appended to messages)."""
    found = NUMPY_ABI_RE.search(output)
    if found:
        return (
            f"numpy ABI mismatch: the runtime was compiled using NumPy 1.x and cannot be run"
            f" in NumPy {found.group(1)}; "
        )
    return ""


def _parse_result(data: dict[str, Any], seconds: float, diagnosis: str) -> ModelRun:
    """The runner's result file (JSON) as a ModelRun."""
    status = str(data.get("status"))
    trace = None
    if isinstance(data.get("trace"), dict):
        raw = data["trace"]
        trace = Trace(*(frozenset(raw[key]) for key in ("opened", "modules", "mapped")))
    if status != "ok":
        stage = str(data.get("stage", "?")).replace("-", " ")
        message = f"{diagnosis}{data.get('message', '')} (while {stage})"
        return ModelRun(
            IMPORT_ERROR if status == IMPORT_ERROR else ERROR, message, trace=trace, seconds=seconds
        )
    outputs = tuple(
        tuple(RawArray.from_json(a) for a in invocation) for invocation in data.get("outputs", [])
    )
    inputs = tuple(data.get("inputs", []))
    return ModelRun(PASS, "ran", outputs, inputs, trace, seconds)


def check_run(
    model: SmokeModel,
    model_run: ModelRun,
    expected: Sequence[RawArray],
    baseline: Outputs | None = None,
) -> ModelResult:
    """Judge a run against the expected outputs (and, if given, byte-compare with a baseline)."""
    if model_run.status != PASS:
        return ModelResult(
            model.name, model_run.status, model_run.message, seconds=model_run.seconds
        )
    worst, identical = 0.0, True
    for index, outputs in enumerate(model_run.outputs):
        if len(outputs) != len(expected):
            message = f"invocation {index + 1}: {len(outputs)} outputs, expected {len(expected)}"
            return ModelResult(model.name, WRONG_OUTPUT, message, seconds=model_run.seconds)
        for number, (actual, wanted) in enumerate(zip(outputs, expected)):
            comparison = compare(actual, wanted, model.atol, model.rtol)
            worst = max(worst, comparison.max_abs_error)
            if not comparison.ok:
                message = f"invocation {index + 1}, output {number}: {comparison.message}"
                return ModelResult(
                    model.name, WRONG_OUTPUT, message, worst, False, model_run.seconds
                )
    if baseline is not None:
        identical = baseline == model_run.outputs
    compared = baseline is not None
    message = "outputs identical to the baseline" if compared and identical else "outputs match"
    if compared and not identical:
        message = (
            f"outputs within tolerance but differ from the baseline (max abs error {worst:.3g})"
        )
    return ModelResult(
        model.name, PASS, message, worst, identical if compared else None, model_run.seconds
    )


def model_inputs(
    python: Path, model: SmokeModel, timeout: float = DEFAULT_TIMEOUT
) -> list[RawArray]:
    """The model's stored inputs, or deterministic pseudo-random ones shaped as it asks."""
    if model.inputs is not None:
        return read_npz(model.inputs)
    described = run_model(python, model, describe=True, timeout=timeout)
    if described.status != PASS:
        return []
    return [
        random_array(str(d["dtype"]), tuple(d["shape"]), seed)  # type: ignore[arg-type]
        for seed, d in enumerate(described.inputs)
    ]


def expected_outputs(model: SmokeModel) -> list[RawArray]:
    if model.expected is None:
        raise VerificationError(f"{model.name}: no expected outputs")
    return read_npz(model.expected)


def run_models(
    python: Path,
    models: Sequence[SmokeModel],
    *,
    runtime_modules: Sequence[str] = ALL_RUNTIME_MODULES,
    timeout: float = DEFAULT_TIMEOUT,
    trace: bool = False,
    inputs: dict[str, list[RawArray]] | None = None,
) -> dict[str, ModelRun]:
    """Run every model (in parallel, one subprocess each); results keyed by model name."""

    def one(model: SmokeModel) -> ModelRun:
        given = (inputs or {}).get(model.name)
        return run_model(
            python,
            model,
            runtime_modules=runtime_modules,
            inputs=given,
            timeout=timeout,
            trace=trace,
        )

    workers = max(1, min(len(models), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, model) for model in models]
        try:
            runs = [future.result() for future in futures]
        except BaseException:  # Ctrl-C: queued models must not start, running ones must end
            for future in futures:
                future.cancel()
            kill_running()
            raise
    return {m.name: r for m, r in zip(models, runs)}


def all_inputs(
    python: Path,
    models: Sequence[SmokeModel],
    timeout: float = DEFAULT_TIMEOUT,
    given: Mapping[str, list[RawArray]] | None = None,
) -> dict[str, list[RawArray]]:
    """Every model's inputs: the ``given`` ones, else its stored or generated ones."""
    given = given or {}
    return {
        m.name: given[m.name] if m.name in given else model_inputs(python, m, timeout)
        for m in models
    }


def stored_expectations(
    models: Sequence[SmokeModel], baseline: Mapping[str, Outputs] | None = None
) -> dict[str, list[RawArray]]:
    """Each model's expected outputs: its stored ones, else the ``baseline``'s first invocation.
    A model with neither is left out: it is judged on running at all."""
    expected: dict[str, list[RawArray]] = {}
    for model in models:
        if model.expected is not None:
            expected[model.name] = expected_outputs(model)
        elif baseline is not None and baseline.get(model.name):
            expected[model.name] = list(baseline[model.name][0])
    return expected


@dataclass(frozen=True)
class Judged:
    """One model's run and the verdict on it."""

    run: ModelRun
    result: ModelResult


def run_and_judge(
    python: Path,
    models: Sequence[SmokeModel],
    expected: Mapping[str, Sequence[RawArray]],
    *,
    baseline: Mapping[str, Outputs] | None = None,
    inputs: Mapping[str, list[RawArray]] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Judged]:
    """Run every model in ``python``'s environment (``run_models``) and judge each run: its
    outputs within tolerance of ``expected`` and, where ``baseline`` has the model, compared byte
    for byte with it (``check_run``); a model without expected outputs only has to run."""
    given = all_inputs(python, models, timeout, inputs)
    runs = run_models(python, models, timeout=timeout, inputs=given)
    judged = {}
    for model in models:
        run, wanted = runs[model.name], expected.get(model.name)
        if wanted is None:
            verdict = ModelResult(model.name, run.status, run.message, seconds=run.seconds)
        else:
            verdict = check_run(model, run, wanted, (baseline or {}).get(model.name))
        judged[model.name] = Judged(run, verdict)
    return judged


def run_suite(python: Path, models_dir: Path | None = None) -> SuiteResult:
    """Run the models of ``models_dir`` (default: the packaged smoke models) with the runtime
    installed in ``python``'s environment, and judge them against their expected outputs."""
    models = load_models(models_dir)
    missing = [m.name for m in models if m.expected is None]
    if missing:
        raise VerificationError(f"no expected outputs for {', '.join(missing)}: use `verify`")
    judged = run_and_judge(python, models, stored_expectations(models))
    return SuiteResult(tuple(judged[m.name].result for m in models))
