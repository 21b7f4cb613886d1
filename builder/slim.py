"""``slim``: make a wheel as small as inference allows, and prove it.

Steps: prepare one environment with the stock wheel and the runtime; run the models on it (the
baseline every candidate must reproduce byte for byte); apply the recipe's source edits and trace
a run; then remove, by delta debugging over units, first everything the trace did not touch, then
what was only loaded but never imported; strip ELF files where the result still passes; blank the
docstrings and drop the comments of the kept ``.py`` files where the recipe asks for it, file by
file where the models and the public-API check (``_api_check.py``) still give the same results;
drop the
``Requires-Dist`` entries inference never imports and apply the recipe's metadata repairs
(``builder.dependencies``); write the wheel (zopfli-compressed by default) with a local version
label and verify it once more
with a real ``pip install`` into a fresh environment (and ``pip check`` when its dependencies
changed). Nothing reaches the output directory before that final verification passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import __version__
from .arrays import RawArray
from .cache import atomic_copy, cache_dir, scratch_dir, sha256_file
from .console import info, step, warn
from .dependencies import (
    DependencyPlan,
    PlatformCheck,
    check_platform,
    imported_distributions,
    plan_dependencies,
)
from .entry_points import prune_entry_points
from .environments import Environment, create_environment
from .errors import ArgumentError, CommandError, VerificationError
from .minimize import Oracle, content_key, reduce_removals
from .pypi import release_pin
from .pystrip import strip_source
from .resources import api_check_script
from .runner import Arg, run
from .runtimes import Runtime
from .slim_recipe import SlimRecipe, glob_match, load_slim_recipe
from .smoke import (
    DEFAULT_TIMEOUT,
    PASS,
    ModelRun,
    Outputs,
    SmokeModel,
    all_inputs,
    load_models,
    run_and_judge,
    run_models,
    stored_expectations,
)
from .strip import is_bundled_library, is_elf, strip_elf, strip_tool
from .trace import TracedUse, group_units, linked_closure, traced_members
from .verify import (
    VerifyResult,
    check_host_can_run,
    check_operators,
    conflicts,
    runtime_for,
    verify_wheels,
)
from .wheelfile import Wheel, check_local_label
from .workspace import Workspace
from .zipwrite import ZOPFLI, check_compression

DEFAULT_BUDGET = 60
LABEL = "slim"


@dataclass(frozen=True)
class SlimOptions:
    runtime: str | None = None
    models: Path | None = None
    out_dir: Path = Path("dist")
    keep: tuple[str, ...] = ()
    budget: int = DEFAULT_BUDGET
    timeout: float = DEFAULT_TIMEOUT
    label: str = LABEL
    strip: bool = True
    compression: str = ZOPFLI
    docstrings: bool = True  # blank docstrings where the recipe asks for it


@dataclass
class SlimResult:
    input: Path
    output: Path | None = None
    runtime: str = ""
    input_bytes: int = 0
    output_bytes: int = 0
    installed_before: int = 0
    installed_after: int = 0
    traced_members: int = 0
    removed_units: dict[str, dict[str, int]] = field(default_factory=dict)
    kept_units: int = 0
    edits: list[str] = field(default_factory=list)
    stripped: dict[str, list[int]] = field(default_factory=dict)
    docstrings: DocstringReport | None = None
    compression: str = ""
    oracle_runs: int = 0
    cache_hits: int = 0
    oracle_log: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    verification: VerifyResult | None = None
    warnings: list[str] = field(default_factory=list)
    traced: list[str] = field(default_factory=list)
    dependencies: DependencyPlan | None = None
    platform: PlatformCheck | None = None
    pip_check: list[str] | None = None
    # The stock stack the search ran on (distribution -> version) and its outputs per model.
    environment: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, Outputs] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "input": str(self.input),
            "output": str(self.output) if self.output else None,
            "runtime": self.runtime,
            "wheel_bytes": {"before": self.input_bytes, "after": self.output_bytes},
            "installed_bytes": {"before": self.installed_before, "after": self.installed_after},
            "traced_members": self.traced_members,
            "traced": self.traced,
            "removed_units": self.removed_units,
            "kept_units": self.kept_units,
            "source_edits": self.edits,
            "stripped": {k: {"before": v[0], "after": v[1]} for k, v in self.stripped.items()},
            "docstrings": self.docstrings.to_dict() if self.docstrings else None,
            "compression": self.compression,
            "oracle": {
                "runs": self.oracle_runs,
                "cache_hits": self.cache_hits,
                "log": self.oracle_log,
            },
            "seconds": round(self.seconds, 1),
            "verification": self.verification.to_dict() if self.verification else None,
            "dependencies": self.dependencies.to_dict() if self.dependencies else None,
            "platform": self.platform.to_dict() if self.platform else None,
            "pip_check": self.pip_check,
            "stock_environment": self.environment,
            "warnings": self.warnings,
        }


@dataclass
class DocstringReport:
    """Which kept ``.py`` files lost their docstrings and comments, and which kept them why."""

    stripped: list[str] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    kept: dict[str, str] = field(default_factory=dict)  # file -> why it was not stripped

    def to_dict(self) -> dict[str, object]:
        return {
            "stripped": len(self.stripped),
            "bytes": {"before": self.bytes_before, "after": self.bytes_after},
            "kept": self.kept,
        }


class _Search:
    """The prepared environment plus everything the oracle needs to judge a candidate."""

    def __init__(
        self,
        workspace: Workspace,
        models: Sequence[SmokeModel],
        inputs: dict[str, list[RawArray]],
        baseline: dict[str, ModelRun],
        timeout: float,
    ) -> None:
        self.workspace = workspace
        self.models = models
        self.inputs = inputs
        self.baseline = baseline
        self.timeout = timeout

    def passes(self, removed: frozenset[str], overrides: Mapping[str, bytes] | None = None) -> bool:
        """The oracle: every model runs and reproduces the stock outputs exactly."""
        self.workspace.apply(removed, overrides)
        runs = self.run()
        return all(
            runs[m.name].status == PASS and runs[m.name].outputs == self.baseline[m.name].outputs
            for m in self.models
        )

    def api(self, package: str, modules: Sequence[str]) -> dict[str, object]:
        """The public-API check's result (``_api_check.py``) on the workspace as it is now."""
        env = self.workspace.env
        request, result = env.root / "api-request.json", env.root / "api-result.json"
        request.write_text(json.dumps({"package": package, "modules": list(modules)}))
        result.unlink(missing_ok=True)
        command: list[Arg] = [env.python, "-I", api_check_script(), request, result]
        try:
            run(command, echo=False, log=False, check=False, timeout=self.timeout)
        except CommandError as exc:
            return {"error": str(exc)}
        if not result.is_file():
            return {"error": "the API check crashed"}
        data: dict[str, object] = json.loads(result.read_text(encoding="utf-8"))
        return data

    def run(self, trace: bool = False) -> dict[str, ModelRun]:
        return run_models(
            self.workspace.env.python,
            self.models,
            timeout=self.timeout,
            trace=trace,
            inputs=self.inputs,
        )


def slim_wheel(wheel_path: Path, options: SlimOptions) -> SlimResult:
    """Slim ``wheel_path``; write the verified result into ``options.out_dir``."""
    started = time.monotonic()
    check_local_label(options.label)
    check_compression(options.compression)
    source = Wheel.open(Path(wheel_path))
    check_host_can_run(source)
    runtime, runtime_wheel = runtime_for([source], options.runtime)
    clashes = conflicts(runtime, [source])
    if clashes:
        raise VerificationError(clashes[0])
    recipe = load_slim_recipe(source.name, source.version)
    models = load_models(options.models)
    check_operators(runtime_wheel, models)
    result = SlimResult(input=source.path, runtime=str(runtime))
    result.input_bytes = source.path.stat().st_size
    result.installed_before = source.installed_size()
    step(f"slimming {source.filename} ({result.input_bytes:,} B) for {runtime}")
    with scratch_dir("slim") as tmp:
        env = _prepare(tmp, source, runtime, runtime_wheel)
        result.environment = env.installed()
        members = [m for m in source.names() if not source.is_dist_info(m)]
        workspace = Workspace(env, members, tmp / "stash")
        search = _baseline(workspace, models, options.timeout, source)
        result.baseline = {name: run.outputs for name, run in search.baseline.items()}
        edited = _apply_edits(workspace, source, recipe, result)
        used, paths = _trace(search, members, result)
        removed = _minimise(search, recipe, members, used, options, result)
        overrides = _strip(search, removed, options, recipe, result) if options.strip else {}
        overrides |= _strip_docstrings(search, removed, edited, overrides, recipe, options, result)
        replaced = {**edited, **overrides}
        _check_metadata(source, recipe, search, paths, removed, replaced, result)
        slim = _write_wheel(source, removed, replaced, options, tmp / "out", result)
        result.verification = _final_check(slim, runtime, source, search, options)
        if result.dependencies is not None and result.dependencies.changed:
            result.pip_check = _pip_check(slim, runtime, source, tmp / "check")
        result.output = options.out_dir / slim.name
        atomic_copy(slim, result.output)
    result.output_bytes = result.output.stat().st_size
    result.installed_after = Wheel.open(result.output).installed_size()
    result.seconds = time.monotonic() - started
    return result


def _prepare(
    tmp: Path, source: Wheel, runtime: Runtime, runtime_wheel: Wheel | None
) -> Environment:
    env = create_environment(tmp / "env")
    requirements = [str(source.path)]
    if runtime_wheel is None:
        requirements.append(release_pin(runtime.requirement))
    # The constraints the stock stack needs to run at all (numpy<2 for tflite-runtime 2.14).
    requirements += [str(c.requirement) for c in runtime.constraints()]
    env.install(requirements)
    return env


def _baseline(
    workspace: Workspace, models: Sequence[SmokeModel], timeout: float, source: Wheel
) -> _Search:
    """Run the models on the stock wheel: they must pass there before any search starts."""
    step("baseline: running the models on the stock wheel")
    python = workspace.env.python
    inputs = all_inputs(python, models, timeout)
    expected = stored_expectations(models)
    judged = run_and_judge(python, models, expected, inputs=inputs, timeout=timeout)
    for model in models:
        verdict = judged[model.name].result
        if not verdict.ok:
            raise VerificationError(
                f"model {model.name} fails with the stock {source.filename}, so it cannot judge"
                f" a slimmed one: {verdict.message}"
            )
    return _Search(workspace, models, inputs, {n: j.run for n, j in judged.items()}, timeout)


def _apply_edits(
    workspace: Workspace, source: Wheel, recipe: SlimRecipe, result: SlimResult
) -> dict[str, bytes]:
    """Apply the recipe's source edits to the workspace; return the edited members' bytes."""
    edited: dict[str, str] = {}
    for edit in recipe.edits:
        text = edited.get(edit.file) or source.read_text(edit.file)
        edited[edit.file] = edit.apply(text, source.filename)
        result.edits.append(f"{edit.file}: {edit.why}")
    data = {name: text.encode("utf-8") for name, text in edited.items()}
    for name, content in data.items():
        workspace.commit(name, content)
    if data:
        step(f"applied {len(recipe.edits)} source edits to {len(data)} files")
    return data


def _trace(
    search: _Search, members: list[str], result: SlimResult
) -> tuple[TracedUse, frozenset[str]]:
    """The members inference used, and every path the traced runs touched (for dependencies)."""
    step("tracing what inference opens, imports and maps")
    runs = search.run(trace=True)
    used: set[str] = set()
    loaded: set[str] = set()
    paths: set[str] = set()
    for model in search.models:
        run = runs[model.name]
        if run.status != PASS or run.outputs != search.baseline[model.name].outputs:
            raise VerificationError(
                f"model {model.name} no longer reproduces the stock outputs after the recipe's"
                f" source edits: {run.message}"
            )
        assert run.trace is not None
        use = traced_members(run.trace, search.workspace.site, members)
        used |= use.imported
        loaded |= use.loaded
        paths |= run.trace.paths()
    traced = TracedUse(frozenset(used), frozenset(loaded - used))
    result.traced_members = len(traced.all)
    result.traced = sorted(traced.all)
    info(f"    {len(traced.imported)} members imported, {len(traced.loaded)} only opened/mapped")
    return traced, frozenset(paths)


def _minimise(
    search: _Search,
    recipe: SlimRecipe,
    members: list[str],
    used: TracedUse,
    options: SlimOptions,
    result: SlimResult,
) -> frozenset[str]:
    """Return the members to remove."""
    kept = {m for m in members if recipe.is_kept(m) or any(glob_match(p, m) for p in options.keep)}
    for pattern in options.keep:
        if not any(glob_match(pattern, m) for m in members):
            warning = f"--keep {pattern!r} matches no member of the wheel: it keeps nothing"
            warn(warning)
            result.warnings.append(warning)
    dropped = {m for m in members if recipe.is_dropped(m) and m not in kept}
    wrongly = dropped & used.all
    if wrongly:
        warning = f"recipe drops {len(wrongly)} members that inference uses, e.g. {min(wrongly)}"
        warn(warning + "; keeping them")
        result.warnings.append(warning)
        dropped -= wrongly
    candidates = [m for m in members if m not in kept and m not in dropped]
    units = group_units(candidates, recipe, used.all)
    sizes = {u: sum(search.workspace.size(m) for m in names) for u, names in units.items()}

    def members_of(removed_units: frozenset[str]) -> frozenset[str]:
        return frozenset(dropped).union(*(units[u] for u in removed_units))

    oracle = Oracle(
        test=lambda removed: search.passes(members_of(removed)),
        key=lambda removed: search.workspace.key(members_of(removed)),
        budget=options.budget,
        cache_file=_verdict_cache(search, options),
        describe=lambda removed: (
            f"removing {len(removed)} units, {sum(sizes[u] for u in removed):,} B"
        ),
        progress=info,
    )
    by_size = sorted(units, key=lambda u: (-sizes[u], u))
    untraced = [u for u in by_size if not set(units[u]) & used.all]
    linked = linked_closure(used.imported, search.workspace.read, members)
    loaded_only = [u for u in by_size if set(units[u]) <= used.loaded - linked]
    step(f"search: {len(untraced)} untraced units, then {len(loaded_only)} loaded-only units")
    removed = reduce_removals(untraced, oracle, purpose="untraced")
    removed = reduce_removals(loaded_only, oracle, removed, purpose="loaded")
    result.removed_units = {
        u: {"members": len(units[u]), "bytes": sizes[u]} for u in sorted(removed)
    }
    if dropped:
        result.removed_units["(recipe drop list)"] = {
            "members": len(dropped),
            "bytes": sum(search.workspace.size(m) for m in dropped),
        }
    result.kept_units = len(units) - len(removed)
    _count(oracle, result)
    return members_of(removed)


def _strip(
    search: _Search,
    removed: frozenset[str],
    options: SlimOptions,
    recipe: SlimRecipe,
    result: SlimResult,
) -> dict[str, bytes]:
    """Stripped replacements for kept ELF files, each group verified by the oracle."""
    if not recipe.strip:
        return {}
    tool = strip_tool()
    if tool is None:
        warn("no `strip` on PATH: shared objects are left unstripped")
        return {}
    stripped: dict[str, bytes] = {}
    for name in search.workspace.members:
        if name in removed:
            continue
        data = search.workspace.read(name)
        if is_elf(data):
            smaller = strip_elf(data, tool)
            if smaller is not None:
                stripped[name] = smaller
    if not stripped:
        return {}

    def overrides(names: frozenset[str]) -> dict[str, bytes]:
        return {n: stripped[n] for n in names}

    oracle = Oracle(
        test=lambda names: search.passes(removed, overrides(names)),
        key=lambda names: search.workspace.key(removed, overrides(names)),
        budget=max(options.budget - result.oracle_runs, 1),
        cache_file=_verdict_cache(search, options),
        describe=lambda names: f"stripping {len(names)} shared objects",
        progress=info,
    )
    # Extension modules first; libraries rewritten by auditwheel (pkg.libs/) after, on their own
    # verdicts, because stripping a patchelf-ed library can break it.
    order = sorted(stripped, key=lambda n: (is_bundled_library(n), n))
    step(f"stripping {len(order)} ELF files, keeping each strip only if the models still pass")
    accepted = reduce_removals(order, oracle, purpose="strip")
    for name in sorted(accepted):
        result.stripped[name] = [len(search.workspace.read(name)), len(stripped[name])]
    _count(oracle, result)
    return overrides(accepted)


def _strip_docstrings(
    search: _Search,
    removed: frozenset[str],
    edited: Mapping[str, bytes],
    overrides: dict[str, bytes],
    recipe: SlimRecipe,
    options: SlimOptions,
    result: SlimResult,
) -> dict[str, bytes]:
    """Kept ``.py`` files with blank docstrings and no comments (``builder.pystrip``), each kept
    only where the models and the public-API check give exactly what they gave before."""
    if not (recipe.docstrings and options.docstrings):
        return {}
    report = result.docstrings = DocstringReport()
    candidates = _docstring_candidates(search, removed, edited, recipe, report)
    if not candidates:
        return {}
    modules = _modules(m for m in search.workspace.members if m not in removed)
    search.workspace.apply(removed, overrides)
    expected = search.api(recipe.package, modules)
    if "error" in expected:  # nothing to compare with: strip nothing
        warn(f"the public-API check fails on the unstripped files ({expected['error']})")
        report.kept.update(dict.fromkeys(candidates, "the public-API check cannot run"))
        return {}

    def candidate(names: frozenset[str]) -> dict[str, bytes]:
        return {**overrides, **{n: candidates[n] for n in names}}

    def test(names: frozenset[str]) -> bool:
        ok = search.passes(removed, candidate(names))
        return ok and search.api(recipe.package, modules) == expected

    oracle = Oracle(
        test=test,
        key=lambda names: content_key(["api", search.workspace.key(removed, candidate(names))]),
        budget=max(options.budget - result.oracle_runs, 1),
        cache_file=_verdict_cache(search, options),
        describe=lambda names: f"blanking the docstrings of {len(names)} files",
        progress=info,
    )
    order = sorted(candidates, key=lambda n: (-len(candidates[n]), n))
    step(f"docstrings: {len(order)} kept .py files, each kept stripped only if nothing changes")
    accepted = reduce_removals(order, oracle, purpose="docs")
    _count(oracle, result)
    for name in sorted(set(order) - accepted):
        report.kept[name] = "the models or the public-API check changed with it stripped"
        warn(f"docstrings kept in {name}: stripping them changed the models' or the API's results")
    report.stripped = sorted(accepted)
    report.bytes_before = sum(len(edited.get(n) or search.workspace.read(n)) for n in accepted)
    report.bytes_after = sum(len(candidates[n]) for n in accepted)
    return {n: candidates[n] for n in accepted}


def _docstring_candidates(
    search: _Search,
    removed: frozenset[str],
    edited: Mapping[str, bytes],
    recipe: SlimRecipe,
    report: DocstringReport,
) -> dict[str, bytes]:
    """Each kept ``.py`` file that stripping changes -> its stripped bytes; the others that
    could not be stripped go into ``report.kept`` with the reason."""
    candidates: dict[str, bytes] = {}
    for name in search.workspace.members:
        if name in removed or not name.endswith(".py"):
            continue
        if any(glob_match(p, name) for p in recipe.keep_docstrings):
            report.kept[name] = "the recipe keeps its docstrings"
            continue
        text = edited.get(name) or search.workspace.read(name)
        stripped = strip_source(text.decode("utf-8"))
        if stripped is None:
            report.kept[name] = "stripping would change its syntax tree, or it does not parse here"
        elif stripped.encode("utf-8") != text:
            candidates[name] = stripped.encode("utf-8")
    return candidates


def _modules(members: Iterable[str]) -> list[str]:
    """Importable module names of the kept members (``.py`` files and extension modules)."""
    names = set()
    for member in members:
        folder, _, filename = member.rpartition("/")
        if not folder or not folder.split("/")[0].isidentifier():
            continue  # top-level files, .dist-info and pkg.libs/ directories
        stem, _, suffix = filename.partition(".")
        if suffix == "py" or (suffix.endswith(".so") and stem.isidentifier()):
            package = folder.replace("/", ".")
            names.add(package if stem == "__init__" else f"{package}.{stem}")
    return sorted(names)


def _count(oracle: Oracle, result: SlimResult) -> None:
    result.oracle_runs += oracle.stats.runs
    result.cache_hits += oracle.stats.cache_hits
    result.oracle_log += oracle.stats.log


def _verdict_cache(search: _Search, options: SlimOptions) -> Path:
    """Verdicts persist across runs, keyed by everything that decides them besides the
    candidate's content: the builder, the stock stack, the models' bytes and inputs, the timeout.
    Each verdict in the file is signed besides (``builder.minimize.VerdictFile``)."""
    runtime = sorted(search.workspace.env.installed().items())
    models = [
        f"{m.name}:{sha256_file(m.path)}:{m.invocations}:"
        + (sha256_file(m.inputs) if m.inputs is not None else "generated")
        for m in search.models
    ]
    key = content_key([__version__, repr(runtime), *models, str(options.timeout)])
    return cache_dir("verdicts") / f"{key[:32]}.json"


def _check_metadata(
    source: Wheel,
    recipe: SlimRecipe,
    search: _Search,
    paths: frozenset[str],
    removed: frozenset[str],
    replaced: dict[str, bytes],
    result: SlimResult,
) -> None:
    """Plan the Requires-Dist rewrite and check the platform tag against the kept ELF files."""
    imported = imported_distributions(paths, search.workspace.site)
    plan = plan_dependencies(
        source.requires_dist(),
        imported - {source.name},
        recipe.dependency_fixes,
        prune=not recipe.generic,
        package=source.name,
    )
    result.dependencies = plan
    for change in plan.changes:
        if change.action != "keep":
            info(f"    Requires-Dist {change.action} {change.requirement}: {change.reason}")
    shared = [
        name
        for name in search.workspace.members
        if name not in removed and (name.endswith(".so") or ".so." in name)
    ]
    kept = {name: replaced.get(name) or search.workspace.read(name) for name in shared}
    result.platform = check_platform(
        {t.platform for t in source.tags},
        kept,
        recipe.platform_tag,
        recipe.platform_tag_evidence,
        source.name,
    )
    if result.platform.new_tag:
        info(f"    platform tag {result.platform.new_tag}: {result.platform.evidence}")
    for warning in (*plan.warnings, *result.platform.warnings):
        warn(warning)
        result.warnings.append(warning)


def _write_wheel(
    source: Wheel,
    removed: frozenset[str],
    replaced: dict[str, bytes],
    options: SlimOptions,
    out: Path,
    result: SlimResult,
) -> Path:
    wheel = Wheel.open(source.path)
    wheel.remove(sorted(removed))
    for name, data in sorted(replaced.items()):
        if name not in removed:
            wheel.replace(name, data)
    prune_entry_points(wheel)
    if result.dependencies is not None and result.dependencies.changed:
        wheel.set_requires_dist(result.dependencies.after)
    if result.platform is not None and result.platform.new_tag:
        wheel.set_platform_tag([result.platform.new_tag])
    wheel.set_local_version(options.label)
    result.compression = options.compression
    step(f"writing the wheel ({options.compression})")
    return wheel.write(out, options.compression)


def _pip_check(slim: Path, runtime: Runtime, source: Wheel, root: Path) -> list[str]:
    """Install the slim wheel alone (plus the runtime) into a fresh environment: ``pip check``
    must be clean, or dropping dependencies broke someone's declared needs."""
    step(f"pip check: {slim.name} with its pruned dependencies in a fresh environment")
    env = create_environment(root)
    requirements = [str(slim)]
    if runtime.name != source.name:
        requirements.append(release_pin(runtime.requirement))
    env.install(requirements)
    problems = env.check()
    if problems:
        raise VerificationError(
            f"pip check fails after rewriting {source.name}'s dependencies: {problems[0]};"
            " nothing was written"
        )
    return problems


def _final_check(
    slim: Path, runtime: Runtime, source: Wheel, search: _Search, options: SlimOptions
) -> VerifyResult:
    step(f"final check: pip install {slim.name} into a fresh environment")
    result = verify_wheels(
        [slim],
        str(runtime.requirement) if runtime.name != source.name else None,
        options.models,
        reference_wheels=[source.path],
        timeout=options.timeout,
        baseline={name: run.outputs for name, run in search.baseline.items()},
    )
    if not result.ok:
        failing = next(r for r in result.results if not r.ok)
        raise VerificationError(
            f"the slimmed wheel failed its final verification ({failing.model}: {failing.message});"
            " nothing was written"
        )
    not_identical = [r.model for r in result.results if r.identical is False]
    if not_identical:
        raise VerificationError(
            f"the slimmed wheel's outputs differ from the stock wheel's for"
            f" {', '.join(not_identical)}; nothing was written"
        )
    return result


def default_requirement(package: str, runtime: Runtime, version: str | None) -> str:
    """``numpy==V``, or the newest release the runtime accepts (``numpy<2`` for tflite 2.14)."""
    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            raise ArgumentError(f"--version {version!r} is not a version") from None
        return f"{package}=={version}"
    specs = [
        str(c.requirement.specifier)
        for c in runtime.constraints()
        if c.requirement.name == package and str(c.requirement.specifier)
    ]
    return package + ",".join(specs)
