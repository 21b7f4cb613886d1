"""Everything about the source that can be refused before anything is patched or compiled.

In order: the official script exists; the tree is the version the build claims; the files the
build runs or patches have LF line endings; the upstream lines a platform relies on are there;
every patch of the series applies exactly (checked in memory: nothing is written); and with
``--deps-dir``, every dependency folder exists and, where it is a git checkout, is at the commit
the tree pins it to. ``--dry-run`` runs these checks on a given tree; a build runs them again
right before patching.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BuildError
from .model import Plan
from .patches import check_patches, parse_patch
from .recipe import Dependency, PinFix
from .tree import crlf_file, dependency_pin, git_state, read_version, resolve_ref
from .versions import check_extracted

CMAKELISTS = "tensorflow/lite/CMakeLists.txt"


def check_tree(plan: Plan) -> list[str]:
    """One line per check that passed; the first problem raises a one-line BuildError."""
    tree, script = plan.tree, plan.recipe.script
    if not (tree / script).is_file():
        raise BuildError(f"{tree}: no {script}; is this a TensorFlow tree?")
    check_extracted(tree, plan.version.wanted)
    found = read_version(tree)
    lines = [f"the tree is TensorFlow {found.version} ({found.file}): {plan.version.proof}"]
    lines.append(_line_endings(plan, found.file))
    lines += _required_lines(plan)
    lines += _patches(plan)
    lines += check_dependencies(plan)
    return lines


def _line_endings(plan: Plan, version_file: str) -> str:
    targets = {f.path for p in plan.version.series.patches for f in parse_patch(p).files}
    files = [plan.recipe.script, version_file, CMAKELISTS, *sorted(targets)]
    bad = crlf_file(plan.tree, files)
    if bad:
        raise BuildError(
            f"{plan.tree / bad} has CRLF line endings (a Windows checkout?): bash cannot run "
            "the build script and the patches do not match; check the tree out with LF "
            "endings (git config core.autocrlf false) or convert it (dos2unix)"
        )
    return f"LF line endings in {len(files)} files the build runs or patches"


def _required_lines(plan: Plan) -> list[str]:
    lines = []
    for required in plan.platform.required_lines:
        path = plan.tree / required.file
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if required.line not in text:
            raise BuildError(f"{required.file} lacks the line the build relies on: {required.line}")
        lines.append(f"{required.file} has: {required.line}")
    return lines


def _patches(plan: Plan) -> list[str]:
    outcomes = check_patches(plan.tree, plan.version.series.patches)
    return [f"patch {o.patch.name}: {o.status}" for o in outcomes]


def check_dependencies(plan: Plan) -> list[str]:
    deps_dir = plan.request.deps_dir
    if deps_dir is None:
        return []
    dependencies = plan.version.series.dependencies
    missing = [deps_dir / d.name for d in dependencies if not (deps_dir / d.name).is_dir()]
    if missing:
        raise BuildError(
            f"--deps-dir lacks {len(missing)} of {len(dependencies)} dependencies, first: "
            f"{missing[0]}"
        )
    return [_dependency(plan, deps_dir, d) for d in dependencies]


def _dependency(plan: Plan, deps_dir: Path, dependency: Dependency) -> str:
    folder = deps_dir / dependency.name
    pin = dependency_pin(plan.tree, dependency.name, (deps_dir / "xnnpack" / "cmake",))
    fix = _fix_for(plan.version.series.pin_fixes, dependency.name, pin)
    if fix is not None:
        pin = fix.ref
    state = git_state(folder)
    prefix = f"dependency {dependency.name}: {folder}"
    if pin is None:
        return f"{prefix} (no pin found in the tree: commit not checked)"
    if state is None:
        return f"{prefix} (not a git checkout: cannot check it is at {pin[:12]})"
    wanted = resolve_ref(folder, pin) or pin
    if state.commit != wanted:
        raise BuildError(
            f"{folder} is at commit {state.commit[:12]}, but the tree pins {dependency.name} "
            f"to {pin[:12]}" + (f" ({fix.evidence})" if fix else "")
        )
    note = f"; {fix.replaces[:12]} in the CMake files is wrong, see the recipe" if fix else ""
    return f"{prefix} at {state.commit[:12]}, the pinned commit{note}"


def _fix_for(fixes: tuple[PinFix, ...], name: str, pin: str | None) -> PinFix | None:
    return next((f for f in fixes if f.dependency == name and f.replaces == pin), None)
