"""Tests for builder.tflite_model on the committed smoke models and hand-made FlatBuffers."""

from __future__ import annotations

import random
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Union

import pytest
from conftest import SMOKE_DIR

from builder.errors import BuilderError, ModelFormatError
from builder.tflite_model import (
    BUILTIN_OPERATORS,
    ModelInfo,
    OperatorCode,
    read_model_info,
)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

MANIFEST = tomllib.loads((SMOKE_DIR / "manifest.toml").read_text(encoding="utf-8"))
ENTRIES = {entry["name"]: entry for entry in MANIFEST["model"]}

CNN_OPS = {
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "MAX_POOL_2D",
    "MUL",
    "RESHAPE",
    "SOFTMAX",
}
REQUIRED_OPS = {
    "cnn_float32": CNN_OPS,
    "cnn_float16": CNN_OPS | {"DEQUANTIZE"},
    "cnn_dynamic_int8": CNN_OPS,
    "cnn_int8": CNN_OPS,
    "gru_while": {"WHILE"},
    "lstm_stateful": {"UNIDIRECTIONAL_SEQUENCE_LSTM"},
}
# What the TF 2.15 converter wrote into each model's "min_runtime_version" metadata.
MIN_RUNTIME_VERSIONS = {
    "cnn_float32": "1.5.0",
    "cnn_float16": "1.15.0",
    "cnn_dynamic_int8": "2.4.0",
    "cnn_int8": "1.14.0",
    "gru_while": "1.15.0",
    "lstm_stateful": "1.13.1",
}


def smoke_info(name: str) -> ModelInfo:
    return read_model_info(SMOKE_DIR / f"{name}.tflite")


# ---------------------------------------------------------------------------------------------
# The committed smoke models.


def test_manifest_lists_the_whole_suite() -> None:
    assert MANIFEST["schema"] == 1
    assert set(ENTRIES) == set(REQUIRED_OPS)
    for name in ENTRIES:
        for suffix in (".tflite", ".input.npz", ".expected.npz"):
            assert (SMOKE_DIR / f"{name}{suffix}").is_file()


@pytest.mark.parametrize("name", sorted(REQUIRED_OPS))
def test_smoke_model_has_required_ops(name: str) -> None:
    info = smoke_info(name)
    assert REQUIRED_OPS[name] <= set(info.op_names())
    assert info.schema_version == 3
    assert not any(op.custom for op in info.operators)


@pytest.mark.parametrize("name", sorted(REQUIRED_OPS))
def test_manifest_ops_match_reader(name: str) -> None:
    # generate.py wrote these with TensorFlow's own schema reader: an independent check.
    assert ENTRIES[name]["ops"] == smoke_info(name).op_names()


@pytest.mark.parametrize("name", sorted(REQUIRED_OPS))
def test_min_runtime_version(name: str) -> None:
    version = smoke_info(name).min_runtime_version
    assert version == MIN_RUNTIME_VERSIONS[name]
    assert version == ENTRIES[name]["min_runtime_version"]


def test_subgraph_counts() -> None:
    assert smoke_info("gru_while").subgraph_count == 3
    for name in sorted(set(REQUIRED_OPS) - {"gru_while"}):
        assert smoke_info(name).subgraph_count == 1


def test_operator_versions() -> None:
    versions = {op.name: op.version for op in smoke_info("cnn_dynamic_int8").operators}
    # tflite-runtime 2.14 refuses FULLY_CONNECTED version 12 (per-channel hybrid dense).
    assert versions["FULLY_CONNECTED"] == 9
    assert versions["CONV_2D"] == 5
    int8 = {op.name: op.version for op in smoke_info("cnn_int8").operators}
    assert int8["CONV_2D"] == 3
    assert int8["SOFTMAX"] == 2


def test_model_format_error_is_builder_error() -> None:
    assert issubclass(ModelFormatError, BuilderError)


# ---------------------------------------------------------------------------------------------
# Malformed files.


def expect_invalid(path: Path, reason: str) -> str:
    with pytest.raises(ModelFormatError) as caught:
        read_model_info(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a valid TensorFlow Lite model: ")
    assert reason in message
    return message


def real_model_bytes() -> bytes:
    return (SMOKE_DIR / "cnn_float32.tflite").read_bytes()


@pytest.mark.parametrize("keep", [0, 3, 8, 64, 1000])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "truncated.tflite"
    path.write_bytes(real_model_bytes()[:keep])
    reason = "empty" if keep == 0 else "outside" if keep >= 8 else "only"
    expect_invalid(path, reason)


def test_truncated_to_half(tmp_path: Path) -> None:
    data = real_model_bytes()
    path = tmp_path / "half.tflite"
    path.write_bytes(data[: len(data) // 2])
    expect_invalid(path, "outside the")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.tflite"
    path.write_bytes(random.Random(7).randbytes(4096))
    expect_invalid(path, "file identifier")


def test_wrong_identifier(tmp_path: Path) -> None:
    data = bytearray(real_model_bytes())
    data[4:8] = b"TFL2"
    path = tmp_path / "wrong_id.tflite"
    path.write_bytes(bytes(data))
    expect_invalid(path, "file identifier is b'TFL2', expected b'TFL3'")


def test_root_offset_outside_file(tmp_path: Path) -> None:
    data = bytearray(real_model_bytes())
    struct.pack_into("<I", data, 0, len(data) + 100)
    path = tmp_path / "root.tflite"
    path.write_bytes(bytes(data))
    expect_invalid(path, "model table")


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.tflite", tmp_path):
        with pytest.raises(ModelFormatError, match="cannot read model") as caught:
            read_model_info(path)
        assert str(path) in str(caught.value)


def test_mutated_models_never_crash(tmp_path: Path) -> None:
    """Byte flips either still parse or raise ModelFormatError, never anything else."""
    rng = random.Random(1234)
    path = tmp_path / "mutated.tflite"
    outcomes = {"parsed": 0, "rejected": 0}
    for name in sorted(REQUIRED_OPS):
        original = (SMOKE_DIR / f"{name}.tflite").read_bytes()
        for _ in range(60):
            data = bytearray(original)
            for _ in range(rng.randint(1, 6)):
                # Mostly hit the head, where the root table, vtables and offsets live.
                data[rng.randrange(min(len(data), 1024))] = rng.randrange(256)
            path.write_bytes(bytes(data))
            try:
                read_model_info(path)
                outcomes["parsed"] += 1
            except ModelFormatError:
                outcomes["rejected"] += 1
    assert outcomes["parsed"] > 0
    assert outcomes["rejected"] > 0


# ---------------------------------------------------------------------------------------------
# Hand-made FlatBuffers for cases the converter never writes.
#
# The writer lays objects out front to back: a table's vtable, then the table, then the
# objects it refers to, which therefore sit after the offsets pointing at them (FlatBuffer
# uoffsets only point forward).

Ref = Callable[[bytearray], int]  # writes an object at the end of the buffer, returns its start
Field = Union[tuple[str, int], Ref, None]  # (struct format, value), a reference, or absent


def _align(buf: bytearray, size: int = 4) -> None:
    buf.extend(bytes(-len(buf) % size))


def table(*fields: Field) -> Ref:
    def write(buf: bytearray) -> int:
        _align(buf)
        vtable = len(buf)
        buf.extend(bytes(4 + 2 * len(fields)))
        _align(buf)
        start = len(buf)
        buf.extend(struct.pack("<i", start - vtable))
        entries, refs = [], []
        for field in fields:
            entries.append(0 if field is None else len(buf) - start)
            if isinstance(field, tuple):
                buf.extend(struct.pack(field[0], field[1]))
            elif field is not None:
                refs.append((len(buf), field))
                buf.extend(bytes(4))
        struct.pack_into(
            f"<HH{len(fields)}H", buf, vtable, 4 + 2 * len(fields), len(buf) - start, *entries
        )
        _patch(buf, refs)
        return start

    return write


def vector(*items: Ref) -> Ref:
    def write(buf: bytearray) -> int:
        _align(buf)
        start = len(buf)
        buf.extend(struct.pack("<I", len(items)))
        refs = [(start + 4 + 4 * i, item) for i, item in enumerate(items)]
        buf.extend(bytes(4 * len(items)))
        _patch(buf, refs)
        return start

    return write


def ubytes(data: bytes) -> Ref:
    def write(buf: bytearray) -> int:
        _align(buf)
        start = len(buf)
        buf.extend(struct.pack("<I", len(data)) + data + b"\0")
        return start

    return write


def string(text: str) -> Ref:
    return ubytes(text.encode())


def raw_offset(target: int) -> Ref:
    """A reference to an arbitrary position, e.g. past the end of the file."""
    return lambda buf: target


def _patch(buf: bytearray, refs: list[tuple[int, Ref]]) -> None:
    for slot, ref in refs:
        struct.pack_into("<I", buf, slot, ref(buf) - slot)


def opcode(
    builtin: int | None = None,
    deprecated: int | None = None,
    version: int | None = None,
    custom: str | None = None,
) -> Ref:
    return table(
        None if deprecated is None else ("<b", deprecated),
        None if custom is None else string(custom),
        None if version is None else ("<i", version),
        None if builtin is None else ("<i", builtin),
    )


def model(
    opcodes: list[Ref] | Ref,
    metadata: Sequence[Ref] = (),
    buffers: Sequence[Ref] = (),
    subgraphs: int = 1,
) -> bytes:
    root = table(
        ("<I", 3),
        vector(*opcodes) if isinstance(opcodes, list) else opcodes,
        vector(*[table() for _ in range(subgraphs)]),
        string("hand-made"),
        vector(*buffers),
        None,
        vector(*metadata),
    )
    buf = bytearray(8)
    buf[4:8] = b"TFL3"
    struct.pack_into("<I", buf, 0, root(buf))
    return bytes(buf)


def metadata(name: str, buffer: int) -> Ref:
    return table(string(name), ("<I", buffer))


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "handmade.tflite"
    path.write_bytes(data)
    return path


def test_handmade_operator_codes(tmp_path: Path) -> None:
    codes = [
        opcode(deprecated=3, version=2),  # old writers fill only the byte field
        opcode(deprecated=127, builtin=150, version=1),  # GELU needs the int32 field
        opcode(builtin=999),  # newer than the table; version defaults to 1
        opcode(builtin=32, custom="MyCustomOp", version=4),
        opcode(builtin=32, deprecated=32, custom="Another"),
        opcode(),  # all defaults: ADD version 1
        opcode(builtin=3, version=3),  # a second version of CONV_2D
    ]
    info = read_model_info(write(tmp_path, model(codes, subgraphs=2)))
    assert info.operators == (
        OperatorCode("CONV_2D", 2, custom=False),
        OperatorCode("GELU", 1, custom=False),
        OperatorCode("BUILTIN_999", 1, custom=False),
        OperatorCode("MyCustomOp", 4, custom=True),
        OperatorCode("Another", 1, custom=True),
        OperatorCode("ADD", 1, custom=False),
        OperatorCode("CONV_2D", 3, custom=False),
    )
    assert info.op_names() == ["ADD", "Another", "BUILTIN_999", "CONV_2D", "GELU", "MyCustomOp"]
    assert info.subgraph_count == 2
    assert info.schema_version == 3
    assert info.min_runtime_version is None


def test_builtin_table_matches_schema_codes() -> None:
    assert len(BUILTIN_OPERATORS) == 210
    assert len(set(BUILTIN_OPERATORS)) == 210
    known = {
        0: "ADD",
        9: "FULLY_CONNECTED",
        32: "CUSTOM",
        44: "UNIDIRECTIONAL_SEQUENCE_LSTM",
        119: "WHILE",
        127: "PLACEHOLDER_FOR_GREATER_OP_CODES",
        150: "GELU",
        206: "STABLEHLO_COMPOSITE",
        209: "STABLEHLO_CASE",
    }
    for code, name in known.items():
        assert BUILTIN_OPERATORS[code] == name


def test_min_runtime_version_inline_with_padding(tmp_path: Path) -> None:
    buffers = [table(), table(ubytes(b"2.3.0" + b"\0" * 11))]
    data = model([opcode()], [metadata("other", 0), metadata("min_runtime_version", 1)], buffers)
    assert read_model_info(write(tmp_path, data)).min_runtime_version == "2.3.0"


def external_version_model(size: int, payload: bytes) -> bytes:
    """A model whose version buffer lives after the FlatBuffer, as in models over 2 GB."""

    def build(offset: int) -> bytes:
        buffers = [table(), table(None, ("<Q", offset), ("<Q", size))]
        return model([opcode()], [metadata("min_runtime_version", 1)], buffers)

    head = build(0)
    offset = len(head) + -len(head) % 16
    data = build(offset)
    return data + bytes(offset - len(data)) + payload


def test_min_runtime_version_external_buffer(tmp_path: Path) -> None:
    data = external_version_model(16, b"2.14.0".ljust(16, b"\0"))
    assert read_model_info(write(tmp_path, data)).min_runtime_version == "2.14.0"


def test_external_buffer_outside_file(tmp_path: Path) -> None:
    data = external_version_model(16, b"1.0.0")  # the file ends before size bytes
    expect_invalid(write(tmp_path, data), "external data")


def test_metadata_refers_to_missing_buffer(tmp_path: Path) -> None:
    data = model([opcode()], [metadata("min_runtime_version", 5)], [table()])
    expect_invalid(write(tmp_path, data), "refers to missing buffer 5")


def test_vector_offset_outside_file(tmp_path: Path) -> None:
    data = model(raw_offset(1 << 20))
    expect_invalid(write(tmp_path, data), "operator_codes at")


def test_vector_length_beyond_file(tmp_path: Path) -> None:
    def huge_vector(buf: bytearray) -> int:
        start = len(buf)
        buf.extend(struct.pack("<I", 0x40000000))
        return start

    expect_invalid(write(tmp_path, model(huge_vector)), "operator_codes at")


def test_table_offset_outside_file(tmp_path: Path) -> None:
    data = model([opcode(), raw_offset(1 << 24)])
    expect_invalid(write(tmp_path, data), "operator_codes[1] table")


def test_malformed_vtable(tmp_path: Path) -> None:
    data = bytearray(model([opcode(builtin=3)]))
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    struct.pack_into("<H", data, vtable, 3)  # odd vtable size
    expect_invalid(write(tmp_path, bytes(data)), "malformed vtable")


def test_field_outside_its_table(tmp_path: Path) -> None:
    data = bytearray(model([opcode(builtin=3)]))
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    table_size = struct.unpack_from("<H", data, vtable + 2)[0]
    struct.pack_into("<H", data, vtable + 4, table_size)  # version field past the table end
    expect_invalid(write(tmp_path, bytes(data)), "field 0 lies outside its table")


def test_custom_code_not_utf8(tmp_path: Path) -> None:
    bad = table(None, ubytes(b"\xff\xfe"), None, ("<i", 32))
    expect_invalid(write(tmp_path, model([bad])), "custom_code is not UTF-8")
