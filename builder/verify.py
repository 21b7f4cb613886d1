"""``verify``: install exactly the given wheels plus a runtime into a fresh environment and prove
that every smoke model still produces its expected outputs.

A model that fails is re-run on the unmodified ("reference") stack before anything is blamed on
the wheels: if it fails there too, it is reported as unusable. The reference stack is the runtime
with the stock version of each given wheel, plus the constraints its recipe knows about (for
example ``numpy<2`` for tflite-runtime 2.14).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import canonicalize_name
from packaging.version import Version

from .arrays import RawArray
from .cache import scratch_dir
from .console import step, warn
from .environments import Environment, create_environment
from .errors import ArgumentError, EnvironmentSetupError, UnsupportedPlatformError
from .interpreters import find as find_python
from .interpreters import running_version
from .opset import check_models, registered_in
from .pypi import release_pin
from .runtimes import Runtime, host_platform, resolve_runtime, runtime_for_distribution
from .smoke import (
    DEFAULT_TIMEOUT,
    PASS,
    UNUSABLE,
    ModelResult,
    ModelRun,
    Outputs,
    SmokeModel,
    check_run,
    load_models,
    model_inputs,
    run_and_judge,
    run_model,
    stored_expectations,
)
from .tflite_model import read_model_info
from .wheelfile import Wheel

# How pip says that the index has no such release.
NOT_ON_INDEX = ("No matching distribution found", "Could not find a version that satisfies")


@dataclass(frozen=True)
class VerifyResult:
    runtime: str
    wheels: tuple[str, ...]
    installed: dict[str, str]
    results: tuple[ModelResult, ...]
    reference: tuple[str, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "runtime": self.runtime,
            "wheels": list(self.wheels),
            "installed": self.installed,
            "reference_stack": list(self.reference),
            "models": [r.to_dict() for r in self.results],
            "seconds": round(self.seconds, 2),
            "notes": list(self.notes),
        }


def supported_tags(python: str | None = None) -> set[Tag]:
    """The tags CPython ``python`` (X.Y; default: this interpreter) installs on this host."""
    if python is None or python == running_version():
        return set(sys_tags())
    version = tuple(int(part) for part in python.split("."))
    return {*cpython_tags(version), *compatible_tags(version, f"cp{python.replace('.', '')}")}


def check_host_can_run(wheel: Wheel, python: str | None = None) -> None:
    """Refuse wheels this interpreter (or CPython ``python``) cannot install: they cannot be
    verified here."""
    if not wheel.tags & supported_tags(python):
        tags = ", ".join(sorted(str(t) for t in wheel.tags))
        raise UnsupportedPlatformError(
            f"{wheel.filename} is for {tags}; this host is {host_platform()} with CPython "
            f"{python or running_version()}, so it cannot be verified here"
        )


def runtime_for(wheels: Sequence[Wheel], spec: str | None) -> tuple[Runtime, Wheel | None]:
    """The runtime to verify with: a runtime wheel among ``wheels`` wins over ``--runtime``."""
    for wheel in wheels:
        recipe = runtime_for_distribution(wheel.name)
        if recipe is not None:
            if spec is not None and canonicalize_name(Requirement(spec).name) != recipe.name:
                raise ArgumentError(
                    f"--runtime {spec} conflicts with the runtime wheel {wheel.filename}"
                )
            return Runtime(recipe, Requirement(f"{recipe.name}=={wheel.version}")), wheel
    return resolve_runtime(spec), None


def check_operators(runtime_wheel: Wheel | None, models: Sequence[SmokeModel]) -> None:
    """A selective runtime (built ``--ops-from``) refuses, before anything runs, a model that
    needs an operator it was not built with, naming both."""
    registered = registered_in(runtime_wheel) if runtime_wheel is not None else None
    if registered is not None:
        check_models(registered, [m.path for m in models])


def conflicts(runtime: Runtime, wheels: Sequence[Wheel]) -> list[str]:
    """Why these wheels cannot work with this runtime, from the runtime recipe's constraints."""
    version = runtime.pinned_version()
    problems = []
    for constraint in runtime.constraints(version):
        name = canonicalize_name(constraint.requirement.name)
        for wheel in wheels:
            if wheel.name == name and wheel.version not in constraint.requirement.specifier:
                problems.append(
                    f"{wheel.filename} conflicts with {runtime}: it needs"
                    f" {constraint.requirement} ({constraint.evidence})"
                )
    return problems


def reference_requirements(
    runtime: Runtime,
    wheels: Sequence[Wheel],
    reference_wheels: Sequence[Path] | None = None,
    *,
    from_index: bool = True,
) -> list[str]:
    """What the unmodified stack installs: stock versions of the given wheels, the runtime and its
    recipe's constraints (a stock pin that violates a constraint yields to the constraint).

    A wheel's stock version is the index's release of its public version (``===``: a plain ``==``
    also matches local builds such as ``+slim``): a wheel can be changed without a local label,
    so it cannot vouch for itself. ``from_index=False`` is the fallback for
    wheels the index does not have (a local build): unlabelled wheels are then their own
    reference."""
    if reference_wheels is not None:
        given = [str(p) for p in reference_wheels]
        names = {Wheel.open(p).name for p in reference_wheels}
        runtime_req = [] if runtime.name in names else [release_pin(runtime.requirement)]
        return given + runtime_req + _constraints_on_others(runtime, names)
    constraints = runtime.constraints()
    requirements: list[str] = []
    for wheel in wheels:
        public = Version(wheel.version.public)
        clashing = [c for c in constraints if canonicalize_name(c.requirement.name) == wheel.name]
        if any(public not in c.requirement.specifier for c in clashing):
            continue
        own = wheel.version.local is None and not from_index
        requirements.append(str(wheel.path) if own else f"{wheel.name}==={public}")
    if not any(runtime_for_distribution(w.name) for w in wheels):
        requirements.append(release_pin(runtime.requirement))
    requirements += [str(c.requirement) for c in constraints]
    return requirements


def verify_wheels(
    wheel_paths: Sequence[Path],
    runtime: str | None = None,
    models: Path | None = None,
    *,
    reference_wheels: Sequence[Path] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    baseline: dict[str, Outputs] | None = None,
    python: str | None = None,
    extra: Sequence[str] = (),
    only: Collection[str] | None = None,
) -> VerifyResult:
    """Verify ``wheel_paths`` with the smoke models (or the user's ``models``).

    ``python``: the CPython (X.Y) to verify under, default this one; ``extra``: requirements
    installed beside the wheels in both stacks (``numpy<2`` to verify under numpy 1.x);
    ``only``: the names of the models to run (default: all)."""
    started = time.monotonic()
    wheels = [Wheel.open(Path(p)) for p in wheel_paths]
    for wheel in wheels:
        check_host_can_run(wheel, python)
    interpreter = None
    if python is not None and python != running_version():
        interpreter = find_python(python)
    chosen, runtime_wheel = runtime_for(wheels, runtime)
    suite = [m for m in load_models(models) if only is None or m.name in only]
    check_operators(runtime_wheel, suite)
    step(f"verifying {', '.join(w.filename for w in wheels)} with {chosen}")
    precheck = {m.name: r for m in suite if (r := _precheck(m, chosen, runtime_wheel)) is not None}
    runnable = [m for m in suite if m.name not in precheck]
    with scratch_dir("verify") as tmp:
        stock = [*reference_requirements(chosen, wheels, reference_wheels), *extra]
        local = [
            *reference_requirements(chosen, wheels, reference_wheels, from_index=False),
            *extra,
        ]
        reference = _ReferenceStack(tmp / "reference", stock, local, interpreter)
        expected, inputs, unusable = _expectations(runnable, reference, chosen, timeout)
        candidate = create_environment(tmp / "candidate", interpreter)
        requirements = [str(w.path) for w in wheels] + list(extra)
        if runtime_wheel is None:
            requirements.append(release_pin(chosen.requirement))
        # The runtime's known constraints (numpy<2 for tflite-runtime 2.14), whatever its
        # metadata says: a slim wheel without a recipe keeps upstream's incomplete metadata.
        # Never on a given wheel: a numpy 2 wheel must fail on its own merits (the ABI error).
        requirements += _constraints_on_others(chosen, {w.name for w in wheels})
        candidate.install(requirements)
        installed = candidate.installed()
        to_run = [m for m in runnable if m.name not in unusable]
        judged = run_and_judge(
            candidate.python, to_run, expected, baseline=baseline, inputs=inputs, timeout=timeout
        )
        results = {**precheck, **unusable}
        for model in to_run:
            result = judged[model.name].result
            if not result.ok:
                result = _blame(model, result, reference, expected[model.name], inputs, timeout)
            results[model.name] = result
    ordered = tuple(results[m.name] for m in suite)
    notes = _notes(chosen, runtime_wheel) + reference.notes
    return VerifyResult(
        runtime=str(chosen),
        wheels=tuple(w.filename for w in wheels),
        installed=installed,
        results=ordered,
        reference=tuple(reference.requirements) if reference.used else (),
        seconds=time.monotonic() - started,
        notes=notes,
    )


def _constraints_on_others(runtime: Runtime, given: Collection[str]) -> list[str]:
    """The runtime's constraints on distributions other than the ``given`` wheels."""
    return [
        str(c.requirement)
        for c in runtime.constraints()
        if canonicalize_name(c.requirement.name) not in given
    ]


class _ReferenceStack:
    """The unmodified stack, created on first use only (most verifications never need it)."""

    def __init__(
        self,
        root: Path,
        requirements: list[str],
        fallback: list[str],
        interpreter: list[str] | None = None,
    ) -> None:
        self.root = root
        self.requirements = requirements
        self.fallback = fallback
        self.interpreter = interpreter
        self.notes: tuple[str, ...] = ()
        self._env: Environment | None = None

    @property
    def used(self) -> bool:
        return self._env is not None

    @property
    def python(self) -> Path:
        if self._env is None:
            step("creating the reference (unmodified) stack: " + " ".join(self._short()))
            env = create_environment(self.root, self.interpreter)
            try:
                env.install(self.requirements)
            except EnvironmentSetupError as exc:
                # Only a release the index does not have falls back; a network or build failure
                # must not turn the candidate into its own judge.
                if self.fallback == self.requirements or not _not_on_index(exc):
                    raise
                note = f"the stock releases are not installable ({exc}); the given wheels"
                note += " serve as their own reference"
                warn(note)
                self.notes += (note,)
                self.requirements = self.fallback
                env = create_environment(self.root, self.interpreter)
                env.install(self.requirements)
            self._env = env
        return self._env.python

    def _short(self) -> list[str]:
        return [Path(r).name if "/" in r else r for r in self.requirements]


def _not_on_index(exc: EnvironmentSetupError) -> bool:
    return any(why in str(exc) for why in NOT_ON_INDEX)


def _precheck(
    model: SmokeModel, runtime: Runtime, runtime_wheel: Wheel | None
) -> ModelResult | None:
    """Refuse up front what the model's own metadata says this runtime cannot run."""
    info = read_model_info(model.path)  # parsed once already by load_models: it is a model
    version = runtime_wheel.version if runtime_wheel else runtime.pinned_version()
    tf_version = runtime.tf_version(version) if version else None
    if info.min_runtime_version and tf_version:
        needed = Version(info.min_runtime_version)
        if needed > tf_version:
            return ModelResult(
                model.name,
                UNUSABLE,
                f"model needs TensorFlow Lite runtime >= {needed} (min_runtime_version metadata);"
                f" {runtime} implements TensorFlow {tf_version}",
            )
    return None


def _expectations(
    models: Sequence[SmokeModel], reference: _ReferenceStack, runtime: Runtime, timeout: float
) -> tuple[dict[str, list[RawArray]], dict[str, list[RawArray]], dict[str, ModelResult]]:
    """Expected outputs per model; models without them get them from the reference stack."""
    expected = stored_expectations(models)
    inputs: dict[str, list[RawArray]] = {}
    unusable: dict[str, ModelResult] = {}
    for model in models:
        if model.name in expected:
            continue
        step(f"{model.name}: no expected outputs; computing them on the unmodified stack")
        given = inputs[model.name] = model_inputs(reference.python, model, timeout)
        baseline = run_model(reference.python, model, inputs=given, timeout=timeout)
        if baseline.status != PASS:
            unusable[model.name] = _unusable(model, baseline)
            continue
        expected[model.name] = list(baseline.outputs[0])
    return expected, inputs, unusable


def _blame(
    model: SmokeModel,
    result: ModelResult,
    reference: _ReferenceStack,
    expected: list[RawArray],
    inputs: dict[str, list[RawArray]],
    timeout: float,
) -> ModelResult:
    """A failing model is the wheels' fault only if the unmodified stack passes it."""
    step(f"{model.name} failed; checking it on the unmodified stack")
    baseline = run_model(reference.python, model, inputs=inputs.get(model.name), timeout=timeout)
    judged = check_run(model, baseline, expected)
    if judged.ok:
        return result
    return _unusable(model, baseline, judged.message)


def _unusable(model: SmokeModel, run: ModelRun, message: str | None = None) -> ModelResult:
    why = message or run.message
    return ModelResult(model.name, UNUSABLE, f"fails on the unmodified stack too: {why}")


def _notes(runtime: Runtime, runtime_wheel: Wheel | None) -> tuple[str, ...]:
    version = runtime_wheel.version if runtime_wheel else runtime.pinned_version()
    if version is not None and runtime.tf_version(version) is None:
        return (
            f"{runtime.name} {version}: its TensorFlow version is unknown, so models'"
            " min_runtime_version metadata was not checked up front",
        )
    return ()


def warn_notes(result: VerifyResult) -> None:
    for note in result.notes:
        warn(note)
