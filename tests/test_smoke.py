"""builder.smoke: loading model suites, judging runs, and classifying how a run failed.

Runs here use real subprocesses: this interpreter started without site-packages (so numpy is
missing, exactly as in a broken environment), and small executables standing in for an
interpreter that hangs, crashes on a signal, or dies without a result.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SMOKE_DIR, SMOKE_MODELS

from builder.arrays import RawArray, compare, random_array, read_npy, read_npz, write_npz
from builder.errors import RecipeError, VerificationError
from builder.smoke import (
    CRASH,
    ERROR,
    IMPORT_ERROR,
    PASS,
    TIMEOUT,
    WRONG_OUTPUT,
    ModelRun,
    SmokeModel,
    _diagnosis,
    check_run,
    expected_outputs,
    load_models,
    run_and_judge,
    run_model,
    run_models,
    stored_expectations,
)


def _executable(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_default_suite() -> None:
    models = {m.name: m for m in load_models()}
    assert set(models) == SMOKE_MODELS
    assert all(m.inputs and m.expected for m in models.values())
    assert models["lstm_stateful"].invocations > 1  # stateful: reset between invocations
    assert models["cnn_int8"].atol >= 1  # int8 outputs compare within one quantisation step


def test_model_alone_and_directory_without_manifest(tmp_path: Path) -> None:
    shutil.copy(SMOKE_DIR / "cnn_float32.tflite", tmp_path / "mine.tflite")
    [alone] = load_models(tmp_path / "mine.tflite")
    assert (alone.name, alone.inputs, alone.expected) == ("mine", None, None)
    shutil.copy(SMOKE_DIR / "cnn_int8.tflite", tmp_path / "other.tflite")
    shutil.copy(SMOKE_DIR / "cnn_int8.input.npz", tmp_path / "other.input.npz")
    models = load_models(tmp_path)
    assert [m.name for m in models] == ["mine", "other"]
    assert models[1].inputs == tmp_path / "other.input.npz" and models[1].expected is None


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda d: d / "missing", "no such models directory or file"),
        (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "expected a .tflite"),
        (lambda d: d, "no .tflite models found"),
        (
            lambda d: (
                (d / "m.tflite").write_bytes(b"x")
                and (d / "m.expected.npz").write_bytes(b"x")
                and d
            ),
            "has no matching m.input.npz",
        ),
        (
            lambda d: (
                (d / "manifest.toml").write_text("schema = 1\n[[model]]\nname = 'x'\ntol = 1\n")
                and d
            ),
            r"model\[0\]\.tol is not a known key",
        ),
        (
            lambda d: (d / "manifest.toml").write_text("schema = 2\n") and d,
            "unsupported schema",
        ),
        (
            lambda d: (d / "manifest.toml").write_text("[[model]]\nname = 'gone'\n") and d,
            "gone.tflite: model file not found",
        ),
    ],
    ids=["missing", "not-tflite", "empty", "expected-alone", "manifest-key", "schema", "no-file"],
)
def test_bad_model_suites(tmp_path: Path, setup: Callable[[Path], Path], fragment: str) -> None:
    with pytest.raises(RecipeError, match=fragment):
        load_models(setup(tmp_path))


def _f32(*values: float) -> RawArray:
    return RawArray("<f4", (len(values),), struct.pack(f"<{len(values)}f", *values))


def test_check_run_judgements() -> None:
    [model] = [m for m in load_models() if m.name == "cnn_float32"]
    expected = [_f32(0.25, 0.75)]
    same = ModelRun(PASS, "ran", ((_f32(0.25, 0.75),),))
    result = check_run(model, same, expected)
    assert result.ok and result.max_abs_error == 0.0 and result.identical is None
    near = ModelRun(PASS, "ran", ((_f32(0.25, 0.75 + 1e-7),),))
    judged = check_run(model, near, expected, baseline=same.outputs)
    assert judged.ok and judged.identical is False and "differ from the baseline" in judged.message
    assert check_run(model, same, expected, baseline=same.outputs).identical is True
    wrong = check_run(model, ModelRun(PASS, "ran", ((_f32(0.25, 0.5),),)), expected)
    assert wrong.status == WRONG_OUTPUT
    assert wrong.max_abs_error == pytest.approx(0.25)
    assert "1 of 2 values outside" in wrong.message
    short = check_run(model, ModelRun(PASS, "ran", ((),)), expected)
    assert short.status == WRONG_OUTPUT and "0 outputs, expected 1" in short.message
    failed = check_run(model, ModelRun(IMPORT_ERROR, "No module named numpy"), expected)
    assert (failed.status, failed.message) == (IMPORT_ERROR, "No module named numpy")


def test_expected_outputs_read_from_npz() -> None:
    [model] = [m for m in load_models() if m.name == "gru_while"]
    outputs = expected_outputs(model)
    assert outputs == read_npz(model.expected)  # type: ignore[arg-type]
    assert outputs[0].dtype == "<f4"


def test_abi_diagnosis() -> None:
    output = (
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.2.6 as it may crash."
    )
    assert _diagnosis(output).startswith("numpy ABI mismatch")
    assert "NumPy 2.2.6" in _diagnosis(output)
    assert _diagnosis("all good") == ""


# -- real runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> SmokeModel:
    return next(m for m in load_models() if m.name == "cnn_float32")


def test_import_error_in_an_environment_without_numpy(tmp_path: Path, model: SmokeModel) -> None:
    python = _executable(tmp_path, "python", f'exec {sys.executable} -S "$@"')
    run = run_model(python, model, timeout=60)
    assert run.status == IMPORT_ERROR
    assert "No module named 'numpy'" in run.message
    assert "while import numpy" in run.message


def test_timeout(tmp_path: Path, model: SmokeModel) -> None:
    run = run_model(_executable(tmp_path, "python", "exec sleep 30"), model, timeout=1)
    assert run.status == TIMEOUT
    assert "no result after 1 s" in run.message
    assert run.seconds < 10


def test_crash_by_signal(tmp_path: Path, model: SmokeModel) -> None:
    run = run_model(_executable(tmp_path, "python", "kill -SEGV $$"), model, timeout=30)
    assert (run.status, run.message) == (CRASH, "killed by SIGSEGV")


def test_crash_by_realtime_signal(tmp_path: Path, model: SmokeModel) -> None:
    run = run_model(_executable(tmp_path, "python", "kill -40 $$"), model, timeout=30)
    assert (run.status, run.message) == (CRASH, "killed by signal 40")


def test_exit_without_result(tmp_path: Path, model: SmokeModel) -> None:
    body = "echo 'Fatal Python error: bad things' >&2; exit 3"
    run = run_model(_executable(tmp_path, "python", body), model, timeout=30)
    assert run.status == ERROR
    assert run.message == "exit code 3: Fatal Python error: bad things"


# Stands in for _model_runner.py: an identity "model" whose outputs are its inputs.
ECHO_RUNNER = """
import json, sys
request = json.load(open(sys.argv[1]))
outputs = [request["inputs"]] * request["invocations"]
json.dump({"status": "ok", "outputs": outputs}, open(sys.argv[2], "w"))
"""


def _echo_python(tmp_path: Path) -> Path:
    runner = tmp_path / "echo_runner.py"
    runner.write_text(ECHO_RUNNER)
    return _executable(tmp_path, "python", f'exec {sys.executable} {runner} "$3" "$4"')


def test_run_and_judge_against_expected_outputs_and_baseline(
    tmp_path: Path, model: SmokeModel
) -> None:
    given = [_f32(0.25, 0.75)]
    models = [replace(model, name=name) for name in ("same", "wrong", "unjudged", "differs")]
    expected = {"same": given, "wrong": [_f32(0.25, 0.5)], "differs": given}
    baseline = {"same": ((given[0],),), "differs": ((_f32(0.25, 0.75 + 1e-7),),)}
    inputs = {m.name: given for m in models}
    judged = run_and_judge(
        _echo_python(tmp_path), models, expected, baseline=baseline, inputs=inputs, timeout=60
    )
    assert judged["same"].run.outputs == ((given[0],),)
    assert judged["same"].result.ok and judged["same"].result.identical is True
    assert judged["wrong"].result.status == WRONG_OUTPUT
    assert "1 of 2 values outside" in judged["wrong"].result.message
    unjudged = judged["unjudged"].result  # no expected outputs: it only has to run
    assert (unjudged.status, unjudged.identical) == (PASS, None)
    differs = judged["differs"].result
    assert (
        differs.ok and differs.identical is False and "differ from the baseline" in differs.message
    )


def test_run_and_judge_runs_on_the_stored_inputs(tmp_path: Path, model: SmokeModel) -> None:
    assert model.inputs is not None
    [result] = run_and_judge(
        _echo_python(tmp_path), [model], {model.name: read_npz(model.inputs)}, timeout=60
    ).values()
    assert result.result.ok and result.run.outputs == (tuple(read_npz(model.inputs)),)


def test_stored_expectations_fall_back_to_the_baseline(tmp_path: Path) -> None:
    stored = next(m for m in load_models() if m.name == "cnn_int8")
    shutil.copy(SMOKE_DIR / "cnn_float32.tflite", tmp_path / "alone.tflite")
    [alone] = load_models(tmp_path / "alone.tflite")
    other = replace(alone, name="other")
    baseline = {"alone": ((_f32(1.0),), (_f32(2.0),))}
    expected = stored_expectations([stored, alone, other], baseline)
    assert expected == {"cnn_int8": expected_outputs(stored), "alone": [_f32(1.0)]}
    assert stored_expectations([alone]) == {}


def test_model_without_inputs_cannot_run(tmp_path: Path) -> None:
    shutil.copy(SMOKE_DIR / "cnn_float32.tflite", tmp_path / "alone.tflite")
    [alone] = load_models(tmp_path / "alone.tflite")
    with pytest.raises(VerificationError, match="no inputs"):
        run_model(Path(sys.executable), alone)


# -- arrays (the builder's numpy-free view of model inputs and outputs) -------------------------


def test_npz_round_trip_and_smoke_files(tmp_path: Path) -> None:
    arrays = [_f32(1.0, -2.5), RawArray("|i1", (2, 2), bytes([1, 255, 0, 128]))]
    write_npz(tmp_path / "a.npz", arrays)
    assert read_npz(tmp_path / "a.npz") == arrays
    assert read_npz(tmp_path / "a.npz")[1].values() == [1, -1, 0, -128]
    for model in load_models():
        inputs = read_npz(model.inputs)  # type: ignore[arg-type]
        assert inputs and all(len(a.data) == a.size * int(a.dtype[2:]) for a in inputs)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"not an npy", "not an .npy array"),
        (b"\x93NUMPY\x09\x00" + b"\0" * 8, "unsupported .npy format version 9"),
        (b"\x93NUMPY\x01\x00\x05\x00{'x'}", "malformed .npy header"),
    ],
)
def test_bad_npy(data: bytes, fragment: str) -> None:
    with pytest.raises(VerificationError, match=fragment):
        read_npy(data, "x.npy")


def test_bad_npz(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(VerificationError, match=r"cannot read \.npz"):
        read_npz(tmp_path / "junk.npz")
    write_npz(tmp_path / "gap.npz", [_f32(1.0)])
    with zipfile.ZipFile(tmp_path / "gap.npz", "a") as zf:
        zf.writestr("arr_5.npy", b"")
    with pytest.raises(VerificationError, match="expected arrays named arr_0"):
        read_npz(tmp_path / "gap.npz")


def test_compare() -> None:
    assert compare(_f32(1.0), _f32(1.0), 0, 0).identical
    close = compare(_f32(1.0), _f32(1.00001), 1e-4, 0)
    assert close.ok and not close.identical and close.max_abs_error > 0
    assert not compare(_f32(1.0), _f32(2.0), 0.5, 0).ok
    nan = float("nan")
    assert compare(_f32(nan), _f32(nan), 0, 0).ok  # NaN where NaN is expected is a match
    assert not compare(_f32(nan), _f32(1.0), 1, 1).ok
    shape = compare(_f32(1.0, 2.0), RawArray("<f4", (1, 2), _f32(1.0, 2.0).data), 1, 1)
    assert not shape.ok and "expected <f4[1, 2]" in shape.message


def test_random_inputs_are_deterministic() -> None:
    first = random_array("<f4", (1, 3, 0), seed=1)
    assert first == random_array("<f4", (1, 3, 0), seed=1)
    assert first != random_array("<f4", (1, 3, 0), seed=2)
    assert first.shape == (1, 3, 1)  # dynamic (0/-1) dimensions become 1
    assert all(0 <= v < 1 for v in first.values())
    assert all(-128 <= v <= 127 for v in random_array("|i1", (64,), 0).values())


@pytest.mark.usefixtures("sigint_raises")  # also when the suite runs in the background
def test_ctrl_c_ends_parallel_runs_promptly(tmp_path: Path, model: SmokeModel) -> None:
    started = tmp_path / "started"
    started.mkdir()
    # Each "interpreter" records its pid, then hangs (exec keeps the pid).
    python = _executable(tmp_path, "python", f"touch {started}/$$; exec sleep 60")
    models = [replace(model, name=f"copy{i}") for i in range(6)]
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    begun = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_models(python, models, timeout=120)
    finally:
        timer.cancel()
    assert time.monotonic() - begun < 10  # not the 60 s the hung runs would take
    pids = [int(p.name) for p in started.iterdir()]
    assert 1 <= len(pids) < len(models)  # queued models never started
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
