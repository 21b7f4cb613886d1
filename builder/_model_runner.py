"""Runs one TensorFlow Lite model inside an environment under test.

Executed as a script by the environment's own interpreter (``python -I _model_runner.py REQUEST
RESULT``); it may only use the standard library, numpy and the runtime, and it touches numpy as
little as an application does (``frombuffer``, ``reshape``, ``tobytes``), so that tracing it shows
what inference needs and nothing more. The request and result are JSON files; arrays travel as
base64 bytes with their dtype and shape. A crash leaves no result file: the parent sees the signal.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: this script runs under any CPython 3 the user verifies with
    from types import ModuleType
    from typing import Any

    Json = dict[str, Any]  # a decoded JSON object: the request, the result, an array's spec


class Tracer:
    """Records files opened and libraries loaded, through an audit hook (PEP 578)."""

    def __init__(self) -> None:
        self.opened: set[str] = set()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if (event == "open" and args and isinstance(args[0], (str, bytes))) or (
            event == "ctypes.dlopen" and args and isinstance(args[0], (str, bytes))
        ):
            self.opened.add(os.fsdecode(args[0]))

    def report(self) -> dict[str, list[str]]:
        modules = set()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                modules.add(path)
        return {
            "opened": sorted(self.opened),
            "modules": sorted(modules),
            "mapped": sorted(_mapped_files()),
        }


def _mapped_files() -> set[str]:
    try:
        with open("/proc/self/maps") as maps:
            return {line.split(None, 5)[5].strip() for line in maps if len(line.split()) >= 6}
    except OSError:
        return set()


def _import_runtime(modules: list[str]) -> ModuleType:
    errors = []
    for name in modules:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                errors.append(str(exc))
                continue
            raise
    raise ModuleNotFoundError("no TensorFlow Lite runtime found: " + "; ".join(errors))


def _array(np: Any, spec: Json) -> Any:
    data = base64.b64decode(spec["data"])
    return np.frombuffer(data, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])


def _raw(array: Any) -> Json:
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _describe(details: list[Json]) -> list[Json]:
    return [
        {"dtype": d["dtype"]().dtype.str, "shape": [int(n) for n in d["shape"]]} for d in details
    ]


def run(request: Json, result: Json) -> None:
    result["stage"] = "import-numpy"
    import numpy as np

    result["numpy"] = np.__version__
    result["stage"] = "import-runtime"
    runtime = _import_runtime(request["modules"])
    result["runtime_module"] = runtime.__name__
    result["stage"] = "load-model"
    interpreter = runtime.Interpreter(model_path=request["model"], num_threads=1)
    interpreter.allocate_tensors()
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    result["inputs"] = _describe(inputs)
    if request.get("describe"):
        return
    arrays = [_array(np, spec) for spec in request["inputs"]]
    if len(arrays) != len(inputs):
        raise ValueError(f"model has {len(inputs)} inputs, {len(arrays)} were given")
    result["stage"] = "invoke"
    result["outputs"] = []
    for _ in range(request.get("invocations", 1)):
        interpreter.reset_all_variables()
        for detail, array in zip(inputs, arrays):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        result["outputs"].append([_raw(interpreter.get_tensor(d["index"])) for d in outputs])


def _exception_chain(exc: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def main() -> None:
    request_path, result_path = sys.argv[1], sys.argv[2]
    with open(request_path) as fh:
        request = json.load(fh)
    tracer = Tracer() if request.get("trace") else None
    if tracer:
        sys.addaudithook(tracer.hook)
    result: Json = {"status": "ok"}
    try:
        run(request, result)
    except Exception as exc:
        chain = _exception_chain(exc)
        failed_import = any(isinstance(e, ImportError) for e in chain)
        result["status"] = "import-error" if failed_import else "error"
        # Root cause first: "ImportError: numpy.core.multiarray failed to import; SystemError: ..."
        result["message"] = "; ".join(f"{type(e).__name__}: {e}" for e in reversed(chain))[:1000]
        result["traceback"] = traceback.format_exc(limit=5)
    if tracer:
        result["trace"] = tracer.report()
    tmp = result_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, result_path)


if __name__ == "__main__":
    main()
