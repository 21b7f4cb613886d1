"""``builder.errors``: one hierarchy in one module, and a bad argument is an argument error.

The CLI side of the contract (one ``error:`` line, exit code 2, nothing written) is checked per
command in ``test_cli.py`` and the command's own tests; here: where the classes live, and which
class the argument checks below the commands raise.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest

import builder
from builder import errors
from builder.errors import ArgumentError, BuilderError, UnsupportedPlatformError
from builder.runtimes import resolve_runtime
from builder.stack import check_numpy, numpy_source

# Moves to builder.errors with the lead's current work on builder/tflite/ (not to be edited here).
NOT_MOVED_YET: set[str] = set()


def _error_classes_outside_errors() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(builder.__path__, "builder."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BuilderError)
                and value.__module__ == module.__name__
                and module is not errors
            ):
                found.add(f"{value.__module__}.{value.__qualname__}")
    return found


def test_every_user_facing_error_class_lives_in_errors() -> None:
    assert _error_classes_outside_errors() == NOT_MOVED_YET


def test_every_error_has_an_exit_code_and_argument_errors_match_argparse() -> None:
    classes = [c for c in vars(errors).values() if inspect.isclass(c)]
    assert all(issubclass(c, BuilderError) and c.exit_code != 0 for c in classes)
    assert ArgumentError.exit_code == 2  # what argparse exits with for a usage error
    assert not issubclass(ArgumentError, UnsupportedPlatformError)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: numpy_source("conda", None), "--numpy-from must be one of auto, source, pypi"),
        (lambda: check_numpy(resolve_runtime("tflite-runtime"), "two"), "--numpy 'two' is not"),
        (lambda: check_numpy(resolve_runtime("tflite-runtime"), "2.1.0"), "conflicts with"),
        (lambda: resolve_runtime("tflite runtime"), "is not a requirement"),
    ],
    ids=["numpy-from", "numpy-version", "numpy-conflict", "runtime-spec"],
)
def test_argument_checks_raise_argument_errors(check: Callable[[], object], message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        check()
