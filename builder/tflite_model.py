"""Read the operator set and runtime requirements of a ``.tflite`` model, stdlib only.

A TensorFlow Lite model is a FlatBuffer of the ``tflite`` schema (file identifier ``TFL3``).
This reader walks just the parts the builder needs: the schema version, the operator codes,
the subgraph count and the ``min_runtime_version`` metadata the converter writes. Every
offset is bounds-checked, and every loop is bounded by a vector length that has itself been
checked against the file size, so malformed input fails fast with ``ModelFormatError``.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelFormatError

FILE_IDENTIFIER = b"TFL3"
CUSTOM_CODE = 32
MIN_RUNTIME_VERSION_KEY = "min_runtime_version"

# BuiltinOperator names indexed by code, from the tflite schema (codes 0..209).
# fmt: off
BUILTIN_OPERATORS: tuple[str, ...] = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",  # 0-4
    "DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",  # 5-9
    "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",  # 10-13
    "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",  # 14-20
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF",  # 21-27
    "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE",  # 28-33
    "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",  # 34-37
    "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",  # 38-43
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",  # 44-47
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST",  # 48-53
    "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER",  # 54-61
    "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV",  # 62-67
    "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",  # 68-75
    "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",  # 76-83
    "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",  # 84-89
    "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",  # 90-96
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",  # 97-101
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE",  # 102-109
    "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG",  # 110-115
    "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4",  # 116-120
    "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",  # 121-125
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",  # 126-129
    "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",  # 130-136
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL",  # 137-140
    "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",  # 141-144
    "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM",  # 145-148
    "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",  # 149-152
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",  # 153-156
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",  # 157-161
    "STABLEHLO_LOGISTIC", "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY",  # 162-165
    "STABLEHLO_MAXIMUM", "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP",  # 166-168
    "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM", "STABLEHLO_CONVOLUTION",  # 169-171
    "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE", "STABLEHLO_ABS",  # 172-175
    "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL", "STABLEHLO_FLOOR",  # 176-179
    "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR",  # 180-183
    "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",  # 184-187
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE",  # 188-191
    "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",  # 192-194
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL",  # 195-197
    "STABLEHLO_REDUCE_WINDOW", "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER",  # 198-201
    "STABLEHLO_TRANSPOSE", "DILATE", "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW",  # 202-205
    "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT", "STABLEHLO_CBRT", "STABLEHLO_CASE",  # 206-209
)
# fmt: on

# Field ids (declaration order) of the schema tables read here.
_MODEL_VERSION, _MODEL_OPERATOR_CODES, _MODEL_SUBGRAPHS = 0, 1, 2
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_OPCODE_DEPRECATED_BUILTIN, _OPCODE_CUSTOM, _OPCODE_VERSION, _OPCODE_BUILTIN = 0, 1, 2, 3
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_METADATA_NAME, _METADATA_BUFFER = 0, 1


@dataclass(frozen=True)
class OperatorCode:
    name: str
    version: int
    custom: bool


@dataclass(frozen=True)
class ModelInfo:
    schema_version: int
    operators: tuple[OperatorCode, ...]
    subgraph_count: int
    min_runtime_version: str | None

    def op_names(self) -> list[str]:
        """Sorted unique operator names (custom operators by their custom code)."""
        return sorted({op.name for op in self.operators})


def builtin_name(code: int) -> str:
    if 0 <= code < len(BUILTIN_OPERATORS):
        return BUILTIN_OPERATORS[code]
    return f"BUILTIN_{code}"


class _Invalid(Exception):
    """Internal: the reason a model is malformed; wrapped with the path by the caller."""


class _Buffer:
    """Bounds-checked little-endian reads from the whole file."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data
        self.size = len(data)

    def check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise _Invalid(
                f"{what} at {pos} (+{length} bytes) is outside the {self.size}-byte file"
            )

    def unpack(self, fmt: str, pos: int, what: str) -> int:
        self.check(pos, struct.calcsize(fmt), what)
        value: int = struct.unpack_from(fmt, self.data, pos)[0]
        return value

    def bytes_at(self, pos: int, length: int, what: str) -> bytes:
        self.check(pos, length, what)
        return bytes(self.data[pos : pos + length])

    def follow(self, pos: int, what: str) -> int:
        """Resolve the forward uoffset stored at ``pos``."""
        return pos + self.unpack("<I", pos, what)


class _Table:
    def __init__(self, buf: _Buffer, pos: int, what: str) -> None:
        self.buf, self.pos, self.what = buf, pos, what
        vtable = pos - buf.unpack("<i", pos, f"{what} table")
        self.vtable_size = buf.unpack("<H", vtable, f"{what} vtable")
        self.table_size = buf.unpack("<H", vtable + 2, f"{what} vtable")
        if self.vtable_size < 4 or self.vtable_size % 2 or self.table_size < 4:
            raise _Invalid(f"{what} has a malformed vtable")
        buf.check(vtable, self.vtable_size, f"{what} vtable")
        buf.check(pos, self.table_size, f"{what} table")
        self.vtable = vtable

    def _field(self, field_id: int, size: int) -> int | None:
        entry = 4 + 2 * field_id
        if entry >= self.vtable_size:
            return None  # written by an older schema: field absent
        offset = self.buf.unpack("<H", self.vtable + entry, f"{self.what} vtable")
        if offset == 0:
            return None
        if offset + size > self.table_size:
            raise _Invalid(f"{self.what} field {field_id} lies outside its table")
        return self.pos + offset

    def scalar(self, field_id: int, fmt: str, default: int) -> int:
        pos = self._field(field_id, struct.calcsize(fmt))
        if pos is None:
            return default
        return self.buf.unpack(fmt, pos, f"{self.what} field {field_id}")

    def _vector(self, field_id: int, elem_size: int, what: str) -> tuple[int, int] | None:
        """(start, length) of a vector field, with the whole vector bounds-checked."""
        pos = self._field(field_id, 4)
        if pos is None:
            return None
        vector = self.buf.follow(pos, what)
        length = self.buf.unpack("<I", vector, what)
        self.buf.check(vector + 4, length * elem_size, what)
        return vector + 4, length

    def byte_vector(self, field_id: int, what: str) -> bytes | None:
        found = self._vector(field_id, 1, what)
        if found is None:
            return None
        start, length = found
        return self.buf.bytes_at(start, length, what)

    def string(self, field_id: int, what: str) -> str | None:
        raw = self.byte_vector(field_id, what)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Invalid(f"{what} is not UTF-8 text") from None

    def tables(self, field_id: int, what: str) -> list[_Table]:
        found = self._vector(field_id, 4, what)
        return [] if found is None else [self._element(found[0], i, what) for i in range(found[1])]

    def table_at(self, field_id: int, index: int, what: str) -> _Table | None:
        found = self._vector(field_id, 4, what)
        if found is None or not 0 <= index < found[1]:
            return None
        return self._element(found[0], index, what)

    def _element(self, start: int, index: int, what: str) -> _Table:
        name = f"{what}[{index}]"
        return _Table(self.buf, self.buf.follow(start + 4 * index, name), name)


def _operator_code(table: _Table) -> OperatorCode:
    deprecated = table.scalar(_OPCODE_DEPRECATED_BUILTIN, "<b", 0)
    builtin = table.scalar(_OPCODE_BUILTIN, "<i", 0)
    # Codes above 127 only fit the newer int32 field; older writers fill only the byte.
    code = max(deprecated, builtin)
    version = table.scalar(_OPCODE_VERSION, "<i", 1)
    if code != CUSTOM_CODE:
        return OperatorCode(builtin_name(code), version, custom=False)
    custom_code = table.string(_OPCODE_CUSTOM, f"{table.what}.custom_code")
    return OperatorCode(custom_code or builtin_name(code), version, custom=True)


def _buffer_bytes(buf: _Buffer, table: _Table) -> bytes:
    data = table.byte_vector(_BUFFER_DATA, f"{table.what}.data")
    if data:
        return data
    # Models over 2 GB keep buffers after the FlatBuffer; offsets are from the file start.
    offset = table.scalar(_BUFFER_OFFSET, "<Q", 0)
    if offset <= 1:
        return b""
    size = table.scalar(_BUFFER_SIZE, "<Q", 0)
    return buf.bytes_at(offset, size, f"{table.what} external data")


def _min_runtime_version(buf: _Buffer, model: _Table) -> str | None:
    for entry in model.tables(_MODEL_METADATA, "metadata"):
        if entry.string(_METADATA_NAME, f"{entry.what}.name") != MIN_RUNTIME_VERSION_KEY:
            continue
        index = entry.scalar(_METADATA_BUFFER, "<I", 0)
        buffer = model.table_at(_MODEL_BUFFERS, index, "buffers")
        if buffer is None:
            raise _Invalid(f"{entry.what} refers to missing buffer {index}")
        raw = _buffer_bytes(buf, buffer)
        text = raw.split(b"\0", 1)[0]
        try:
            return text.decode("ascii") or None
        except UnicodeDecodeError:
            raise _Invalid(f"{MIN_RUNTIME_VERSION_KEY} is not ASCII text") from None
    return None


def _parse(buf: _Buffer) -> ModelInfo:
    if buf.size < 8:
        raise _Invalid(f"file is only {buf.size} bytes")
    identifier = buf.bytes_at(4, 4, "file identifier")
    if identifier != FILE_IDENTIFIER:
        raise _Invalid(f"file identifier is {identifier!r}, expected {FILE_IDENTIFIER!r}")
    model = _Table(buf, buf.follow(0, "root table offset"), "model")
    codes = model.tables(_MODEL_OPERATOR_CODES, "operator_codes")
    return ModelInfo(
        schema_version=model.scalar(_MODEL_VERSION, "<I", 0),
        operators=tuple(_operator_code(code) for code in codes),
        subgraph_count=len(model.tables(_MODEL_SUBGRAPHS, "subgraphs")),
        min_runtime_version=_min_runtime_version(buf, model),
    )


def read_model_info(path: Path) -> ModelInfo:
    """Parse ``path``; raise ``ModelFormatError`` naming it if it is not a valid model."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, 2) == 0:
                raise _Invalid("file is empty")
            try:
                # Models can be large and only a few hundred bytes are read: map, don't load.
                data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # e.g. a file system without mmap support
                file.seek(0)
                return _parse(_Buffer(file.read()))
            with data:
                return _parse(_Buffer(data))
    except _Invalid as err:
        raise ModelFormatError(f"{path}: not a valid TensorFlow Lite model: {err}") from None
    except OSError as err:
        raise ModelFormatError(f"{path}: cannot read model: {err.strerror or err}") from None
