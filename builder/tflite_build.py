"""tflite-runtime wheels through TensorFlow's official CMake pip script.

``make_plan`` turns a request and ``recipes/tflite-runtime.toml`` into numbered steps (every
command, environment variable and patch); ``render_plan`` prints them, which is all ``--dry-run``
does; ``execute_plan`` runs them in order and marks each step executed, skipped or not run.
The steps: get the source, apply our patches strictly, check upstream lines we rely on, create
the build venv, write the CMake initial cache, run the official script, repair (Linux), collect
the wheel into the output directory, verify it where this host can run it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from . import sources
from .cache import atomic_copy, atomic_write_text, cache_dir
from .console import info, step
from .errors import BuildError, RecipeError, UnsupportedPlatformError
from .patches import apply_patches, parse_patch
from .platforms import CacheEntry, Platform, host_description, load_platforms
from .recipes import Table, load_recipe, project_root
from .runner import format_command, run
from .wheelfile import Wheel

RECIPE = "tflite-runtime"
BUILD_KEYS = {"script", "dist_dir", "distribution", "build_requires", "build_config"}
VERSION_KEYS = {
    "url",
    "sha256",
    "archive_root",
    "git_version",
    "patches",
    "fetchcontent",
    "source_dir_vars",
}
SCRIPT_PYTHON = "python"  # CI_BUILD_PYTHON; the build venv is first on PATH
SOURCE_DIR_SUFFIX = "_SOURCE_DIR"

PLANNED, EXECUTED, SKIPPED, NOT_RUN, FAILED = "planned", "executed", "skipped", "not run", "failed"


# -- recipe --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRecipe:
    version: str
    source: sources.SourceArchive
    git_version: str
    patches: tuple[Path, ...]
    fetchcontent: tuple[str, ...]
    source_dir_vars: tuple[str, ...]


@dataclass(frozen=True)
class TfliteRecipe:
    script: str
    dist_dir: str
    distribution: str
    build_requires: tuple[str, ...]
    build_config: str
    versions: dict[str, VersionRecipe]
    platforms: dict[str, Platform]


def patches_root() -> Path:
    from .resources import patches_dir

    return patches_dir() / RECIPE


def load_tflite_recipe() -> TfliteRecipe:
    table = load_recipe(RECIPE)
    table.check_keys({"build", "versions", "platforms", "slim"})  # [slim]: builder.slim_recipe
    build = table.table("build")
    build.check_keys(BUILD_KEYS)
    versions_table = table.table("versions")
    versions = {v: _version(v, versions_table.table(v)) for v in versions_table.data}
    return TfliteRecipe(
        script=build.string("script"),
        dist_dir=build.string("dist_dir"),
        distribution=build.string("distribution"),
        build_requires=build.strings("build_requires"),
        build_config=build.string("build_config"),
        versions=versions,
        platforms=load_platforms(table.table("platforms")),
    )


def _version(version: str, entry: Table) -> VersionRecipe:
    entry.check_keys(VERSION_KEYS)
    patches = tuple(patches_root() / version / name for name in entry.strings("patches"))
    missing = [p for p in patches if not p.is_file()]
    if missing:
        raise RecipeError(f"{entry.source}: {entry.prefix}patches: no such file {missing[0]}")
    for var in entry.strings("source_dir_vars"):
        if not var.endswith(SOURCE_DIR_SUFFIX):
            raise RecipeError(f"{entry.source}: {entry.prefix}source_dir_vars: {var} must end _DIR")
    archive = sources.SourceArchive(
        version=version,
        url=entry.string("url").format(version=version),
        sha256=entry.optional_string("sha256"),
        root=entry.string("archive_root").format(version=version),
    )
    return VersionRecipe(
        version=version,
        source=archive,
        git_version=entry.string("git_version").format(version=version),
        patches=patches,
        fetchcontent=entry.strings("fetchcontent"),
        source_dir_vars=entry.strings("source_dir_vars"),
    )


# -- request and plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildRequest:
    tf_version: str
    platform: str
    python: str  # X.Y of the CPython the wheel is for
    out: Path
    source: Path | None = None
    deps_dir: Path | None = None
    dry_run: bool = False
    allow_unpinned: bool = False
    verify: bool = True
    repair: bool = True
    jobs: int | None = None


@dataclass
class Step:
    number: int
    key: str
    title: str
    commands: list[list[str]] = field(default_factory=list)
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    status: str = PLANNED
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "key": self.key,
            "title": self.title,
            "commands": [format_command(c) for c in self.commands],
            "cwd": str(self.cwd) if self.cwd else None,
            "env": dict(self.env),
            "details": list(self.details),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class Plan:
    request: BuildRequest
    recipe: TfliteRecipe
    version: VersionRecipe
    platform: Platform
    work: Path
    tree: Path
    steps: list[Step]
    wheel_name: str
    wheel_path: Path | None = None
    verification: dict[str, Any] | None = None

    @property
    def venv(self) -> Path:
        return self.work / "venv"

    @property
    def venv_bin(self) -> Path:
        return self.venv / self.platform.driver.VENV_BIN

    @property
    def initial_cache(self) -> Path:
        return self.work / "initial-cache.cmake"

    @property
    def dist_dir(self) -> Path:
        return self.tree / self.recipe.dist_dir.format(python=SCRIPT_PYTHON)

    @property
    def script_wheel_name(self) -> str:
        return wheel_filename(self, self.platform.wheel_platform)

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tf_version": self.version.version,
            "platform": self.platform.name,
            "python": self.request.python,
            "dry_run": self.request.dry_run,
            "tree": str(self.tree),
            "steps": [s.to_dict() for s in self.steps],
            "wheel": self.wheel_name,
            "wheel_path": str(self.wheel_path) if self.wheel_path else None,
            "verification": self.verification,
        }


def wheel_filename(plan: Plan, platform_tag: str) -> str:
    tag = "cp" + plan.request.python.replace(".", "")
    return f"{plan.recipe.distribution}-{plan.version.version}-{tag}-{tag}-{platform_tag}.whl"


def make_plan(request: BuildRequest, recipe: TfliteRecipe | None = None) -> Plan:
    recipe = recipe or load_tflite_recipe()
    version = _pick(recipe.versions, request.tf_version, "TensorFlow version")
    platform = _pick(recipe.platforms, request.platform, "platform")
    if not _is_python_version(request.python):
        raise UnsupportedPlatformError(f"--python must look like 3.12, not {request.python!r}")
    if request.source is not None and not request.source.is_dir():
        raise BuildError(f"--source {request.source}: no such directory")
    if request.deps_dir is not None and not request.deps_dir.is_dir():
        raise BuildError(f"--deps-dir {request.deps_dir}: no such directory")
    label = f"{version.version}-{platform.name}-py{request.python}"
    work = cache_dir(RECIPE, "work", label, create=False)
    tree = request.source.resolve() if request.source else work / version.source.root
    plan = Plan(request, recipe, version, platform, work, tree, [], "")
    plan.wheel_name = wheel_filename(plan, _final_tag(plan))
    for builder in STEP_BUILDERS:
        built = builder(plan)
        if built is not None:
            built.number = len(plan.steps) + 1
            plan.steps.append(built)
    return plan


def _pick(options: dict[str, Any], key: str, what: str) -> Any:
    if key not in options:
        known = ", ".join(sorted(options))
        raise UnsupportedPlatformError(f"unsupported {what} {key!r} (the recipe has: {known})")
    return options[key]


def _is_python_version(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 2 and all(p.isdigit() for p in parts) and parts[0] == "3"


def _final_tag(plan: Plan) -> str:
    return plan.platform.driver.final_platform_tag(plan.platform, plan.request.repair)


def _jobs(plan: Plan) -> int:
    return plan.request.jobs or plan.platform.jobs or os.cpu_count() or 1


def _relative_patch(path: Path) -> str:
    try:
        return path.relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


# -- step builders -------------------------------------------------------------------------------


def _source_step(plan: Plan) -> Step:
    archive = plan.version.source
    if plan.request.source is not None:
        details = [f"use --source {plan.tree} (not downloaded, no hash check; patched in place)"]
        return Step(0, "source", f"Use the TensorFlow {archive.version} tree", details=details)
    pin = sources.pin_for(archive, sources.lock_path())
    download_to = cache_dir(RECIPE, "downloads", create=False) / archive.filename
    sha = (
        f"sha256: {pin.sha256} ({pin.description})" if pin.sha256 else f"sha256: {pin.description}"
    )
    details = [f"download {archive.url} -> {download_to}", sha]
    if pin.sha256 is None:
        details.append(
            "needs --allow-unpinned: the first download's sha256 is then recorded in "
            f"{sources.lock_path()} and checked on every later download"
        )
    details.append(f"extract {archive.root}/ to {plan.tree}")
    return Step(0, "source", f"Get the TensorFlow {archive.version} source", details=details)


def _patch_step(plan: Plan) -> Step:
    details = []
    for path in plan.version.patches:
        targets = ", ".join(parse_patch(path).targets)
        details.append(f"{_relative_patch(path)} -> {targets}")
    title = f"Apply {len(plan.version.patches)} patches (exact: no fuzz, all or nothing)"
    return Step(0, "patch", title, cwd=plan.tree, details=details)


def _check_step(plan: Plan) -> Step:
    details = [f"{plan.recipe.script} exists"]
    details += [f"{r.file} has: {r.line}" for r in plan.platform.required_lines]
    if plan.request.deps_dir is not None:
        details += [f"{path} exists" for _, _, path in _dependencies(plan)]
    return Step(
        0,
        "check",
        "Check the upstream lines and local sources the build relies on",
        details=details,
    )


def _venv_step(plan: Plan) -> Step:
    python = plan.platform.driver.planned_interpreter(plan.platform, plan.request.python)
    venv_python = plan.venv_bin / "python"
    commands = [
        [*python, "-m", "venv", str(plan.venv)],
        [str(venv_python), "-m", "pip", "install", *plan.recipe.build_requires],
    ]
    return Step(
        0, "venv", f"Create the CPython {plan.request.python} build environment", commands=commands
    )


def _cache_step(plan: Plan) -> Step:
    entries = _cache_entries(plan, None)
    details = [e.cmake() for e in entries]
    if plan.request.deps_dir is None:
        details.append(
            "dependencies: fetched by CMake at configure time (network needed; --deps-dir "
            "makes the build offline)"
        )
    else:
        details += [f"dependency {name}: {path} ({var})" for name, var, path in _dependencies(plan)]
    return Step(0, "cache", f"Write the CMake initial cache {plan.initial_cache}", details=details)


def _script_step(plan: Plan) -> Step:
    platform = plan.platform
    env = {
        "CI_BUILD_PYTHON": SCRIPT_PYTHON,
        "PATH": f"{plan.venv_bin}{os.pathsep}$PATH",
        "BUILD_NUM_JOBS": str(_jobs(plan)),
        "WHEEL_PLATFORM_NAME": platform.plat_name,
        "TFLITE_GIT_VERSION": plan.version.git_version,
        "TFLITE_CMAKE_BUILD_CONFIG": plan.recipe.build_config,
        **platform.driver.environment(platform),
        "TFLITE_CMAKE_INITIAL_CACHE": str(plan.initial_cache),
    }
    command = [platform.driver.SCRIPT_SHELL, plan.recipe.script, platform.tensorflow_target]
    config = plan.recipe.build_config
    configure = [*platform.driver.configure_args(platform), "-C", str(plan.initial_cache)]
    details = [
        f"the patched script configures CMake (host tools, then the module) with: "
        f"{format_command(configure)}",
        f"and builds with: cmake --build . -j {_jobs(plan)} --config {config} "
        "-t _pywrap_tensorflow_interpreter_wrapper",
        platform.driver.config_note(platform, config),
        platform.driver.strip_note(platform),
        f"produces {plan.script_wheel_name}",
    ]
    return Step(
        0,
        "script",
        "Run the official script",
        commands=[command],
        cwd=plan.tree,
        env=env,
        details=details,
    )


def _repair_step(plan: Plan) -> Step | None:
    script_wheel = plan.dist_dir / plan.script_wheel_name
    command = plan.platform.driver.repair_command(plan.platform, script_wheel, _repaired_dir(plan))
    if command is None:
        return None
    repaired = Step(
        0, "repair", f"Repair to {plan.platform.manylinux} with auditwheel", commands=[command]
    )
    if not plan.request.repair:
        repaired.status = SKIPPED
        repaired.reason = f"--no-repair: the wheel keeps the {plan.platform.wheel_platform} tag"
    return repaired


def _collect_step(plan: Plan) -> Step:
    details = [f"copy {plan.wheel_name} to {plan.request.out}/", f"check tags: {_tag_text(plan)}"]
    return Step(0, "collect", "Collect the wheel", details=details)


def _verify_step(plan: Plan) -> Step:
    verify = Step(0, "verify", "Verify the wheel with builder.verify")
    if not plan.request.verify:
        verify.status, verify.reason = SKIPPED, "--no-verify"
    elif not host_runs(plan.wheel_name):
        verify.status = NOT_RUN
        host = f"{host_description()}, CPython {default_python()}"
        verify.reason = f"this host ({host}) cannot install a {_tag_text(plan)} wheel"
    return verify


STEP_BUILDERS: list[Callable[[Plan], Step | None]] = [
    _source_step,
    _patch_step,
    _check_step,
    _venv_step,
    _cache_step,
    _script_step,
    _repair_step,
    _verify_step,  # before collect: nothing unverified reaches --out
    _collect_step,
]


def _tag_text(plan: Plan) -> str:
    return plan.wheel_name[: -len(".whl")].split("-", 2)[2]


def _repaired_dir(plan: Plan) -> Path:
    return plan.work / "repaired"


def _dependencies(plan: Plan) -> list[tuple[str, str, Path]]:
    """(name, CMake variable, local path) for every dependency --deps-dir provides."""
    deps = plan.request.deps_dir
    if deps is None:
        return []
    deps = deps.resolve()
    result = [
        (n, f"FETCHCONTENT_SOURCE_DIR_{n.upper()}", deps / n) for n in plan.version.fetchcontent
    ]
    for var in plan.version.source_dir_vars:
        name = var[: -len(SOURCE_DIR_SUFFIX)].lower()
        result.append((name, var, deps / name))
    return result


def _cache_entries(plan: Plan, python_base_prefix: str | None) -> list[CacheEntry]:
    entries = list(plan.platform.driver.cache_entries(plan.platform, python_base_prefix))
    if plan.request.deps_dir is not None:
        entries.append(CacheEntry("FETCHCONTENT_FULLY_DISCONNECTED", "BOOL", "ON"))
        entries += [CacheEntry(var, "PATH", str(path)) for _, var, path in _dependencies(plan)]
    return entries


def host_runs(wheel_name: str) -> bool:
    """Whether this interpreter could install and import a wheel with these tags."""
    supported = set(sys_tags())
    return any(tag in supported for tag in parse_wheel_filename(wheel_name)[3])


# -- rendering -----------------------------------------------------------------------------------


def render_plan(plan: Plan) -> list[str]:
    request = plan.request
    mode = "dry run: nothing was executed" if request.dry_run else "plan"
    lines = [
        f"tflite-runtime {plan.version.version} for {plan.platform.name}, "
        f"CPython {request.python} ({mode})"
    ]
    for s in plan.steps:
        lines.append(f"{s.number:>2}. {s.title}")
        lines += [f"      {d}" for d in s.details]
        lines += [f"      env {key}={value}" for key, value in s.env.items()]
        where = f"   (in {s.cwd})" if s.cwd and s.commands else ""
        lines += [f"      $ {format_command(c)}{where}" for c in s.commands]
        if s.status != PLANNED:
            lines.append(f"      [{s.status}] {s.reason}")
    lines.append(f"Output wheel: {plan.wheel_name}")
    return lines


def render_summary(plan: Plan) -> list[str]:
    lines = []
    for s in plan.steps:
        note = f": {s.reason}" if s.reason else ""
        lines.append(f"{s.number:>2}. {s.title}: {s.status}{note}")
    return lines


# -- execution -----------------------------------------------------------------------------------


def execute_plan(plan: Plan) -> Plan:
    """Run every planned step in order; after a failure the later steps are marked not run."""
    problem = plan.platform.driver.build_problem(plan.platform)
    if problem:
        raise UnsupportedPlatformError(f"{problem}; --dry-run shows the full plan")
    context: dict[str, Any] = {}
    for s in plan.steps:
        if s.status != PLANNED:
            continue
        step(f"{s.number}. {s.title}")
        try:
            EXECUTORS[s.key](plan, s, context)
        except _NotRun as exc:
            s.status, s.reason = NOT_RUN, str(exc)
            continue
        except BaseException:
            s.status, s.reason = FAILED, "see the error above"
            mark_not_run(plan, "an earlier step failed")
            raise
        s.status = EXECUTED
    return plan


def mark_not_run(plan: Plan, reason: str) -> None:
    for s in plan.steps:
        if s.status == PLANNED:
            s.status, s.reason = NOT_RUN, reason


class _NotRun(Exception):
    """Raised by an executor that finds, at run time, that its step cannot run here."""


def _run_source(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    if plan.request.source is not None:
        return
    archive = sources.fetch(plan.version.source, sources.lock_path(), plan.request.allow_unpinned)
    sources.extract(archive, plan.version.source.root, plan.tree)


def _run_patch(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    outcomes = apply_patches(plan.tree, plan.version.patches)
    s.reason = "; ".join(f"{o.patch.name}: {o.status}" for o in outcomes)
    for outcome in outcomes:
        info(f"  {outcome.patch.name}: {outcome.status}")


def _run_check(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    if not (plan.tree / plan.recipe.script).is_file():
        raise BuildError(f"{plan.tree}: no {plan.recipe.script}; is this a TensorFlow tree?")
    for required in plan.platform.required_lines:
        path = plan.tree / required.file
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if required.line not in text.splitlines() and required.line not in text:
            raise BuildError(f"{required.file} lacks the line the build relies on: {required.line}")
    missing = [str(p) for _, _, p in _dependencies(plan) if not p.is_dir()]
    if missing:
        raise BuildError(f"--deps-dir lacks {len(missing)} dependencies, first: {missing[0]}")


def _run_venv(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    driver, python = plan.platform.driver, plan.request.python
    planned = driver.planned_interpreter(plan.platform, python)
    resolved = driver.interpreter(plan.platform, python)
    shutil.rmtree(plan.venv, ignore_errors=True)
    plan.work.mkdir(parents=True, exist_ok=True)
    run([*resolved, *s.commands[0][len(planned) :]])
    run(s.commands[1])
    probe = "import sys; print(sys.base_prefix)"
    context["base_prefix"] = run([str(plan.venv_bin / "python"), "-c", probe], echo=False).tail()


def _run_cache(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    entries = _cache_entries(plan, context.get("base_prefix"))
    header = f"# Written by tflite-edge-builder for TensorFlow {plan.version.version}"
    text = "\n".join([f"{header}, {plan.platform.name}.", *(e.cmake() for e in entries)]) + "\n"
    atomic_write_text(plan.initial_cache, text)


def _run_script(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    env = dict(s.env)
    env["PATH"] = f"{plan.venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(plan.venv)
    shell = plan.platform.driver.find_shell()
    if shell is None:
        raise BuildError(f"{plan.platform.driver.SCRIPT_SHELL} is not on PATH")
    run([shell, *s.commands[0][1:]], cwd=plan.tree, env=env)
    built = plan.dist_dir / plan.script_wheel_name
    if not built.is_file():
        found = ", ".join(p.name for p in plan.dist_dir.glob("*.whl")) or "none"
        raise BuildError(f"the script did not produce {built.name} (wheels found: {found})")
    context["wheel"] = built


def _run_repair(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    if shutil.which("auditwheel") is None:
        raise BuildError(
            "auditwheel is not on PATH: install it (pip install auditwheel), build in the "
            "Dockerfile's manylinux image, or pass --no-repair to keep the linux tag"
        )
    out = _repaired_dir(plan)
    shutil.rmtree(out, ignore_errors=True)
    command = plan.platform.driver.repair_command(plan.platform, context["wheel"], out)
    run(command)
    repaired = out / plan.wheel_name
    if not repaired.is_file():
        raise BuildError(f"auditwheel did not produce {plan.wheel_name}")
    context["wheel"] = repaired


def _run_collect(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    wheel = Wheel.open(context["wheel"])
    if wheel.path.name != plan.wheel_name:
        raise BuildError(f"expected {plan.wheel_name}, got {wheel.path.name}")
    target = plan.request.out / plan.wheel_name
    atomic_copy(wheel.path, target)
    plan.wheel_path = target
    info(f"wrote {target}")


def _run_verify(plan: Plan, s: Step, context: dict[str, Any]) -> None:
    try:
        from .verify import verify_wheels
    except ImportError as exc:
        raise _NotRun(f"builder.verify is not available here ({exc})") from None
    result = verify_wheels([context["wheel"]])
    plan.verification = result.to_dict()
    if not result.ok:
        raise BuildError(f"{plan.wheel_name} failed verification (see the report)")


EXECUTORS: dict[str, Callable[[Plan, Step, dict[str, Any]], None]] = {
    "source": _run_source,
    "patch": _run_patch,
    "check": _run_check,
    "venv": _run_venv,
    "cache": _run_cache,
    "script": _run_script,
    "repair": _run_repair,
    "collect": _run_collect,
    "verify": _run_verify,
}


def default_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
