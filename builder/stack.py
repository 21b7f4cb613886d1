"""``stack``: the whole inference stack for this interpreter, slimmed and verified together.

Steps: pick the runtime (the default one for this interpreter, or ``--runtime``) and the numpy
release it accepts, refusing a conflicting pair before anything is downloaded or built; slim the
runtime wheel (which also prunes its never-imported dependencies and repairs its metadata, see
``builder.dependencies``); slim numpy, built lean from source where a compiler and
``builder.numpy_build`` are available, PyPI's wheel otherwise; write ``requirements-edge.txt``
pinning exactly those wheels by hash; install it with ``pip install --no-index --require-hashes
--find-links`` into a fresh environment, check that nothing else got in and ``pip check`` is
clean, and run the models there: outputs must be identical to the stock stack's. Only then are
the wheels, the requirements file and the report copied into the output directory.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .cache import atomic_copy_all, scratch_dir, sha256_file
from .console import info, step
from .dependencies import applies_here
from .environments import create_environment, local_wheels
from .errors import ArgumentError, UnsupportedPlatformError, VerificationError
from .glibc import check_members, newest_glibc
from .index.requirements import REQUIREMENTS, write_requirements
from .interpreters import running_version
from .numpy_build import build_numpy, choose_source, glibc_target
from .pypi import download_wheel
from .resources import smoke_models_dir
from .runtimes import Runtime, host_platform, resolve_runtime, runtime_for_distribution
from .slim import DEFAULT_BUDGET, SlimOptions, SlimResult, slim_wheel
from .smoke import (
    DEFAULT_TIMEOUT,
    ModelResult,
    SmokeModel,
    load_models,
    run_and_judge,
    stored_expectations,
)
from .strip import is_elf
from .tflite.model import BuildRequest
from .tflite.plan import execute_plan, make_plan
from .tflite.recipe import load_tflite_recipe
from .verify import check_host_can_run
from .wheelfile import Wheel
from .zipwrite import ZOPFLI

REPORT = "stack-report.json"
NUMPY = "numpy"
NUMPY_SOURCES = ("auto", "source", "pypi")


@dataclass(frozen=True)
class SelectiveBuild:
    """``stack --selective``: the runtime is built here for exactly the stack's models."""

    tf_version: str | None = None  # default: the newest release whose series has the hooks
    source: Path | None = None  # a TensorFlow tree or release archive (default: download)
    deps_dir: Path | None = None
    profile: str = "size"
    xnnpack: bool = True


@dataclass(frozen=True)
class StackOptions:
    runtime: str | None = None
    runtime_wheel: Path | None = None  # a runtime built here (build tflite-runtime)
    selective: SelectiveBuild | None = None
    numpy: str | None = None
    numpy_source: str = "auto"
    models: Path | None = None
    out_dir: Path = Path("dist")
    budget: int = DEFAULT_BUDGET
    timeout: float = DEFAULT_TIMEOUT
    compression: str = ZOPFLI
    glibc: str | None = None  # build numpy against this glibc (zig); the stack must run there


@dataclass(frozen=True)
class StackWheel:
    name: str
    version: str
    filename: str
    sha256: str
    bytes_before: int
    bytes_after: int
    origin: str  # "slimmed PyPI wheel", "built from source and slimmed", "PyPI wheel"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "filename": self.filename,
            "sha256": self.sha256,
            "bytes": {"before": self.bytes_before, "after": self.bytes_after},
            "origin": self.origin,
        }


@dataclass
class StackResult:
    runtime: str = ""
    wheels: list[StackWheel] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)  # the stock stack: wheel file -> bytes
    requirements: Path | None = None
    outputs: list[Path] = field(default_factory=list)
    models: list[ModelResult] = field(default_factory=list)
    installed: dict[str, str] = field(default_factory=dict)
    pip_check: list[str] = field(default_factory=list)
    slims: dict[str, SlimResult] = field(default_factory=dict)
    runtime_build: dict[str, object] | None = None  # stack --selective: what was built
    glibc: dict[str, object] = field(default_factory=dict)  # which glibc the stack needs
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes_before(self) -> int:
        return sum(self.stock.values())

    @property
    def bytes_after(self) -> int:
        return sum(w.bytes_after for w in self.wheels)

    def to_dict(self) -> dict[str, object]:
        return {
            "runtime": self.runtime,
            "wheels": [w.to_dict() for w in self.wheels],
            "stock_stack": self.stock,
            "total_bytes": {"before": self.bytes_before, "after": self.bytes_after},
            "requirements": str(self.requirements) if self.requirements else None,
            "verification": {
                "installed": self.installed,
                "pip_check": self.pip_check,
                "models": [r.to_dict() for r in self.models],
            },
            "slim": {name: r.to_dict() for name, r in self.slims.items()},
            "runtime_build": self.runtime_build,
            "glibc": self.glibc,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 1),
        }


# -- planning: everything that can be refused before any download or build ---------------------


def pick_runtime(spec: str | None) -> Runtime:
    """The runtime for this interpreter; a named one must have wheels here."""
    runtime = resolve_runtime(spec)
    if spec is not None and not runtime.recipe.available_here():
        python = ".".join(map(str, sys.version_info[:2]))
        raise UnsupportedPlatformError(
            f"{runtime.name} has no wheels for CPython {python} on {host_platform()}"
            f" (it needs Python {runtime.recipe.requires_python} on"
            f" {', '.join(runtime.recipe.platforms)})"
        )
    return runtime


def check_numpy(runtime: Runtime, version: str | None) -> None:
    """Refuse a numpy release the runtime's recipe constraints rule out (tflite 2.14: numpy<2)."""
    if version is None:
        return
    try:
        wanted = Version(version)
    except InvalidVersion:
        raise ArgumentError(f"--numpy {version!r} is not a version") from None
    for constraint in runtime.constraints():
        requirement = constraint.requirement
        if canonicalize_name(requirement.name) == NUMPY and wanted not in requirement.specifier:
            raise ArgumentError(
                f"numpy {version} conflicts with {runtime}, which needs {requirement}:"
                f" {constraint.evidence}"
            )


def check_declared(runtime_wheel: Wheel, numpy_version: str | None) -> None:
    """Refuse a numpy release the runtime wheel's own Requires-Dist rules out."""
    if numpy_version is None:
        return
    for text in runtime_wheel.requires_dist():
        requirement = Requirement(text)
        if not applies_here(requirement):
            continue
        named = canonicalize_name(requirement.name) == NUMPY
        if named and Version(numpy_version) not in requirement.specifier:
            raise ArgumentError(
                f"numpy {numpy_version} conflicts with {runtime_wheel.filename}, which"
                f" requires {requirement}"
            )


def numpy_source(choice: str, version: str | None) -> tuple[str, str]:
    """(``source`` or ``pypi``, why): lean numpy from source where this host can build it."""
    if choice not in NUMPY_SOURCES:
        raise ArgumentError(f"--numpy-from must be one of {', '.join(NUMPY_SOURCES)}")
    if choice == "pypi":
        return "pypi", "--numpy-from pypi"
    decision = choose_source(version)
    if not decision.from_source and choice == "source":
        raise UnsupportedPlatformError(f"cannot build numpy from source here: {decision.reason}")
    return ("source" if decision.from_source else "pypi"), decision.reason


# -- building ---------------------------------------------------------------------------------


def build_stack(options: StackOptions) -> StackResult:
    """Slim the runtime and numpy, verify them together, write them to ``options.out_dir``."""
    started = time.monotonic()
    # a bad --glibc (or no zig to build numpy with) fails before anything is downloaded
    glibc_target(options.glibc, zig_needed=options.numpy_source != "pypi")
    with scratch_dir("stack") as tmp:
        built = None
        if options.selective is not None:
            wheel, built = _build_selective(options, options.selective, tmp / "built")
            options = replace(options, runtime_wheel=wheel)
        runtime, runtime_input = _runtime_input(options, tmp / "runtime")
        with local_wheels(runtime_input.parent):
            result = _build(options, runtime, runtime_input, tmp)
        result.runtime_build = built
    for slim in result.slims.values():
        result.warnings += slim.warnings
    result.seconds = time.monotonic() - started
    return result


def _build_selective(
    options: StackOptions, selective: SelectiveBuild, out: Path
) -> tuple[Path, dict[str, object]]:
    """Build tflite-runtime for this interpreter and the stack's models (``--ops-from``); the
    stack verifies it with its numpy afterwards, so the build's own verification is skipped."""
    recipe = load_tflite_recipe()
    hooked = [v for v, r in recipe.versions.items() if "selected-ops" in r.hooks]
    request = BuildRequest(
        tf_version=selective.tf_version or max(hooked, key=Version),
        platform=host_platform(),
        python=running_version(),
        out=out,
        source=selective.source,
        deps_dir=selective.deps_dir,
        verify=False,
        profile=selective.profile,
        ops_from=(options.models or smoke_models_dir(),),
        xnnpack=selective.xnnpack,
    )
    plan = make_plan(request, recipe)
    step(f"building {plan.output_name} for the stack's models ({plan.profile.name} profile)")
    execute_plan(plan)
    assert plan.wheel_path is not None
    data = plan.to_dict()
    keep = ("tf_version", "profile", "xnnpack", "operators", "wheel", "ccache_stats")
    return plan.wheel_path, {key: data[key] for key in keep}


def _runtime_input(options: StackOptions, private: Path) -> tuple[Runtime, Path]:
    """The runtime and its wheel: a wheel built here (``--runtime-wheel``, copied into a private
    find-links directory so that pip installs it by name), or the index's release."""
    if options.runtime_wheel is None:
        runtime = pick_runtime(options.runtime)
        return runtime, download_wheel(str(runtime.requirement))
    wheel = Wheel.open(options.runtime_wheel)
    recipe = runtime_for_distribution(wheel.name)
    if recipe is None:
        raise ArgumentError(f"{wheel.filename} is not a TensorFlow Lite runtime wheel")
    check_host_can_run(wheel)
    private.mkdir(parents=True)
    copy = private / wheel.filename
    shutil.copyfile(wheel.path, copy)
    return Runtime(recipe, Requirement(f"{recipe.name}=={wheel.version}")), copy


def _build(options: StackOptions, runtime: Runtime, runtime_input: Path, tmp: Path) -> StackResult:
    check_numpy(runtime, options.numpy)
    source, why = numpy_source(options.numpy_source, options.numpy)
    models = load_models(options.models)
    result = StackResult(runtime=str(runtime))
    check_declared(Wheel.open(runtime_input), options.numpy)
    step(f"stack for CPython {sys.version_info[0]}.{sys.version_info[1]}: {runtime} + numpy")
    info(f"    numpy {'built from source' if source == 'source' else 'from PyPI'}: {why}")
    wheels_dir = tmp / "wheels"
    slim_options = SlimOptions(
        models=options.models,
        out_dir=wheels_dir,
        budget=options.budget,
        timeout=options.timeout,
        compression=options.compression,
    )
    _check_glibc(runtime_input, options.glibc)  # slimming changes no symbol version
    runtime_slim = slim_wheel(runtime_input, slim_options)
    result.slims[runtime.name] = runtime_slim
    numpy_version = options.numpy or runtime_slim.environment.get(NUMPY)
    if numpy_version is None:
        raise VerificationError(f"{runtime} did not install numpy: cannot pick its release")
    if options.numpy is None:  # the release is known only now: check it can be built
        source, why = numpy_source(options.numpy_source, numpy_version)
        info(f"    numpy {numpy_version}: {why}")
    numpy_slim, origin, numpy_stock = _slim_numpy(
        runtime, numpy_version, source, slim_options, options.glibc
    )
    result.slims[NUMPY] = numpy_slim
    others = _other_dependencies(runtime_slim, wheels_dir)
    stock = {**runtime_slim.environment, NUMPY: numpy_version}
    result.stock = _stock_stack(stock, runtime_input, runtime.name)
    runtime_origin = "built here, slimmed" if options.runtime_wheel else "PyPI wheel, slimmed"
    result.wheels = _describe(
        runtime_slim, runtime_origin, (numpy_slim, origin, numpy_stock), others
    )
    result.glibc = glibc_needed([wheels_dir / w.filename for w in result.wheels], options.glibc)
    requirements = write_requirements(wheels_dir / REQUIREMENTS, result.wheels)
    _verify_together(tmp / "env", wheels_dir, requirements, models, runtime_slim, result,
                     options.timeout)  # fmt: skip
    result.outputs = _publish(wheels_dir, result.wheels, options.out_dir)
    result.requirements = options.out_dir / REQUIREMENTS
    return result


def _slim_numpy(
    runtime: Runtime, version: str, source: str, options: SlimOptions, glibc: str | None
) -> tuple[SlimResult, str, int]:
    """The slim numpy, where it came from, and the bytes of PyPI's wheel (the stock stack's)."""
    stock = download_wheel(f"{NUMPY}=={version}")
    runtime_spec = str(runtime.requirement)
    if source == "source":
        built = build_numpy(version, runtime=runtime_spec, glibc=glibc)
        options = replace(options, runtime=runtime_spec, label=built.slim_label)
        slim = slim_wheel(built.path, options)
        origin = f"built from source ({built.profile} profile), then slimmed"
    else:
        slim = slim_wheel(stock, replace(options, runtime=runtime_spec))
        origin = "PyPI wheel, slimmed"
    assert slim.output is not None
    _check_glibc(slim.output, glibc)
    return slim, origin, stock.stat().st_size


def _check_glibc(wheel_path: Path, glibc: str | None) -> None:
    """With ``--glibc``: refuse a stack wheel whose kept ELF files need a newer glibc."""
    target = glibc_target(glibc, zig_needed=False)
    if target is None:
        return
    wheel = Wheel.open(wheel_path)
    elf = {n: data for n in wheel.names() if is_elf(data := wheel.read(n))}
    check_members(elf, target[1], target[0], what=f"{wheel.name} {wheel.version}")


def glibc_needed(wheels: Sequence[Path], requested: str | None) -> dict[str, object]:
    """The newest GLIBC_ symbol version the stack's ELF files need, who needs it, and each
    wheel's platform tag: the edge machine's glibc must be at least that."""
    members: dict[str, bytes] = {}
    tags = {}
    for path in wheels:
        wheel = Wheel.open(path)
        tags[wheel.name] = ".".join(sorted({t.platform for t in wheel.tags}))
        members |= {f"{path.name}:{n}": d for n in wheel.names() if is_elf(d := wheel.read(n))}
    newest, by = newest_glibc(members)
    return {
        "needed": f"{newest[0]}.{newest[1]}" if newest else None,
        "needed_by": by,
        "requested": requested,
        "platform_tags": tags,
    }


def _other_dependencies(runtime_slim: SlimResult, wheels_dir: Path) -> list[Path]:
    """Stock wheels for what the slim runtime still requires besides numpy (imported deps)."""
    assert runtime_slim.dependencies is not None
    wheels = []
    for text in runtime_slim.dependencies.after:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == NUMPY or not applies_here(requirement):
            continue
        version = runtime_slim.environment.get(name)
        spec = f"{name}=={version}" if version else text
        info(f"    {name} is imported during inference: the stack carries its stock wheel")
        path = download_wheel(spec)
        target = wheels_dir / path.name
        shutil.copyfile(path, target)
        wheels.append(target)
    return wheels


def _stock_stack(environment: dict[str, str], runtime_input: Path, runtime: str) -> dict[str, int]:
    """What the stock stack installs (the runtime slim's prepared environment): file -> bytes.
    The runtime counts as its input wheel (a runtime built here is on no index)."""
    stock = {}
    for name, version in sorted(environment.items()):
        if name == runtime:
            continue
        path = download_wheel(f"{name}=={version}")
        stock[path.name] = path.stat().st_size
    stock.setdefault(runtime_input.name, runtime_input.stat().st_size)
    return stock


def _describe(
    runtime_slim: SlimResult,
    runtime_origin: str,
    numpy: tuple[SlimResult, str, int],
    others: Sequence[Path],
) -> list[StackWheel]:
    numpy_slim, numpy_origin, numpy_before = numpy
    entries = [(runtime_slim.output, runtime_slim.input_bytes, runtime_origin)]
    entries.append((numpy_slim.output, numpy_before, numpy_origin))
    entries += [(p, p.stat().st_size, "PyPI wheel") for p in others]
    wheels = []
    for path, before, origin in entries:
        assert path is not None
        wheel = Wheel.open(path)
        wheels.append(
            StackWheel(
                name=wheel.name,
                version=str(wheel.version),
                filename=path.name,
                sha256=sha256_file(path),
                bytes_before=before,
                bytes_after=path.stat().st_size,
                origin=origin,
            )
        )
    return sorted(wheels, key=lambda w: w.name)


# -- verifying --------------------------------------------------------------------------------


def _verify_together(
    root: Path,
    wheels_dir: Path,
    requirements: Path,
    models: Sequence[SmokeModel],
    runtime_slim: SlimResult,
    result: StackResult,
    timeout: float,
) -> None:
    step(f"verifying the stack together: pip install --no-index -r {REQUIREMENTS}")
    env = create_environment(root)
    env.install_requirements_file(requirements, wheels_dir)
    result.installed = env.installed()
    expected = {w.name: w.version for w in result.wheels}
    if result.installed != expected:
        raise VerificationError(
            f"the stack installed {result.installed}, not exactly its wheels {expected}"
        )
    result.pip_check = env.check()
    if result.pip_check:
        raise VerificationError(f"pip check fails on the stack: {result.pip_check[0]}")
    stock = runtime_slim.baseline  # expected where a model stores none; reproduced exactly
    wanted = stored_expectations(models, stock)
    judged = run_and_judge(env.python, models, wanted, baseline=stock, timeout=timeout)
    result.models = [judged[m.name].result for m in models]
    failing = [r for r in result.models if not r.ok or r.identical is False]
    if failing:
        raise VerificationError(
            f"the stack fails {failing[0].model}: {failing[0].message}; nothing was written"
        )


def _publish(wheels_dir: Path, wheels: Sequence[StackWheel], out_dir: Path) -> list[Path]:
    """Copy the wheels, then the requirements file, into ``out_dir``: all of them or none."""
    outputs = [out_dir / wheel.filename for wheel in wheels]
    pairs = [(wheels_dir / target.name, target) for target in outputs]
    atomic_copy_all([*pairs, (wheels_dir / REQUIREMENTS, out_dir / REQUIREMENTS)])
    return outputs
