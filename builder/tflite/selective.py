"""A runtime for a set of models: the resolver source that registers exactly their operators.

TensorFlow's selective builds (``gen_selected_ops``) exist only for Bazel. Here the tree's own
``tensorflow/lite/core/kernels/register.cc`` is the source of truth: every ``AddBuiltin(...)``
statement of ``BuiltinOpResolver`` gives an operator's kernel and its version range, every
``AddCustom(...)`` a custom operator TensorFlow ships. ``plan_selection`` checks that each
operator (and version) the models need is there, refusing one the build cannot provide;
``resolver_source`` writes ``MakeSelectedOpResolver()`` (patch 0007 makes the interpreter
wrapper call it), registering those statements only, so the linker drops every other kernel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError
from ..opset import Needed, Registered

REGISTER_CC = "tensorflow/lite/core/kernels/register.cc"
_CONSTRUCTOR = "BuiltinOpResolver::BuiltinOpResolver() {"
_STATEMENT = re.compile(r"\b(AddBuiltin|AddCustom)\((.*?)\);", re.S)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CUSTOM_DECL = re.compile(r"TfLiteRegistration\*\s+(Register_\w+)\(\);")


@dataclass(frozen=True)
class Registration:
    name: str  # CONV_2D, or a custom code such as Mfcc
    statement: str  # the AddBuiltin/AddCustom call, normalised to one line
    low: int
    high: int
    custom: bool


@dataclass(frozen=True)
class Selection:
    registrations: tuple[Registration, ...]
    custom_declarations: tuple[str, ...]  # Register_X functions of tflite::ops::custom
    registered: Registered


def registrations(tree: Path) -> dict[str, Registration]:
    """Every operator ``BuiltinOpResolver`` registers in this tree, by name."""
    path = tree / REGISTER_CC
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    start = text.find(_CONSTRUCTOR)
    if start < 0:
        raise BuildError(f"{path}: no {_CONSTRUCTOR} (the selective build reads its AddBuiltin)")
    body = text[start : text.find("\n}\n", start)]
    found = {}
    for kind, arguments in _STATEMENT.findall(body):
        registration = _registration(kind, arguments, path)
        found[registration.name] = registration
    if not found:
        raise BuildError(f"{path}: no AddBuiltin statements found")
    return found


def _registration(kind: str, arguments: str, path: Path) -> Registration:
    args = [a.strip() for a in _COMMENT.sub("", " ".join(arguments.split())).split(",")]
    statement = f"{kind}({', '.join(args)});"
    if kind == "AddCustom":
        return Registration(args[0].strip('"'), statement, 1, 1, custom=True)
    if not args[0].startswith("BuiltinOperator_") or len(args) not in (2, 4):
        raise BuildError(f"{path}: cannot read {statement}")
    low, high = (int(args[2]), int(args[3])) if len(args) == 4 else (1, 1)
    return Registration(args[0][len("BuiltinOperator_") :], statement, low, high, custom=False)


def plan_selection(tree: Path, needed: Needed, label: str, tensorflow: str) -> Selection:
    """The registrations the models need; refuses what this tree cannot provide."""
    known = registrations(tree)
    chosen = []
    for name, version in sorted(needed.builtins.items()):
        registration = known.get(name)
        if registration is None or registration.custom:
            raise BuildError(f"the models need {name}, which {REGISTER_CC} does not register")
        if not registration.low <= version <= registration.high:
            raise BuildError(
                f"the models need {name} v{version}; TensorFlow {tensorflow} registers "
                f"v{registration.low}-{registration.high}"
            )
        chosen.append(registration)
    shipped = ", ".join(sorted(r.name for r in known.values() if r.custom))
    for name in sorted(needed.customs):
        registration = known.get(name)
        if registration is None or not registration.custom:
            raise BuildError(
                f"the models need the custom operator {name}, which the build cannot provide "
                f"(TensorFlow ships {shipped})"
            )
        chosen.append(registration)
    registered = Registered(
        tensorflow=tensorflow,
        builtins={r.name: (r.low, r.high) for r in chosen if not r.custom},
        customs=frozenset(r.name for r in chosen if r.custom),
        models=needed.models,
        label=label,
    )
    declarations = _custom_declarations(tree, chosen)
    return Selection(tuple(chosen), declarations, registered)


def _custom_declarations(tree: Path, chosen: list[Registration]) -> tuple[str, ...]:
    text = (tree / REGISTER_CC).read_text(encoding="utf-8")
    declared = set(_CUSTOM_DECL.findall(text))
    wanted = []
    for registration in chosen:
        if registration.custom:
            match = re.search(r"(Register_\w+)\(\)\);$", registration.statement)
            if match and match.group(1) in declared:
                wanted.append(match.group(1))
    return tuple(wanted)


def resolver_source(selection: Selection) -> str:
    """The C++ file patch 0007 compiles into the module (deterministic for the same input)."""
    names = ", ".join(r.name for r in selection.registrations)
    lines = [
        "// Generated by tflite-edge-builder (build tflite-runtime --ops-from); do not edit.",
        f"// Models: {', '.join(selection.registered.models)}",
        f"// Operators ({len(selection.registrations)}): {names}",
        "#include <memory>",
        "",
        '#include "tensorflow/lite/core/kernels/builtin_op_kernels.h"',
        '#include "tensorflow/lite/mutable_op_resolver.h"',
        '#include "tensorflow/lite/schema/schema_generated.h"',
        '#include "tensorflow/lite/tflite_with_xnnpack_optional.h"',
        "",
        "namespace tflite {",
        "namespace ops {",
        "namespace custom {",
        *(f"TfLiteRegistration* {name}();" for name in selection.custom_declarations),
        "}  // namespace custom",
        "namespace builtin {",
        "namespace {",
        "",
        "class SelectedOpResolver : public MutableOpResolver {",
        " public:",
        "  explicit SelectedOpResolver(bool default_delegates) {",
        *(f"    {r.statement}" for r in selection.registrations),
        "    may_directly_contain_user_defined_ops_ = false;",
        "    if (default_delegates) {",
        "      delegate_creators_.push_back([](TfLiteContext* context) {",
        "        return MaybeCreateXNNPACKDelegate(context, XNNPackQS8Options::default_value);",
        "      });",
        "    }",
        "  }",
        "};",
        "",
        "}  // namespace",
        "}  // namespace builtin",
        "}  // namespace ops",
        "",
        "namespace interpreter_wrapper {",
        "",
        "std::unique_ptr<MutableOpResolver> MakeSelectedOpResolver(bool default_delegates) {",
        "  return std::make_unique<ops::builtin::SelectedOpResolver>(default_delegates);",
        "}",
        "",
        "}  // namespace interpreter_wrapper",
        "}  // namespace tflite",
    ]
    return "\n".join(lines) + "\n"
