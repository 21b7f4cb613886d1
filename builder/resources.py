"""Every file the builder ships besides its code, named in one place.

What: the recipes (``recipes/*.toml``), our TensorFlow patches (``patches/``), the smoke models
(``smoke_models/``) the script each model runs in (``_model_runner.py``) and the public-API check
(``_api_check.py``). Nothing else in
``builder/`` computes a path to one of them.

Where they come from. The three data directories stay at the top of the repository, where they
are reviewed as data. They reach an installed tool in one of two ways:

* **A wheel** (``pip install .``, ``pipx install .``, a private index; built by
  ``python -m build``): ``setup.py``'s ``build_py`` copies the three directories into
  ``builder/_data/`` at build time, and ``MANIFEST.in`` puts them in the sdist, so a wheel built
  from the sdist has them too. They are read there through ``importlib.resources``.
* **A source tree** (``pip install -e .``, what contributors and CI use, or a checkout on
  ``sys.path``): nothing is copied, which would go stale; the package has no ``_data/`` and the
  files are read in place from the tree the package itself was imported from (the directory
  holding ``builder/`` and ``pyproject.toml``), so an edited recipe takes effect at once and code
  and data always come from the same tree.

Why a copy and not setuptools' ``package-dir`` mapping of the directories onto ``builder._data.*``
subpackages: an editable install's import finder resolves a mapped package only through its
``__init__.py``, so every data directory would have to hold one. Why the source tree and not the
location pip records for an editable install (PEP 610 ``direct_url.json``): that would pair the
code of a checkout on ``sys.path`` with the data of another one.

Data must be real files, not members of a zip import: subprocesses read them (``patch``, the
models' interpreters). Overrides: ``$TFLITE_EDGE_BUILDER_RECIPES`` replaces the recipes directory
(tests, private recipes); ``--models`` replaces the smoke models (handled by the commands).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from .errors import InstallationError

PACKAGE = "builder"
PACKAGED_DATA = "_data"  # builder/_data/ in a wheel; setup.py fills it
RECIPES = "recipes"
PATCHES = "patches"
SMOKE_MODELS = "smoke_models"
DATA_DIRS = (RECIPES, PATCHES, SMOKE_MODELS)
RECIPES_ENV = "TFLITE_EDGE_BUILDER_RECIPES"


def package_dir() -> Path:
    """The directory of the ``builder`` package, as the import system found it."""
    found = importlib.resources.files(PACKAGE)
    if not isinstance(found, Path):  # a zip import: subprocesses could not read the data
        raise InstallationError(f"{found}: the builder must be installed as files, not zipped")
    return found


def data_root() -> Path:
    """The directory holding ``recipes/``, ``patches/`` and ``smoke_models/``."""
    package = package_dir()
    if (package / PACKAGED_DATA).is_dir():
        return package / PACKAGED_DATA
    tree = package.parent
    if (tree / "pyproject.toml").is_file() and (tree / RECIPES).is_dir():
        return tree
    raise InstallationError(
        f"{package}: neither {PACKAGED_DATA}/ nor a source tree around it holds the builder's "
        "recipes, patches and smoke models: reinstall tflite-edge-builder"
    )


def recipes_dir() -> Path:
    """``$TFLITE_EDGE_BUILDER_RECIPES`` if set, else the shipped ``recipes/``."""
    override = os.environ.get(RECIPES_ENV)
    return Path(override) if override else data_root() / RECIPES


def patches_dir() -> Path:
    return data_root() / PATCHES


def smoke_models_dir() -> Path:
    return data_root() / SMOKE_MODELS


def model_runner() -> Path:
    """The script each model runs in, copied into and run by the environment's interpreter."""
    return package_dir() / "_model_runner.py"


def api_check_script() -> Path:
    """The public-API check the slimmer runs in the environment under test (``slim``'s
    docstring edits must leave every import and call as it was)."""
    return package_dir() / "_api_check.py"
