"""Plain arrays without numpy: read/write ``.npy``/``.npz`` and compare model outputs.

The builder never imports numpy itself: numpy is the thing under test, installed only in the
environments it verifies. Model inputs, expected outputs and results travel as ``RawArray``s
(dtype string, shape, bytes), and the comparison is done here in pure Python.
"""

from __future__ import annotations

import ast
import base64
import io
import math
import random
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import VerificationError

NPY_MAGIC = b"\x93NUMPY"
# numpy dtype kind+size -> struct format character (little-endian data assumed after swapping).
STRUCT_CODES = {
    "f2": "e", "f4": "f", "f8": "d",
    "i1": "b", "i2": "h", "i4": "i", "i8": "q",
    "u1": "B", "u2": "H", "u4": "I", "u8": "Q",
    "b1": "?",
}  # fmt: skip


@dataclass(frozen=True)
class RawArray:
    dtype: str  # numpy dtype string, e.g. "<f4", "|i1"
    shape: tuple[int, ...]
    data: bytes

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype[1] == "f"

    def values(self) -> list[float] | list[int]:
        code = STRUCT_CODES.get(self.dtype[1:])
        if code is None:
            raise VerificationError(f"unsupported array dtype {self.dtype}")
        order = ">" if self.dtype[0] == ">" else "<"
        return list(struct.unpack(f"{order}{self.size}{code}", self.data))

    def to_json(self) -> dict[str, object]:
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RawArray:
        """The inverse of ``to_json`` (JSON from the model runner)."""
        shape = tuple(int(n) for n in obj["shape"])
        return cls(str(obj["dtype"]), shape, base64.b64decode(str(obj["data"])))


@dataclass(frozen=True)
class Comparison:
    ok: bool
    identical: bool
    max_abs_error: float
    message: str


def read_npy(data: bytes, where: str) -> RawArray:
    if not data.startswith(NPY_MAGIC) or len(data) < 10:
        raise VerificationError(f"{where}: not an .npy array")
    major = data[6]
    if major == 1:
        (header_len,) = struct.unpack("<H", data[8:10])
        start = 10
    elif major in (2, 3):
        (header_len,) = struct.unpack("<I", data[8:12])
        start = 12
    else:
        raise VerificationError(f"{where}: unsupported .npy format version {major}")
    try:
        header = ast.literal_eval(data[start : start + header_len].decode("latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        raise VerificationError(f"{where}: malformed .npy header") from None
    if not isinstance(descr, str) or descr[1:] not in STRUCT_CODES:
        raise VerificationError(f"{where}: unsupported dtype {descr!r}")
    if fortran and len(shape) > 1:
        raise VerificationError(f"{where}: Fortran-ordered arrays are not supported")
    payload = data[start + header_len :]
    expected = math.prod(shape) * int(descr[2:])
    if len(payload) != expected:
        raise VerificationError(f"{where}: {len(payload)} data bytes, header says {expected}")
    return RawArray(descr, shape, payload)


def read_npz(path: Path) -> list[RawArray]:
    """Arrays ``arr_0, arr_1, ...`` of an ``np.savez`` file, in positional order."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n[: -len(".npy")]: n for n in zf.namelist() if n.endswith(".npy")}
            keys = [f"arr_{i}" for i in range(len(names))]
            if sorted(names) != sorted(keys):
                raise VerificationError(
                    f"{path}: expected arrays named arr_0..arr_{len(names) - 1} (np.savez order),"
                    f" found {', '.join(sorted(names))}"
                )
            return [read_npy(zf.read(names[k]), f"{path}:{k}") for k in keys]
    except (zipfile.BadZipFile, OSError) as exc:
        raise VerificationError(f"{path}: cannot read .npz: {exc}") from None


def write_npz(path: Path, arrays: list[RawArray]) -> None:
    """Write ``arrays`` as an uncompressed ``np.savez``-compatible file."""
    with zipfile.ZipFile(path, "w") as zf:
        for index, array in enumerate(arrays):
            info = zipfile.ZipInfo(f"arr_{index}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, _npy_bytes(array))


def _npy_bytes(array: RawArray) -> bytes:
    header = f"{{'descr': '{array.dtype}', 'fortran_order': False, 'shape': {array.shape!r}, }}"
    padding = 64 - (10 + len(header) + 1) % 64
    encoded = (header + " " * padding + "\n").encode("latin1")
    buffer = io.BytesIO()
    buffer.write(NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(encoded)) + encoded)
    buffer.write(array.data)
    return buffer.getvalue()


def compare(actual: RawArray, expected: RawArray, atol: float, rtol: float) -> Comparison:
    """Element-wise ``|a - e| <= atol + rtol * |e|``; dtype and shape must match exactly."""
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return Comparison(
            False,
            False,
            math.inf,
            f"got {actual.dtype}{list(actual.shape)}, expected {expected.dtype}"
            f"{list(expected.shape)}",
        )
    if actual.data == expected.data:
        return Comparison(True, True, 0.0, "identical")
    worst, failing = 0.0, 0
    for a, e in zip(actual.values(), expected.values()):
        if isinstance(a, float) and (math.isnan(a) or math.isnan(e)):
            error = 0.0 if math.isnan(a) and math.isnan(e) else math.inf
        else:
            error = abs(a - e)
        worst = max(worst, error)
        if error > atol + rtol * abs(e):
            failing += 1
    if failing:
        return Comparison(
            False,
            False,
            worst,
            f"{failing} of {actual.size} values outside atol={atol:g} rtol={rtol:g}"
            f" (max abs error {worst:.6g})",
        )
    return Comparison(True, False, worst, f"within tolerance (max abs error {worst:.3g})")


def random_array(dtype: str, shape: tuple[int, ...], seed: int) -> RawArray:
    """Deterministic pseudo-random values (floats in [0, 1), integers over their whole range)."""
    code = STRUCT_CODES.get(dtype[1:])
    if code is None:
        raise VerificationError(f"cannot make inputs of dtype {dtype}")
    rng = random.Random(seed)
    count = math.prod(max(n, 1) for n in shape)
    kind, bits = dtype[1], 8 * int(dtype[2:])
    if kind == "f":
        values: list[float] | list[int] | list[bool] = [rng.random() for _ in range(count)]
    elif kind == "b":
        values = [rng.random() < 0.5 for _ in range(count)]
    else:
        low = -(1 << (bits - 1)) if kind == "i" else 0
        values = [rng.randint(low, low + (1 << bits) - 1) for _ in range(count)]
    shape = tuple(max(n, 1) for n in shape)
    return RawArray(dtype, shape, struct.pack(f"<{count}{code}", *values))
