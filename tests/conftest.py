"""Shared fixtures and the tests' constants: the CLI in a subprocess, and the real wheels the slow
tests share. Test modules and helpers (``publish_helpers``) import the constants from here.

* ``ROOT``, ``SMOKE_DIR``, ``SMOKE_MODELS``: the checkout, its smoke models and their names;
  ``NUMPY_VERSION``, ``TFLITE_RUNTIME``: the real stack the slow tests use; ``TFLITE_DEFAULT``:
  whether that runtime is this interpreter's default (its expectations hold only there).
* ``run_cli(*args, cwd=None, program=..., env=None)`` runs ``python -m builder ARGS`` (or an
  installed ``tflite-edge-builder``) and returns the CompletedProcess (text mode, stdout and
  stderr captured separately).
* ``assert_one_line_error(proc)`` checks the contract for bad input: non-zero exit, one
  ``error:`` line on stderr, no traceback; it returns that line.
* ``default_sigint`` (a ``preexec_fn``) and ``sigint_raises`` (a fixture): SIGINT deliverable in
  the process a test interrupts, also where the suite runs with SIGINT ignored (see below).
* ``bump_operator_version(model_bytes)``: a real model no runtime can load (unusable anywhere).
* ``stock_numpy`` / ``stock_numpy_wheel()`` (network): PyPI's numpy 1.26.4 wheel for this
  interpreter, cached; skipped on CPython 3.13+, for which it has none.
* ``runtime_wheel`` / ``tflite_runtime_wheel()`` (network): tflite-runtime 2.14.0 for this
  interpreter, cached; skipped where it has none (``require_tflite_runtime``).
"""

from __future__ import annotations

import functools
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from builder.pypi import download_wheel
from builder.runtimes import resolve_runtime
from builder.tflite_model import _MODEL_OPERATOR_CODES, _OPCODE_VERSION, _Buffer, _Table

ROOT = Path(__file__).resolve().parent.parent
SMOKE_DIR = ROOT / "smoke_models"
SMOKE_MODELS = frozenset(
    {"cnn_float32", "cnn_float16", "cnn_dynamic_int8", "cnn_int8", "gru_while", "lstm_stateful"}
)
NUMPY_VERSION = "1.26.4"
TFLITE_RUNTIME = "tflite-runtime==2.14.0"
CLI_TIMEOUT = 900
PYTHON_M_BUILDER = (sys.executable, "-m", "builder")
# The numpy 1.26.4 expectations of the slow tests hold where tflite-runtime 2.14 is the default.
TFLITE_DEFAULT = resolve_runtime(None).name == "tflite-runtime"


def cli(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    program: Sequence[str | os.PathLike[str]] = PYTHON_M_BUILDER,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m builder ARGS`` with this interpreter (or ``program ARGS``), from ``cwd``
    (default: the checkout), with ``env`` added to the environment."""
    # The package is installed (editable) in this interpreter: no PYTHONPATH, which would leak
    # into the environments that `verify` creates.
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    return subprocess.run(
        [*map(str, program), *map(str, args)],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The bad-input contract: non-zero exit, exactly one ``error:`` line, no traceback."""
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def bump_operator_version(data: bytes, version: int = 99) -> bytes:
    """The model with its first explicitly versioned operator code set to ``version``, which no
    runtime implements: a model that fails on every stack."""
    buf = _Buffer(data)
    model = _Table(buf, buf.follow(0, "root"), "model")
    for code in model.tables(_MODEL_OPERATOR_CODES, "operator_codes"):
        at = code._field(_OPCODE_VERSION, 4)
        if at is not None:
            patched = bytearray(data)
            struct.pack_into("<i", patched, at, version)
            return bytes(patched)
    raise AssertionError("no operator code stores its version")


# A suite started as a background job (`pytest &` in a script, `nohup pytest &`) runs with SIGINT
# ignored: the shell ignores it for such jobs, children inherit that, and Python then installs no
# KeyboardInterrupt handler. The builder keeps an inherited SIG_IGN (see builder/__main__.py), so
# a test that interrupts a process sets the disposition it relies on in that process.


def default_sigint() -> None:
    """``preexec_fn`` for a child a test interrupts: SIGINT at its default disposition, so that
    Python in the child turns it into KeyboardInterrupt, as after Ctrl-C in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """For a test that interrupts its own process: SIGINT raises KeyboardInterrupt during it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return cli


def require_tflite_runtime() -> None:
    """The real-stack tests use tflite-runtime 2.14.0 from PyPI (CPython <= 3.11, Linux)."""
    if not resolve_runtime(TFLITE_RUNTIME).recipe.available_here():
        pytest.skip(f"PyPI has no {TFLITE_RUNTIME} wheel for this interpreter and platform")


@functools.cache
def stock_numpy_wheel() -> Path:
    if sys.version_info >= (3, 13):
        pytest.skip(f"numpy {NUMPY_VERSION} has no wheels for CPython 3.13+")
    return download_wheel(f"numpy=={NUMPY_VERSION}")


@functools.cache
def tflite_runtime_wheel() -> Path:
    require_tflite_runtime()
    return download_wheel(TFLITE_RUNTIME)


@pytest.fixture(scope="session")
def stock_numpy() -> Path:
    return stock_numpy_wheel()


@pytest.fixture(scope="session")
def runtime_wheel() -> Path:
    return tflite_runtime_wheel()
