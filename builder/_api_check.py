"""The public-API check: imports every kept module of a package and calls its public API.

Executed as a script by the environment's own interpreter (``python -I _api_check.py REQUEST
RESULT``), standard library only besides the package under test. The request names the package
and the modules to import; the result records, per module, ``ok`` or the exception's type, and
for numpy the results of what applications call besides inference (array creation, ufuncs, dtype
promotion, printing, and ``linalg``/``fft``/``random``/``ma`` where they are kept). The slimmer
compares two results: the same wheel before and after an edit must give the same JSON.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: this script runs under any CPython 3 the user verifies with
    from collections.abc import Callable
    from typing import Any


def outcome(call: Callable[[], Any]) -> str:
    """``repr`` of the call's result (arrays as dtype, shape and bytes), or the exception type."""
    try:
        value = call()
    except Exception as exc:
        return f"raises {type(exc).__name__}"
    if hasattr(value, "tobytes") and hasattr(value, "dtype"):
        return f"{value.dtype.str} {value.shape} {value.tobytes().hex()}"
    return repr(value)


def numpy_calls() -> dict[str, str]:
    import numpy as np

    a = np.array([[1.5, -2.0], [3.25, 4.0]], dtype=np.float32)
    image = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    calls: dict[str, Callable[[], Any]] = {
        "array": lambda: np.array([1, 2, 3], dtype=np.int16),
        "asarray": lambda: np.asarray([[1, 2]], dtype=np.float64),
        "zeros/ones/arange": lambda: np.zeros(3) + np.ones(3) + np.arange(3),
        "ufunc add": lambda: np.add(a, a),
        "ufunc exp/sqrt": lambda: np.sqrt(np.exp(a.clip(0, 2))),
        "ufunc maximum.reduce": lambda: np.maximum.reduce(a, axis=1),
        "sum/mean/argmax": lambda: (a.sum(), a.mean(), int(a.argmax())),
        "cast u8->f32": lambda: image.astype(np.float32) / 255.0,
        "round/clip": lambda: np.clip(np.round(a * 1.37), -1, 3),
        "reshape/transpose/concatenate": lambda: np.concatenate([a.T.reshape(-1), a.ravel()]),
        "where/nonzero": lambda: (np.where(a > 0, a, 0), np.nonzero(a > 0)),
        "result_type": lambda: np.result_type(np.int8, np.float16, np.uint16),
        "promote_types": lambda: (np.promote_types("i4", "f4"), np.promote_types("u1", "i1")),
        "scalar promotion": lambda: (np.uint8(3) + np.int16(4)).dtype,
        "python int promotion": lambda: (np.array([1], np.uint8) + 300).dtype,
        "dtype": lambda: (np.dtype("float32"), np.dtype([("x", "<i4"), ("y", "<f8")])),
        "frombuffer": lambda: np.frombuffer(b"\x00\x00\x80?", dtype=np.float32),
        "repr": lambda: repr(a) + str(np.arange(3)) + np.array2string(a),
        "errstate": lambda: np.errstate(divide="ignore").__enter__() is not None,
        "finfo/iinfo": lambda: (np.finfo(np.float32).eps, np.iinfo(np.int8).max),
    }
    optional: dict[str, Callable[[], Any]] = {
        "linalg.inv": lambda: np.linalg.inv(a),
        "fft.fft": lambda: np.fft.fft(np.arange(4.0)),
        "random.default_rng": lambda: np.random.default_rng(0).random(3),
        "ma.masked_array": lambda: np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]).sum(),
    }
    result = {name: outcome(call) for name, call in calls.items()}
    result.update({name: outcome(call) for name, call in optional.items()})
    return result


PACKAGE_CALLS: dict[str, Callable[[], dict[str, str]]] = {"numpy": numpy_calls}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    imports = {}
    for module in request["modules"]:
        try:
            importlib.import_module(module)
            imports[module] = "ok"
        except BaseException as exc:  # SystemExit from a script-like module counts too
            imports[module] = f"raises {type(exc).__name__}"
    calls = PACKAGE_CALLS.get(request["package"])
    result = {"imports": imports, "calls": calls() if calls else {}}
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
