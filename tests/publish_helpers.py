"""Shared by the index tests (publish, simple_index, links, requirements): small real wheels,
the real stack, fresh venvs installed from an index (the servers are in ``servers``)."""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from builder.cache import cache_dir, sha256_file
from builder.environments import Environment, create_environment
from builder.pypi import download_wheel
from builder.runtimes import resolve_runtime

SLIM_NUMPY_VERSION = "1.26.4"
TFLITE_RUNTIME = "tflite-runtime==2.14.0"


def make_wheel(
    directory: Path,
    name: str = "edgepkg",
    version: str = "1.0",
    payload: bytes = b"",
    requires: Sequence[str] = (),
) -> Path:
    """A small, valid, deterministic pure-Python wheel (same arguments -> same bytes)."""
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "Requires-Python: >=3.8\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/payload.bin": payload,
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    rows = [(n, _record_hash(data), str(len(data))) for n, data in files.items()]
    rows.append((f"{dist_info}/RECORD", "", ""))
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


# -- the real stack -------------------------------------------------------------------------------


def require_tflite_runtime() -> None:
    """The real-stack tests use tflite-runtime 2.14.0 from PyPI (CPython <= 3.11, Linux)."""
    if not resolve_runtime(TFLITE_RUNTIME).recipe.available_here():
        pytest.skip(f"PyPI has no {TFLITE_RUNTIME} wheel for this interpreter and platform")


@functools.cache
def slim_numpy_wheel() -> Path:
    """Lean numpy 1.26.4 built from source, then slimmed and verified by ``builder.slim``.

    Both steps are cached: the build by builder.numpy_build, the slim wheel here, keyed by the
    lean wheel's sha256 (~2 minutes the first time, instant after).
    """
    from builder.numpy_build import build_numpy
    from builder.slim import SlimOptions, slim_wheel

    require_tflite_runtime()
    built = build_numpy(SLIM_NUMPY_VERSION).path
    out = cache_dir("test-wheels", "slim-numpy", sha256_file(built)[:16])
    done = sorted(out.glob("numpy-*+slim-*.whl"))
    if done:
        return done[0]
    result = slim_wheel(built, SlimOptions(out_dir=out))
    assert result.output is not None
    return result.output


@functools.cache
def tflite_runtime_wheel() -> Path:
    require_tflite_runtime()
    return download_wheel(TFLITE_RUNTIME)


@functools.cache
def stock_numpy_wheel() -> Path:
    if sys.version_info >= (3, 13):
        pytest.skip(f"numpy {SLIM_NUMPY_VERSION} has no wheels for CPython 3.13+")
    return download_wheel(f"numpy=={SLIM_NUMPY_VERSION}")


# -- installing from an index --------------------------------------------------------------------


def isolated_pip_env() -> dict[str, str]:
    """pip sees only the index given on its command line: no config, no extra sources."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def install_from_index(
    venv_root: Path, index_url: str, args: Sequence[str]
) -> tuple[Environment, str]:
    """A fresh venv with ``pip install --index-url INDEX ARGS``; returns it and pip's output."""
    env = create_environment(venv_root)
    cmd = [sys.executable, "-m", "pip", "--python", str(env.python), "install", "--no-input"]
    cmd += ["--index-url", index_url, *args]
    proc = subprocess.run(cmd, env=isolated_pip_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env, proc.stdout + proc.stderr
