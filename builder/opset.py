"""The operators TensorFlow Lite models need, and the operators a selective runtime registers.

``build tflite-runtime --ops-from`` builds a runtime for a set of models: ``needed_by`` reads
their operator codes (builtin names with the highest version any model uses, custom codes);
the build registers each builtin with the version range TensorFlow's ``register.cc`` gives it
and writes that as ``tflite_runtime/selected_ops.json`` into the wheel (``Registered``).
``verify`` and ``stack`` read it back and refuse, before anything runs, a model that needs an
operator (or operator version) the runtime was not built with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ArgumentError, VerificationError
from .tflite_model import ModelInfo, read_model_info
from .wheelfile import Wheel

OPS_MEMBER = "tflite_runtime/selected_ops.json"
FORMAT = 1


@dataclass(frozen=True)
class Needed:
    """What a set of models needs: builtin name -> highest version, custom codes."""

    builtins: dict[str, int]
    customs: frozenset[str]
    models: tuple[str, ...]

    def digest(self) -> str:
        """Eight hex digits naming the operator set (the wheel's ``+ops.<digest>`` label)."""
        lines = [f"{name}:{version}" for name, version in sorted(self.builtins.items())]
        lines += [f"custom:{name}" for name in sorted(self.customs)]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]

    def describe(self) -> list[str]:
        ops = [f"{name} v{version}" for name, version in sorted(self.builtins.items())]
        return ops + [f"{name} (custom)" for name in sorted(self.customs)]


@dataclass(frozen=True)
class Registered:
    """What a selective runtime registers: builtin name -> (min, max) version, custom codes."""

    tensorflow: str
    builtins: dict[str, tuple[int, int]]
    customs: frozenset[str]
    models: tuple[str, ...]
    label: str  # the wheel's version, e.g. 2.21.0+ops.1a2b3c4d

    @property
    def count(self) -> int:
        return len(self.builtins) + len(self.customs)

    def lacks(self, info: ModelInfo) -> str | None:
        """The first operator of the model (at the highest version the model uses) that this
        runtime cannot run."""
        highest: dict[str, int] = {}
        for op in info.operators:
            if not op.custom:
                highest[op.name] = max(op.version, highest.get(op.name, 0))
        for op in info.operators:
            if op.custom:
                if op.name not in self.customs:
                    return f"{op.name} (custom)"
                continue
            low, high = self.builtins.get(op.name, (0, -1))
            if not low <= highest[op.name] <= high:
                return f"{op.name} v{highest[op.name]}"
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "tensorflow": self.tensorflow,
            "label": self.label,
            "builtin": {name: list(span) for name, span in sorted(self.builtins.items())},
            "custom": sorted(self.customs),
            "models": list(self.models),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Registered:
        try:
            data = json.loads(text)
            builtins = {str(k): (int(v[0]), int(v[1])) for k, v in data["builtin"].items()}
            return cls(
                tensorflow=str(data["tensorflow"]),
                builtins=builtins,
                customs=frozenset(str(c) for c in data["custom"]),
                models=tuple(str(m) for m in data["models"]),
                label=str(data["label"]),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise VerificationError(f"{where}: unreadable operator set: {exc}") from None


def model_files(paths: Iterable[Path]) -> list[Path]:
    """Every ``.tflite`` file named, directories expanded (sorted); one-line errors."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            models = sorted(path.glob("*.tflite"))
            if not models:
                raise ArgumentError(f"{path}: no .tflite models in this directory")
            found += models
        elif path.is_file():
            found.append(path)
        else:
            raise ArgumentError(f"{path}: no such model file or directory")
    return found


def needed_by(paths: Sequence[Path]) -> Needed:
    """The operator set of the models at ``paths`` (files or directories of ``.tflite``)."""
    builtins: dict[str, int] = {}
    customs: set[str] = set()
    files = model_files(paths)
    for path in files:
        for op in read_model_info(path).operators:  # ModelFormatError names the file
            if op.custom:
                customs.add(op.name)
            else:
                builtins[op.name] = max(op.version, builtins.get(op.name, 0))
    return Needed(builtins, frozenset(customs), tuple(p.name for p in files))


def registered_in(wheel: Wheel) -> Registered | None:
    """The operator set a selective runtime wheel carries; None for a full runtime."""
    if OPS_MEMBER not in wheel.names():
        return None
    return Registered.from_json(wheel.read_text(OPS_MEMBER), f"{wheel.filename}:{OPS_MEMBER}")


def check_models(registered: Registered, models: Iterable[Path]) -> None:
    """Refuse, naming the model and the operator, a model this selective runtime cannot run."""
    for path in models:
        missing = registered.lacks(read_model_info(path))
        if missing:
            raise VerificationError(
                f"{path.name} needs {missing}; this runtime ({registered.label}) was built for "
                f"{registered.count} operator{'s' if registered.count != 1 else ''} of "
                f"{', '.join(registered.models)}: rebuild it "
                "with --ops-from including this model"
            )
