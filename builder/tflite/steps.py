"""The steps of a tflite-runtime build, in order. Each ``*_step(plan)`` describes its step for the
plan (commands, environment, details) and names the function that executes it.

source -> check -> [ops] -> patch -> venv -> cache -> script -> metadata -> repair -> verify ->
collect (ops: only for a selective build, ``--ops-from``)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .. import manylinux, sources
from ..cache import atomic_copy, atomic_write_text, cache_dir
from ..console import info, warn
from ..errors import BuildError, EnvironmentSetupError
from ..interpreters import find as find_python
from ..opset import OPS_MEMBER
from ..recipes import project_root
from ..runner import format_command, run
from ..smoke import load_models
from ..tflite_model import read_model_info
from ..wheelfile import Wheel
from .checks import check_tree
from .model import (
    ARCHIVE,
    NOT_RUN,
    SCRIPT_PYTHON,
    SKIPPED,
    TREE,
    BuildRequest,
    BuildState,
    Plan,
    Step,
)
from .numpy_abi import numpy_requirement
from .patches import apply_patches, parse_patch
from .platforms import CacheEntry
from .selective import Selection, plan_selection, resolver_source

BUILD_TARGET = "_pywrap_tensorflow_interpreter_wrapper"
_PROBE = (
    "import numpy, sys; print(numpy.__version__, numpy.get_include(), sys.base_prefix, sep='\\n')"
)


# -- source --------------------------------------------------------------------------------------


def source_step(plan: Plan) -> Step:
    archive = plan.version.series.source
    if plan.source_kind == TREE:
        details = [f"use --source {plan.tree} (patched in place)", plan.version.proof]
        return Step(
            "source", f"Use the TensorFlow {plan.wheel_version} tree", _use_tree, details=details
        )
    if plan.source_kind == ARCHIVE:
        assert plan.request.source is not None
        details = [plan.version.proof, f"extract {archive.root}/ to {plan.tree}"]
        return Step(
            "source", f"Extract the TensorFlow {archive.version} archive", _extract, details=details
        )
    pin = sources.pin_for(archive, lock_file(plan.request))
    target = cache_dir("tflite-runtime", "downloads", create=False) / archive.filename
    details = [
        f"download {archive.url} -> {target}",
        f"sha256: {pin.sha256 or '-'} ({pin.description})",
    ]
    if pin.sha256 is None:
        details.append(
            "needs --allow-unpinned: the first download's sha256 is then recorded in "
            f"{lock_file(plan.request)} and checked on every later download"
        )
    details.append(f"extract {archive.root}/ to {plan.tree}")
    return Step(
        "source", f"Get the TensorFlow {archive.version} source", _download, details=details
    )


def lock_file(request: BuildRequest) -> Path:
    return request.lock_file or sources.lock_path()


def _use_tree(plan: Plan, state: BuildState, step: Step) -> None:
    return None


def _extract(plan: Plan, state: BuildState, step: Step) -> None:
    assert plan.request.source is not None
    sources.extract(plan.request.source, plan.version.series.source.root, plan.tree)


def _download(plan: Plan, state: BuildState, step: Step) -> None:
    series = plan.version.series
    archive = sources.fetch(series.source, lock_file(plan.request), plan.request.allow_unpinned)
    sources.extract(archive, series.source.root, plan.tree)


# -- check and patch -----------------------------------------------------------------------------


def check_step(plan: Plan) -> Step:
    details = [
        f"{plan.recipe.script} exists; the tree says {plan.version.wanted.base_version}",
        "LF line endings in the script, the version file and every patch target",
        *(f"{r.file} has: {r.line}" for r in plan.platform.required_lines),
        f"every patch of the {plan.version.series.version} series applies exactly (in memory)",
    ]
    if plan.request.deps_dir is not None:
        details.append(
            f"--deps-dir has all {len(plan.version.series.dependencies)} dependencies, each "
            "at the commit the tree pins (where it is a git checkout)"
        )
    return Step(
        "check", "Check the tree before anything is patched or built", _check, details=details
    )


def _check(plan: Plan, state: BuildState, step: Step) -> None:
    step.details = check_tree(plan)
    for line in step.details:
        info(f"    {line}")


def ops_step(plan: Plan) -> Step | None:
    if plan.needed is None:
        return None
    ops = plan.needed.describe()
    details = [
        f"{len(ops)} operators of {len(plan.needed.models)} models: {', '.join(ops)}",
        "each checked against tensorflow/lite/core/kernels/register.cc (its version range)",
        f"generate {plan.selected_ops_source}: MakeSelectedOpResolver() registers exactly these",
    ]
    return Step("ops", "Generate the resolver for the models' operators", _ops, details=details)


def _selection(plan: Plan) -> Selection:
    """Check the needed operators against the tree's register.cc and remember the result."""
    assert plan.needed is not None
    tensorflow = plan.version.wanted.base_version
    selection = plan_selection(plan.tree, plan.needed, plan.wheel_version, tensorflow)
    plan.registered = selection.registered
    return selection


def select_ops(plan: Plan) -> list[str]:
    """The registrations a selective build will make, one line each (reads, never writes)."""
    return [f"{r.name}: v{r.low}-{r.high} registered" for r in _selection(plan).registrations]


def _ops(plan: Plan, state: BuildState, step: Step) -> None:
    selection = _selection(plan)
    atomic_write_text(plan.selected_ops_source, resolver_source(selection))
    info(f"    {len(selection.registrations)} operators: {plan.selected_ops_source}")


def patch_step(plan: Plan) -> Step:
    patches = plan.version.series.patches
    details = []
    for path in patches:
        targets = ", ".join(parse_patch(path).targets)
        details.append(f"{_relative_patch(path)} -> {targets}")
    title = f"Apply {len(patches)} patches (exact: no fuzz, all or nothing)"
    return Step("patch", title, _patch, cwd=plan.tree, details=details)


def _relative_patch(path: Path) -> str:
    try:
        return path.relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


def _patch(plan: Plan, state: BuildState, step: Step) -> None:
    outcomes = apply_patches(plan.tree, plan.version.series.patches)
    step.reason = "; ".join(f"{o.patch.name}: {o.status}" for o in outcomes)
    for outcome in outcomes:
        info(f"    {outcome.patch.name}: {outcome.status}")


# -- build environment, CMake cache, the official script ------------------------------------------


def venv_step(plan: Plan) -> Step:
    venv_python = plan.venv_bin / "python"
    commands = [
        [*plan.interpreter, "-m", "venv", str(plan.venv)],
        [
            str(venv_python),
            "-m",
            "pip",
            "install",
            "--only-binary",
            ":all:",
            *build_requirements(plan),
        ],
    ]
    details = ["the build requirements are pinned in recipes/tflite-runtime.toml [build]"]
    return Step(
        "venv",
        f"Create the CPython {plan.python} build environment",
        _venv,
        commands=commands,
        details=details,
    )


def build_requirements(plan: Plan) -> list[str]:
    """The recipe's pins that apply to the target CPython, markers evaluated for it."""
    environment = {"python_version": plan.python, "python_full_version": ""}
    chosen = []
    for text in plan.recipe.build_requires:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            chosen.append(str(requirement))
    return chosen


def _venv(plan: Plan, state: BuildState, step: Step) -> None:
    python = (
        plan.interpreter
        if plan.interpreter_given
        else (find_python(plan.python, plan.platform.interpreter_arch))
    )
    shutil.rmtree(plan.venv, ignore_errors=True)
    plan.work.mkdir(parents=True, exist_ok=True)
    run([*python, *step.commands[0][len(plan.interpreter) :]], log_file=plan.log_file)
    run(step.commands[1], log_file=plan.log_file, progress="installing the build requirements")
    probe = run([str(plan.venv_bin / "python"), "-c", _PROBE], echo=False, log=False)
    state.numpy_version, state.numpy_include, state.base_prefix = probe.output.split("\n")[:3]
    info(f"    numpy {state.numpy_version} headers: {state.numpy_include}")


def cache_step(plan: Plan) -> Step:
    details = [e.cmake() for e in cache_entries(plan, None)]
    if plan.request.deps_dir is None:
        details.append(
            "dependencies: fetched by CMake at configure time (network needed; --deps-dir "
            "makes the build offline)"
        )
    return Step(
        "cache", f"Write the CMake initial cache {plan.initial_cache}", _cache, details=details
    )


def cache_entries(plan: Plan, base_prefix: str | None) -> list[CacheEntry]:
    """TENSORFLOW_SOURCE_DIR first: without it TFLite's CMakeLists clones another TensorFlow
    release into the build directory and compiles this tree's TFLite against it."""
    entries = [CacheEntry("TENSORFLOW_SOURCE_DIR", "PATH", str(plan.tree))]
    entries += _merged(plan.platform.driver.cache_entries(plan.platform, base_prefix)
                       + _profile_entries(plan))  # fmt: skip
    if plan.needed is not None:
        entries.append(CacheEntry("TFLITE_EDGE_SELECTED_OPS_SOURCE", "PATH",
                                  str(plan.selected_ops_source)))  # fmt: skip
    if not plan.request.xnnpack:
        entries.append(CacheEntry("TFLITE_ENABLE_XNNPACK", "BOOL", "OFF"))
    deps = plan.request.deps_dir
    if deps is not None:
        entries.append(CacheEntry("FETCHCONTENT_FULLY_DISCONNECTED", "BOOL", "ON"))
        entries += [
            CacheEntry(d.var, "PATH", str(deps.resolve() / d.name))
            for d in plan.version.series.dependencies
        ]
        if not plan.request.xnnpack:  # fp16_headers: the FP16 checkout (patch 0008)
            entries.append(CacheEntry("FETCHCONTENT_SOURCE_DIR_FP16_HEADERS", "PATH",
                                      str(deps.resolve() / "fp16")))  # fmt: skip
    return entries


def _profile_entries(plan: Plan) -> list[CacheEntry]:
    flags = plan.profile.for_os(plan.platform.os)
    if flags is None:
        return []
    entries = [
        CacheEntry("CMAKE_C_FLAGS_RELEASE", "STRING", flags.c_flags),
        CacheEntry("CMAKE_CXX_FLAGS_RELEASE", "STRING", flags.cxx_flags),
    ]
    if flags.linker_flags:
        entries.append(CacheEntry("CMAKE_SHARED_LINKER_FLAGS", "STRING", flags.linker_flags))
    if flags.lto:
        entries.append(CacheEntry("CMAKE_INTERPROCEDURAL_OPTIMIZATION", "BOOL", "ON"))
    return entries


def _merged(entries: list[CacheEntry]) -> list[CacheEntry]:
    """One entry per variable: flags for the same variable (the platform's -s, a profile's
    --gc-sections) are joined, in order."""
    merged: dict[str, CacheEntry] = {}
    for entry in entries:
        if entry.name in merged:
            first = merged[entry.name]
            entry = CacheEntry(entry.name, entry.type, f"{first.value} {entry.value}")
        merged[entry.name] = entry
    return list(merged.values())


def _cache(plan: Plan, state: BuildState, step: Step) -> None:
    entries = cache_entries(plan, state.base_prefix)
    header = f"# Written by tflite-edge-builder for TensorFlow {plan.wheel_version}"
    text = "\n".join([f"{header}, {plan.platform.name}.", *(e.cmake() for e in entries)]) + "\n"
    atomic_write_text(plan.initial_cache, text)


def jobs(plan: Plan) -> int:
    return plan.request.jobs or plan.platform.jobs or os.cpu_count() or 1


def script_env(plan: Plan) -> dict[str, str]:
    platform, version = plan.platform, plan.version
    env = {
        "CI_BUILD_PYTHON": SCRIPT_PYTHON,
        "PATH": f"{plan.venv_bin}{os.pathsep}$PATH",
        "BUILD_NUM_JOBS": str(jobs(plan)),
        "WHEEL_PLATFORM_NAME": platform.plat_name,
        "VERSION_SUFFIX": version.suffix,
        "TFLITE_GIT_VERSION": version.git_version,
        "TFLITE_CMAKE_BUILD_CONFIG": plan.recipe.build_config,
        **platform.driver.environment(platform),
        "TFLITE_CMAKE_INITIAL_CACHE": str(plan.initial_cache),
    }
    if plan.ccache:
        # In the environment, not the cache file: CMake (3.17+) reads these for every project
        # it configures, the host tools and ExternalProjects (flatc) included.
        env["CMAKE_C_COMPILER_LAUNCHER"] = env["CMAKE_CXX_COMPILER_LAUNCHER"] = plan.ccache
        env["CCACHE_DIR"] = str(ccache_dir())
        env["CCACHE_BASEDIR"] = str(ccache_basedir(plan))
    return env


def ccache_basedir(plan: Plan) -> Path:
    """Paths below this are hashed relative to the compile's directory, so the build trees of
    several CPythons (one per work directory when the source is downloaded) share objects."""
    return plan.tree if plan.source_kind == TREE else plan.work.parent


def ccache_dir() -> Path:
    return cache_dir("ccache", create=False)


def script_step(plan: Plan) -> Step:
    platform, config = plan.platform, plan.recipe.build_config
    command = [platform.driver.SCRIPT_SHELL, plan.recipe.script, platform.tensorflow_target]
    configure = [*platform.driver.configure_args(platform), "-C", str(plan.initial_cache)]
    details = [
        "the patched script configures CMake (host tools, then the module) with: "
        f"{format_command(configure)}",
        f"and builds with: cmake --build . -j {jobs(plan)} --config {config} -t {BUILD_TARGET}",
        platform.driver.config_note(platform, config),
        platform.driver.strip_note(platform),
        _ccache_note(plan),
        f"output: {plan.log_file} (the first error is shown if it fails; -v streams it)",
        f"produces {plan.script_wheel_name}",
    ]
    return Step(
        "script",
        "Run the official script",
        _script,
        commands=[command],
        cwd=plan.tree,
        env=script_env(plan),
        details=details,
    )


def _ccache_note(plan: Plan) -> str:
    if plan.ccache:
        return f"ccache {plan.ccache} (cache {ccache_dir()}): a second build reuses the objects"
    problem = plan.platform.driver.ccache_problem(plan.platform)
    if plan.request.ccache is False:
        return "no ccache (--no-ccache)"
    return f"no ccache ({problem or 'not installed'})"


def _script(plan: Plan, state: BuildState, step: Step) -> None:
    env = dict(step.env)
    env["PATH"] = f"{plan.venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(plan.venv)
    shell = plan.platform.driver.find_shell()
    if shell is None:
        raise BuildError(f"{plan.platform.driver.SCRIPT_SHELL} is not on PATH")
    before = _ccache_stats(plan)
    info(f"    compiling; output goes to {plan.log_file}")
    run(
        [shell, *step.commands[0][1:]],
        cwd=plan.tree,
        env=env,
        log_file=plan.log_file,
        progress="building tflite-runtime",
    )
    plan.ccache_stats = _ccache_delta(before, _ccache_stats(plan))
    built = plan.dist_dir / plan.script_wheel_name
    if not built.is_file():
        found = ", ".join(p.name for p in plan.dist_dir.glob("*.whl")) or "none"
        raise BuildError(f"the script did not produce {built.name} (wheels found: {found})")
    state.wheel = built


Stats = dict[str, int]


def _ccache_stats(plan: Plan) -> Stats | None:
    if not plan.ccache:
        return None
    result = run(
        [plan.ccache, "--print-stats"],
        env={"CCACHE_DIR": str(ccache_dir())},
        echo=False,
        log=False,
        check=False,
    )
    stats = {}
    for line in result.output.splitlines():
        key, _, value = line.partition("\t")
        if value.strip().isdigit():
            stats[key] = int(value)
    return stats


def _ccache_delta(
    before: dict[str, int] | None, after: dict[str, int] | None
) -> dict[str, int] | None:
    if before is None or after is None:
        return None
    keys = {
        "direct_cache_hit": "hits_direct",
        "preprocessed_cache_hit": "hits_preprocessed",
        "cache_miss": "misses",
    }
    delta = {name: after.get(key, 0) - before.get(key, 0) for key, name in keys.items()}
    info(
        f"    ccache: {delta['hits_direct'] + delta['hits_preprocessed']} hits, "
        f"{delta['misses']} misses"
    )
    return delta


# -- the numpy requirement, the manylinux tag ----------------------------------------------------


def metadata_step(plan: Plan) -> Step:
    details = [
        "Requires-Dist numpy follows from the numpy headers the module was compiled with "
        "(their default C-API target) and upstream's own lower bound, e.g. numpy>=1.25,<3"
    ]
    if plan.local_label:
        details.append(f"version {plan.wheel_version}: the local label says what was left out")
    if plan.needed is not None:
        details.append(f"{OPS_MEMBER}: the operators (and versions) the runtime registers")
    title = "Write what the build implies into the wheel's metadata"
    return Step("metadata", title, _metadata, details=details)


def _metadata(plan: Plan, state: BuildState, step: Step) -> None:
    assert state.wheel is not None and state.numpy_version and state.numpy_include
    wheel = Wheel.open(state.wheel)
    declared = wheel.requires_dist()
    needed = numpy_requirement(state.numpy_version, Path(state.numpy_include), declared)
    others = [r for r in declared if canonicalize_name(Requirement(r).name) != "numpy"]
    wheel.set_requires_dist([*others, needed.requirement])
    step.details = [f"Requires-Dist: {needed.requirement}", needed.evidence]
    if plan.local_label:
        wheel.set_local_version(plan.local_label)
        step.details.append(f"version {wheel.version}")
    notes = [f"Built by tflite-edge-builder, profile {plan.profile.name}."]
    if not plan.request.xnnpack:
        notes.append("Without XNNPACK: every operator runs on TensorFlow Lite's own kernels.")
    if plan.registered is not None:
        wheel.add(OPS_MEMBER, plan.registered.to_json().encode())
        ops = ", ".join(sorted([*plan.registered.builtins, *plan.registered.customs]))
        notes.append(f"Selective runtime: it registers only these {plan.registered.count} "
                     f"operators (see {OPS_MEMBER}): {ops}.")  # fmt: skip
    wheel.set_description_note(" ".join(notes))
    out = plan.work / "metadata"
    shutil.rmtree(out, ignore_errors=True)
    state.wheel = wheel.write(out)
    plan.numpy_requirement = needed.requirement
    info(f"    Requires-Dist: {needed.requirement} ({needed.evidence})")


def repair_step(plan: Plan) -> Step | None:
    if not plan.platform.driver.repairs(plan.platform):
        return None
    details = [
        "auditwheel repair: the most compatible manylinux policy the module's symbol versions "
        "allow (built on this host's glibc; the Dockerfile's image gives "
        f"{plan.platform.manylinux or 'an older policy'})"
    ]
    repair = Step("repair", "Give the wheel its true manylinux tag", _repair, details=details)
    if not plan.request.repair:
        repair.status = SKIPPED
        repair.reason = f"--no-repair: the wheel keeps the {plan.platform.wheel_platform} tag"
    return repair


def _repair(plan: Plan, state: BuildState, step: Step) -> None:
    assert state.wheel is not None
    out, final = plan.work / "repaired", plan.work / "final"
    for directory in (out, final):
        shutil.rmtree(directory, ignore_errors=True)
    repaired = manylinux.repair(state.wheel, out, log_file=plan.log_file)
    state.wheel = Wheel.open(repaired).write(final)  # a deterministic zip, as before auditwheel
    tag = manylinux.platform_tag(state.wheel)
    step.reason = tag
    if plan.platform.manylinux and tag != plan.platform.manylinux:
        warn(
            f"the wheel is {tag} (this host's glibc), not {plan.platform.manylinux}: build in "
            "the Dockerfile's image for older systems"
        )


# -- verify and collect --------------------------------------------------------------------------


def verify_step(plan: Plan) -> Step:
    details = [f"in CPython {plan.python} with {req}" for req in plan.recipe.verify_with]
    if plan.needed is None:
        details.append("every smoke model, outputs within the manifest's tolerance")
    else:
        details.append("the smoke models this runtime can run (else the --ops-from models), "
                       "outputs within the manifest's tolerance")  # fmt: skip
    verify = Step("verify", "Verify the wheel with builder.verify", _verify, details=details)
    if not plan.request.verify:
        verify.status, verify.reason = SKIPPED, "--no-verify"
    elif plan.platform.driver.build_problem(plan.platform) is not None:
        verify.status = NOT_RUN
        verify.reason = f"this host cannot install a {plan.platform.name} wheel"
    return verify


def _verify(plan: Plan, state: BuildState, step: Step) -> None:
    assert state.wheel is not None
    for models, only in verification_models(plan):
        for requirement in plan.recipe.verify_with:
            _verify_with(plan, state.wheel, requirement, models, only)
    if not any(v.get("ok") for v in plan.verification):
        raise BuildError(f"{state.wheel.name} could not be verified with any numpy")


def verification_models(plan: Plan) -> list[tuple[Path | None, list[str] | None]]:
    """(models, names to run): the smoke models; for a selective runtime, the smoke models it
    can run, or, when it can run none of them, the models it was built for."""
    if plan.registered is None:
        return [(None, None)]
    registered = plan.registered
    smoke = load_models(None)
    fit = [m.name for m in smoke if registered.lacks(read_model_info(m.path)) is None]
    if fit:
        return [(None, fit)]
    return [(path, None) for path in plan.request.ops_from]


def _verify_with(
    plan: Plan, wheel: Path, requirement: str, models: Path | None, only: list[str] | None
) -> None:
    from ..verify import NOT_ON_INDEX, verify_wheels  # heavy: only a real build needs it

    try:
        result = verify_wheels([wheel], models=models, python=plan.python, extra=[requirement],
                               only=only)  # fmt: skip
    except EnvironmentSetupError as exc:
        numpy_missing = f"requirement {Requirement(requirement).name}" in str(exc)
        if not numpy_missing or not any(why in str(exc) for why in NOT_ON_INDEX):
            raise
        plan.verification.append({"with": requirement, "ok": None, "skipped": str(exc)})
        warn(f"not verified with {requirement}: no wheel for CPython {plan.python}")
        return
    numpy = result.installed.get("numpy", "?")
    plan.verification.append({"with": requirement, "numpy": numpy, **result.to_dict()})
    if not result.ok:
        first = next(r for r in result.results if not r.ok)
        raise BuildError(
            f"{wheel.name} failed verification with numpy {numpy}: {first.model}: "
            f"{first.status}: {first.message}"
        )
    info(f"    verified with numpy {numpy}: {len(result.results)} models pass")


def collect_step(plan: Plan) -> Step:
    details = [f"copy {plan.output_name} to {plan.request.out}/"]
    return Step("collect", "Collect the wheel", _collect, details=details)


def _collect(plan: Plan, state: BuildState, step: Step) -> None:
    assert state.wheel is not None
    wheel = Wheel.open(state.wheel)
    expected = plan.wheel_name(manylinux.platform_tag(state.wheel))
    if wheel.path.name != expected:
        raise BuildError(f"expected {expected}, got {wheel.path.name}")
    target = plan.request.out / wheel.path.name
    atomic_copy(wheel.path, target)
    plan.wheel_path = target
    info(f"wrote {target}")


STEPS: list[Callable[[Plan], Step | None]] = [
    source_step,
    check_step,
    ops_step,
    patch_step,
    venv_step,
    cache_step,
    script_step,
    metadata_step,
    repair_step,
    verify_step,  # before collect: nothing unverified reaches --out
    collect_step,
]
