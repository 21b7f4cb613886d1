"""Operator sets: what the smoke models need, what a selective runtime registers (read from a
TensorFlow-shaped register.cc), the resolver source, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMOKE_DIR, bump_operator_version
from fake_tensorflow import CUSTOM, OPERATORS, make_tree

from builder.errors import ArgumentError, BuildError, VerificationError
from builder.opset import Needed, Registered, check_models, needed_by
from builder.tflite.selective import plan_selection, registrations, resolver_source
from builder.tflite_model import ModelFormatError, read_model_info

SMOKE_OPS = {
    "ADD": 2, "AVERAGE_POOL_2D": 2, "CONCATENATION": 2, "CONV_2D": 5, "DEPTHWISE_CONV_2D": 3,
    "DEQUANTIZE": 3, "FULLY_CONNECTED": 9, "GATHER": 1, "LESS": 1, "LOGISTIC": 1,
    "MAX_POOL_2D": 2, "MUL": 2, "RESHAPE": 1, "SLICE": 1, "SOFTMAX": 2, "SPLIT": 1, "SUB": 1,
    "TANH": 1, "UNIDIRECTIONAL_SEQUENCE_LSTM": 1, "WHILE": 1,
}  # fmt: skip


def test_the_smoke_models_need_twenty_operators() -> None:
    needed = needed_by([SMOKE_DIR])
    assert needed.builtins == SMOKE_OPS
    assert needed.customs == frozenset()
    assert len(needed.models) == 6 and needed.models[0] == "cnn_dynamic_int8.tflite"
    # The digest names the operator set, not the files: one model alone differs, the same set
    # read twice does not.
    assert needed.digest() == needed_by([SMOKE_DIR]).digest()
    lstm = needed_by([SMOKE_DIR / "lstm_stateful.tflite"])
    assert lstm.builtins == {"UNIDIRECTIONAL_SEQUENCE_LSTM": 1}
    assert lstm.digest() != needed.digest() and len(lstm.digest()) == 8


def test_bad_model_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="no such model file or directory"):
        needed_by([tmp_path / "missing.tflite"])
    with pytest.raises(ArgumentError, match=r"no \.tflite models in this directory"):
        needed_by([tmp_path])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelFormatError, match=f"{junk}: not a valid TensorFlow Lite model"):
        needed_by([junk])


def test_the_fixture_register_cc_is_read_like_upstream(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.21.0")
    found = registrations(tree)
    builtins = {n: (r.low, r.high) for n, r in found.items() if not r.custom}
    assert builtins == OPERATORS
    assert {n for n, r in found.items() if r.custom} == set(CUSTOM)
    assert found["CONV_2D"].statement == (
        "AddBuiltin(BuiltinOperator_CONV_2D, Register_CONV_2D(), 1, 8);"
    )
    assert found["RESHAPE"].statement == "AddBuiltin(BuiltinOperator_RESHAPE, Register_RESHAPE());"


def _selection(tmp_path: Path, needed: Needed):  # type: ignore[no-untyped-def]
    tree = make_tree(tmp_path, "2.21.0")
    return plan_selection(tree, needed, "2.21.0+ops.test", "2.21.0")


def test_the_resolver_registers_exactly_the_models_operators(tmp_path: Path) -> None:
    selection = _selection(tmp_path, needed_by([SMOKE_DIR]))
    assert [r.name for r in selection.registrations] == sorted(SMOKE_OPS)
    assert selection.registered.builtins == {n: OPERATORS[n] for n in SMOKE_OPS}
    source = resolver_source(selection)
    assert source.count("    AddBuiltin(") == len(SMOKE_OPS)
    assert "RESIZE_BILINEAR" not in source and "ABS" not in source
    assert "std::unique_ptr<MutableOpResolver> MakeSelectedOpResolver(bool default_delegates)" in (
        source
    )
    assert resolver_source(selection) == source  # deterministic


def test_an_operator_or_version_the_tree_lacks_is_refused(tmp_path: Path) -> None:
    too_new = Needed({"CONV_2D": 9}, frozenset(), ("m.tflite",))
    with pytest.raises(BuildError, match=r"the models need CONV_2D v9; TensorFlow 2.21.0 "
                       r"registers v1-8"):  # fmt: skip
        _selection(tmp_path / "a", too_new)
    unknown = Needed({"STABLEHLO_ADD": 1}, frozenset(), ("m.tflite",))
    with pytest.raises(BuildError, match=r"need STABLEHLO_ADD, which .*register\.cc does not"):
        _selection(tmp_path / "b", unknown)
    custom = Needed({}, frozenset({"MyOp"}), ("m.tflite",))
    with pytest.raises(BuildError, match="custom operator MyOp, which the build cannot provide "
                       r"\(TensorFlow ships AudioSpectrogram, Mfcc\)"):  # fmt: skip
        _selection(tmp_path / "c", custom)
    shipped = _selection(tmp_path / "d", Needed({}, frozenset({"Mfcc"}), ("m.tflite",)))
    assert "TfLiteRegistration* Register_MFCC();" in resolver_source(shipped)


def test_a_selective_runtime_refuses_a_model_it_cannot_run(tmp_path: Path) -> None:
    registered = Registered(
        tensorflow="2.21.0",
        builtins={"UNIDIRECTIONAL_SEQUENCE_LSTM": (1, 4)},
        customs=frozenset(),
        models=("lstm_stateful.tflite",),
        label="2.21.0+ops.1234abcd",
    )
    assert Registered.from_json(registered.to_json(), "here") == registered
    check_models(registered, [SMOKE_DIR / "lstm_stateful.tflite"])  # its own model: fine
    with pytest.raises(VerificationError) as caught:
        check_models(registered, [SMOKE_DIR / "cnn_float32.tflite"])
    assert str(caught.value) == (
        "cnn_float32.tflite needs CONV_2D v1; this runtime (2.21.0+ops.1234abcd) was built for "
        "1 operator of lstm_stateful.tflite: rebuild it with --ops-from including this model"
    )
    # A newer version of an operator the runtime has: refused too, naming the version.
    int8 = SMOKE_DIR / "cnn_int8.tflite"
    needed = needed_by([int8])
    exact = Registered("2.21.0", {n: (1, v) for n, v in needed.builtins.items()}, frozenset(),
                       ("cnn_int8.tflite",), "2.21.0+ops.test")  # fmt: skip
    check_models(exact, [int8])
    newer = tmp_path / "cnn_int8_newer.tflite"
    newer.write_bytes(bump_operator_version(int8.read_bytes(), version=42))
    bumped = next(op for op in read_model_info(newer).operators if op.version == 42)
    with pytest.raises(VerificationError, match=f"needs {bumped.name} v42; this runtime"):
        check_models(exact, [newer])
