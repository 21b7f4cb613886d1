"""Shared by the index tests (publish, simple_index): the slim numpy of the real stack, and fresh
venvs installed from an index (the servers are in ``servers``, small wheels in
``wheel_factory``, the real stack's constants and stock wheels in ``conftest``)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from conftest import NUMPY_VERSION, require_tflite_runtime

from builder.cache import cache_dir, sha256_file
from builder.environments import Environment, create_environment


@functools.cache
def slim_numpy_wheel() -> Path:
    """Lean numpy 1.26.4 built from source, then slimmed and verified by ``builder.slim``.

    Both steps are cached: the build by builder.numpy_build, the slim wheel here, keyed by the
    lean wheel's sha256 (~2 minutes the first time, instant after).
    """
    from builder.numpy_build import build_numpy
    from builder.slim import SlimOptions, slim_wheel

    require_tflite_runtime()
    built = build_numpy(NUMPY_VERSION).path
    out = cache_dir("test-wheels", "slim-numpy", sha256_file(built)[:16])
    done = sorted(out.glob("numpy-*+slim-*.whl"))
    if done:
        return done[0]
    result = slim_wheel(built, SlimOptions(out_dir=out))
    assert result.output is not None
    return result.output


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
    """A fresh venv with ``pip install --index-url INDEX ARGS``; returns it and pip's output.
    Not ``Environment.pip``: this pip must see no configuration, only the index it is given."""
    env = create_environment(venv_root)
    cmd = [sys.executable, "-m", "pip", "--python", str(env.python), "install", "--no-input"]
    cmd += ["--index-url", index_url, *args]
    proc = subprocess.run(cmd, env=isolated_pip_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env, proc.stdout + proc.stderr
