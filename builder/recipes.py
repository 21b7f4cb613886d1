"""Recipes are data: TOML files under ``recipes/``, read here and turned into frozen dataclasses.

Each domain module (``numpy_build``, ``tflite_build``, ``runtimes``, ...) declares its own frozen
dataclasses and builds them from a ``Table``, whose typed getters turn every mistake in a recipe
into one clear ``RecipeError`` naming the file and the key. Where the recipes directory is (the
shipped one, or ``$TFLITE_EDGE_BUILDER_RECIPES``) is decided in ``builder.resources``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import RecipeError
from .resources import package_dir, recipes_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib


def project_root() -> Path:
    """The directory holding the ``builder`` package: the checkout in a source tree, the
    site-packages directory in a wheel install. Only for showing paths short; the data itself is
    found through ``builder.resources``."""
    return package_dir().parent


def load_toml(path: Path) -> Table:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: invalid TOML: {exc}") from None
    return Table(data, str(path), "")


def load_recipe(name: str) -> Table:
    """Load ``recipes/<name>.toml``."""
    return load_toml(recipes_dir() / f"{name}.toml")


class Table:
    """A TOML table with typed, path-aware getters."""

    def __init__(self, data: dict[str, Any], source: str, prefix: str) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def _where(self, key: str) -> str:
        return f"{self.source}: {self.prefix}{key}"

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise RecipeError(f"{self._where(key)} is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise RecipeError(f"{self._where(key)} must be a {name}, not {type(value).__name__}")
        return value

    def string(self, key: str, default: Any = None) -> Any:
        return self._get(key, str, _REQUIRED if default is None else default)

    def optional_string(self, key: str) -> str | None:
        value: str | None = self._get(key, str, None)
        return value

    def integer(self, key: str, default: Any = None) -> Any:
        return self._get(key, int, _REQUIRED if default is None else default)

    def number(self, key: str, default: Any = None) -> Any:
        value = self._get(key, (int, float), _REQUIRED if default is None else default)
        return float(value)

    def boolean(self, key: str, default: Any = None) -> Any:
        return self._get(key, bool, _REQUIRED if default is None else default)

    def strings(self, key: str, default: Any = ()) -> tuple[str, ...]:
        value = self._get(key, list, list(default))
        if not all(isinstance(item, str) for item in value):
            raise RecipeError(f"{self._where(key)} must be a list of strings")
        return tuple(value)

    def table(self, key: str, required: bool = True) -> Table:
        value = self._get(key, dict, _REQUIRED if required else {})
        return Table(value, self.source, f"{self.prefix}{key}.")

    def tables(self, key: str) -> list[Table]:
        """An array of tables (``[[key]]``), possibly empty."""
        value = self._get(key, list, [])
        if not all(isinstance(item, dict) for item in value):
            raise RecipeError(f"{self._where(key)} must be an array of tables")
        return [Table(v, self.source, f"{self.prefix}{key}[{i}].") for i, v in enumerate(value)]

    def keys(self) -> list[str]:
        return list(self.data)

    def check_keys(self, allowed: set[str]) -> None:
        """Refuse unknown keys, so a typo in a recipe is an error rather than a silent default."""
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise RecipeError(f"{self._where(unknown[0])} is not a known key")


_REQUIRED = object()
