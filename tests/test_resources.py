"""builder.resources: the shipped recipes, patches and smoke models are found in this source tree
(the editable install the suite runs from), in a wheel's layout (``builder/_data/``, here a copy
of the package on PYTHONPATH) and otherwise not at all, as one line. ``test_installed.py`` builds
and installs the real wheel."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, cli

from builder import resources

DRY_RUN = ("build", "tflite-runtime", "--tf-version", "2.16.1", "--platform", "win32", "--dry-run")
FIRST_PATCH = "patches/tflite-runtime/2.16.1/0001-git-version-from-recipe.patch"


def test_a_source_tree_reads_the_top_level_directories() -> None:
    assert resources.data_root() == ROOT
    assert resources.recipes_dir() == ROOT / "recipes"
    assert resources.patches_dir() == ROOT / "patches"
    assert resources.smoke_models_dir() == ROOT / "smoke_models"
    assert resources.model_runner() == ROOT / "builder" / "_model_runner.py"
    assert (resources.patches_dir() / FIRST_PATCH.split("/", 1)[1]).is_file()


def test_the_recipes_can_be_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(resources.RECIPES_ENV, str(tmp_path))
    assert resources.recipes_dir() == tmp_path
    assert resources.patches_dir() == ROOT / "patches"  # only the recipes


def test_setup_py_ships_the_directories_named_here() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    constants = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert ast.literal_eval(constants["DATA_DIRS"]) == resources.DATA_DIRS
    assert ast.unparse(constants["TARGET"]) == f"Path('builder', '{resources.PACKAGED_DATA}')"


def package_copy(site: Path, with_data: bool) -> Path:
    """``builder`` copied to ``site`` as a wheel lays it out, with or without ``_data/``."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "builder", site / "builder", ignore=ignore)
    for name in resources.DATA_DIRS if with_data else ():
        shutil.copytree(ROOT / name, site / "builder" / resources.PACKAGED_DATA / name)
    return site


def run_from(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m builder ARGS`` importing the package from ``site``, run from ``cwd``."""
    cwd.mkdir()
    return cli(*args, cwd=cwd, env={"PYTHONPATH": str(site)})


def test_a_wheel_layout_reads_builder_data(tmp_path: Path) -> None:
    site = package_copy(tmp_path / "site", with_data=True)
    proc = run_from(site, tmp_path / "elsewhere", *DRY_RUN)
    assert proc.returncode == 0, proc.stderr
    assert f"builder/{resources.PACKAGED_DATA}/{FIRST_PATCH} -> " in proc.stderr
    assert "Output wheel: tflite_runtime-2.16.1-" in proc.stderr


def test_missing_data_is_one_line(tmp_path: Path) -> None:
    site = package_copy(tmp_path / "site", with_data=False)
    error = assert_one_line_error(run_from(site, tmp_path / "elsewhere", *DRY_RUN))
    assert f"{site / 'builder'}: neither _data/ nor a source tree" in error
    assert error.endswith("reinstall tflite-edge-builder")
