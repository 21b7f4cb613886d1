"""Build hook: ship ``recipes/``, ``patches/`` and ``smoke_models/`` inside the wheel.

They stay at the top of the repository; a wheel gets a copy in ``builder/_data/``, where
``builder/resources.py`` reads them (its docstring says why a copy). An editable install copies
nothing: it reads them in place. All other metadata is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# The same names as builder.resources.DATA_DIRS / PACKAGED_DATA (tests check the wheel holds them).
DATA_DIRS = ("recipes", "patches", "smoke_models")
TARGET = Path("builder", "_data")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in DATA_DIRS:
            target = Path(self.build_lib, TARGET, name)
            shutil.rmtree(target, ignore_errors=True)
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(HERE / name, target, ignore=ignore)


setup(cmdclass={"build_py": BuildPyWithData})
