"""The data of a tflite-runtime build: what was asked, which version it builds, the plan's steps
(each carrying the function that executes it), and the facts the steps hand on while running."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from ..opset import Needed, Registered
from ..runner import format_command
from .platforms import Platform
from .recipe import Profile, TfliteRecipe, VersionRecipe

PLANNED, EXECUTED, CHECKED, SKIPPED, NOT_RUN, FAILED = (
    "planned",
    "executed",
    "checked",
    "skipped",
    "not run",
    "failed",
)
SCRIPT_PYTHON = "python"  # CI_BUILD_PYTHON; the build venv is first on PATH
TREE, ARCHIVE, DOWNLOAD = "tree", "archive", "download"  # where the source comes from


@dataclass(frozen=True)
class BuildRequest:
    tf_version: str
    platform: str
    python: str  # X.Y of the CPython the wheel is for
    out: Path
    source: Path | None = None  # a TensorFlow tree, or a release archive
    deps_dir: Path | None = None
    dry_run: bool = False
    allow_unpinned: bool = False
    lock_file: Path | None = None
    verify: bool = True
    repair: bool = True
    jobs: int | None = None
    ccache: bool | None = None  # None: use it when it is installed
    profile: str = "speed"  # a [profiles.*] entry of the recipe
    ops_from: tuple[Path, ...] = ()  # models (or directories) a selective runtime is built for
    xnnpack: bool = True


@dataclass(frozen=True)
class BuildVersion:
    """The version a build produces and why the builder believes it."""

    wanted: Version  # --tf-version, normalised
    series: VersionRecipe  # the recipe entry whose patches and dependencies the build uses
    release: bool  # the wheel claims a release (only for a source proven to be that release)
    suffix: str  # the script's VERSION_SUFFIX: "" for a release, ".dev0", "rc1", ...
    git_version: str  # tflite_runtime.__git_version__
    proof: str  # why the source is what the version says


@dataclass
class BuildState:
    """Facts one step finds and a later one needs (typed, instead of a loose dict)."""

    base_prefix: str | None = None  # sys.base_prefix of the build venv's Python
    numpy_version: str | None = None  # numpy in the build venv: its headers build the module
    numpy_include: str | None = None
    wheel: Path | None = None  # the newest wheel a step produced
    ccache_before: dict[str, int] | None = None


@dataclass
class Step:
    key: str
    title: str
    action: Callable[[Plan, BuildState, Step], None]
    commands: list[list[str]] = field(default_factory=list)
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    number: int = 0
    status: str = PLANNED
    reason: str = ""
    seconds: float | None = None

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
            "seconds": None if self.seconds is None else round(self.seconds, 1),
        }


@dataclass
class Plan:
    request: BuildRequest
    recipe: TfliteRecipe
    version: BuildVersion
    platform: Platform
    source_kind: str  # TREE, ARCHIVE or DOWNLOAD
    work: Path
    tree: Path
    python: str  # X.Y of the target CPython
    interpreter: list[str]  # its command, as the plan shows it
    interpreter_given: bool  # --python named an executable (else found when the venv is made)
    ccache: str | None  # the ccache executable, when the build uses one
    profile: Profile
    needed: Needed | None  # the models' operators, for a selective build
    local_label: str | None  # "ops.1a2b3c4d", "noxnnpack": what makes this build not the full one
    steps: list[Step] = field(default_factory=list)
    registered: Registered | None = None  # what a selective build registers (known once checked)
    wheel_path: Path | None = None
    numpy_requirement: str | None = None
    ccache_stats: dict[str, int] | None = None
    verification: list[dict[str, Any]] = field(default_factory=list)

    @property
    def wheel_version(self) -> str:
        label = f"+{self.local_label}" if self.local_label else ""
        return f"{self.version.wanted}{label}"

    @property
    def selected_ops_source(self) -> Path:
        return self.work / "selected_ops.cc"

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

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
    def log_file(self) -> Path:
        return self.work / "build.log"

    @property
    def dist_dir(self) -> Path:
        return self.tree / self.recipe.dist_dir.format(python=SCRIPT_PYTHON)

    def wheel_name(self, platform_tag: str, version: str | None = None) -> str:
        tag = self.python_tag
        name = self.recipe.distribution
        return f"{name}-{version or self.wheel_version}-{tag}-{tag}-{platform_tag}.whl"

    @property
    def script_wheel_name(self) -> str:
        """What the official script writes: the version without our local label."""
        return self.wheel_name(self.platform.wheel_platform, str(self.version.wanted))

    @property
    def output_name(self) -> str:
        """The output wheel's name as far as it is known before the build (Linux: auditwheel
        picks the manylinux policy from the symbols the module needs)."""
        return self.wheel_name(
            self.platform.driver.final_platform_tag(self.platform, self.request.repair)
        )

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tf_version": self.wheel_version,
            "release": self.version.release,
            "source": {"kind": self.source_kind, "proof": self.version.proof},
            "patch_series": self.version.series.version,
            "platform": self.platform.name,
            "python": self.python,
            "profile": self.profile.name,
            "xnnpack": self.request.xnnpack,
            "operators": None if self.registered is None else self.registered.to_dict(),
            "dry_run": self.request.dry_run,
            "tree": str(self.tree),
            "log": str(self.log_file),
            "ccache": self.ccache,
            "ccache_stats": self.ccache_stats,
            "steps": [s.to_dict() for s in self.steps],
            "wheel": self.wheel_path.name if self.wheel_path else self.output_name,
            "wheel_path": str(self.wheel_path) if self.wheel_path else None,
            "numpy_requirement": self.numpy_requirement,
            "verification": self.verification,
        }
