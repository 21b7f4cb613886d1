"""``build numpy``: lean numpy from its sdist, built with the options of ``recipes/numpy.toml``.

Steps: find the sdist on the index and check it against the index's sha256; check the recipe's
meson options against the sdist's own options file; build a wheel in an isolated environment
(the ``build`` package, ``-Csetup-args=...``, compiler flags from the platform's env); strip the
ELF files; give the wheel its true platform tag with auditwheel (a wheel linked against this
machine's glibc must not claim ``linux_x86_64``); cache the result by everything that decides
its bytes (sdist sha256, rendered options, environment, compiler, interpreter).

With ``glibc`` (``--glibc 2.28``) the compilers are zig's, linking against that glibc's symbol
versions (``builder.zig``), and the stripped ELF files are checked against the manylinux policy
for it before the wheel is tagged (``builder.glibc``): a need for a newer symbol version is
refused, naming the symbol.

The cached wheel keeps numpy's own version; ``build numpy`` labels its output (``+lean``) and
``slim`` labels the slimmed wheel, so no index confuses either with PyPI's numpy.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.tags import sys_tags
from packaging.version import InvalidVersion, Version

from . import manylinux, zig
from .cache import atomic_write_text, build_lock, cache_dir
from .console import info, step, warn
from .dependencies import glibc_floor
from .errors import (
    ArgumentError,
    BuildError,
    CommandError,
    RecipeError,
    UnsupportedPlatformError,
)
from .glibc import check_members, parse_glibc, policy_for
from .index.sdist import Sdist, fetch_sdist, read_member, unpack_sdist
from .numpy_recipe import (
    OPTION_FILES,
    BuildPlan,
    BuildRecipe,
    check_project_options,
    load_build_recipe,
    parse_option_types,
)
from .runner import Arg, run
from .runtimes import host_platform, resolve_runtime
from .strip import is_elf, strip_elf
from .wheelfile import Wheel

PROJECT = "numpy"
BUILD_FORMAT = 2  # bump when a change here changes what a cached build contains
MANIFEST = "build.json"
WORK_ROOT = "tflite-edge-builder-numpy-build"
# meson-python builds in a random .mesonpy-XXXX directory unless given a fixed one.
BUILD_DIR_SETTING, BUILD_DIR_NAME = "build-dir", "build"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01: the earliest time a zip file can hold
CONFIG_MEMBER = "numpy/__config__.py"
BUILD_NOISE = (
    (re.compile(r"""[^"'\s]*build-env-[A-Za-z0-9_]+"""), "<build-env>"),
    (re.compile(r'"dep\d+"'), '"dep"'),
)


@dataclass(frozen=True)
class BuiltNumpy:
    """A lean numpy wheel in the build cache (``path``) and how it was made."""

    path: Path
    version: str
    profile: str
    label: str
    platform_tag: str
    sdist_sha256: str
    config_settings: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    compiler: str
    key: str
    build_seconds: float
    stripped: dict[str, tuple[int, int]] = field(default_factory=dict)
    cached: bool = False
    glibc: str | None = None  # the glibc the build targeted (--glibc), None: this machine's

    @property
    def wheel_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def slim_label(self) -> str:
        """The slimmed wheel's local version: ``lean.slim`` says both what was done and how."""
        return f"{self.label}.slim" if self.label else "slim"

    def to_dict(self) -> dict[str, object]:
        return {
            "wheel": str(self.path),
            "wheel_bytes": self.wheel_bytes,
            "version": self.version,
            "profile": self.profile,
            "label": self.label,
            "platform_tag": self.platform_tag,
            "sdist_sha256": self.sdist_sha256,
            "config_settings": list(self.config_settings),
            "environment": dict(self.environment),
            "compiler": self.compiler,
            "cache_key": self.key,
            "build_seconds": round(self.build_seconds, 1),
            "stripped": {k: {"before": v[0], "after": v[1]} for k, v in self.stripped.items()},
            "cached": self.cached,
            "glibc": self.glibc,
        }


# -- compilers -----------------------------------------------------------------------------------


def find_compilers() -> tuple[list[str], list[str]] | None:
    """The C and C++ compiler commands a build would use here (``$CC``/``$CXX`` first), or None."""
    if sys.platform == "win32":
        cl = shutil.which("cl")
        return ([cl], [cl]) if cl else None
    cc = _compiler("CC", ("cc", "gcc", "clang"))
    cxx = _compiler("CXX", ("c++", "g++", "clang++"))
    return (cc, cxx) if cc and cxx else None


def _compiler(variable: str, names: tuple[str, ...]) -> list[str] | None:
    configured = os.environ.get(variable)
    if configured:
        command = shlex.split(configured)
        return command if command and shutil.which(command[0]) else None
    found = next((path for name in names if (path := shutil.which(name))), None)
    return [found] if found else None


def compiler_identity() -> str:
    """First lines of ``cc --version`` and ``c++ --version`` (part of the cache key)."""
    compilers = find_compilers()
    if compilers is None:
        raise BuildError(
            "no C/C++ compiler found (set CC and CXX, or install gcc and g++): "
            "cannot build numpy from source"
        )
    lines = []
    for command in compilers:
        args = command if sys.platform == "win32" else [*command, "--version"]
        result = run(args, echo=False, log=False, check=False)
        lines.append(result.output.strip().splitlines()[0] if result.output.strip() else args[0])
    return " | ".join(dict.fromkeys(lines))


# -- planning ------------------------------------------------------------------------------------


def default_specifier(runtime: str | None = None) -> SpecifierSet:
    """The numpy releases the runtime accepts (``<2`` for tflite-runtime 2.14)."""
    resolved = resolve_runtime(runtime)
    specs = [
        str(c.requirement.specifier)
        for c in resolved.constraints()
        if c.requirement.name == PROJECT and str(c.requirement.specifier)
    ]
    return SpecifierSet(",".join(specs))


def plan_for(
    version: str,
    profile: str | None = None,
    platform: str | None = None,
    recipe: BuildRecipe | None = None,
) -> BuildPlan:
    """The recipe rendered for one numpy version, profile and platform (no network)."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ArgumentError(f"numpy version {version!r} is not a valid version") from None
    recipe = recipe or load_build_recipe()
    return recipe.plan(parsed, profile, platform or host_platform())


def check_sdist_options(plan: BuildPlan, sdist: Sdist) -> str:
    """Check the plan's numpy options against the sdist's options file; return that file's name."""
    for name in OPTION_FILES:
        text = read_member(sdist, name)
        if text is not None:
            check_project_options(plan, parse_option_types(text), f"{sdist.path.name}:{name}")
            return name
    raise RecipeError(
        f"{sdist.path.name} has no {' or '.join(OPTION_FILES)}: not a meson-built numpy"
    )


def cache_key(plan: BuildPlan, sdist: Sdist, compiler: str) -> str:
    tag = next(iter(sys_tags()))
    inputs = {
        "format": BUILD_FORMAT,
        "sdist": sdist.sha256,
        "config_settings": [f"{k}={v}" for k, v in plan.config_settings()],
        "env": sorted(plan.family.env),
        "strip": list(plan.family.strip),
        "compiler": compiler,
        "python": f"{tag.interpreter}-{tag.abi}",
        "platform": plan.platform,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


# -- building ------------------------------------------------------------------------------------


def build_numpy(
    version: str | None = None,
    profile: str | None = None,
    *,
    runtime: str | None = None,
    rebuild: bool = False,
    glibc: str | None = None,
) -> BuiltNumpy:
    """Build lean numpy ``version`` (default: the newest release the runtime accepts) with the
    recipe's ``profile`` for this host (against ``glibc``'s symbol versions if given), or return
    the cached build of the same inputs."""
    recipe = load_build_recipe()
    recipe.profile(profile)  # an unknown profile fails before any download
    target = glibc_target(glibc)
    if version is None:
        sdist = fetch_sdist(PROJECT, None, default_specifier(runtime))
    else:
        plan_for(version, profile, recipe=recipe)  # an unknown version range fails early too
        sdist = fetch_sdist(PROJECT, version)
    plan = plan_for(str(sdist.version), profile, recipe=recipe)
    options_file = check_sdist_options(plan, sdist)
    info(f"    {len(plan.project_options)} numpy options checked against {options_file}")
    compiler = zig.identity(*target) if target else compiler_identity()
    key = cache_key(plan, sdist, compiler)
    where = cache_dir("numpy-builds") / key[:32]
    if not rebuild:
        cached = _load_cached(where)
        if cached is not None:
            step(f"numpy {sdist.version} ({plan.profile.name}): cached build {cached.path.name}")
            return cached
    # One build of the same inputs at a time: tests, stack and users may ask at once, and the
    # build directory's path is fixed (_work_dir).
    with build_lock(work_root() / f"{key[:16]}.lock", "the same numpy"):
        cached = None if rebuild else _load_cached(where)
        if cached is not None:  # another process built it while this one waited
            step(f"numpy {sdist.version}: built meanwhile by another process: {cached.path.name}")
            return cached
        step(f"building numpy {sdist.version}, profile {plan.profile.name}, with {compiler}")
        return _build(plan, sdist, compiler, key, where, target)


def glibc_target(glibc: str | None, zig_needed: bool = True) -> tuple[str, tuple[int, int]] | None:
    """``(arch, (2, 28))`` for ``--glibc 2.28`` on Linux, checked before any download: a
    version no manylinux policy covers, another OS or (for a build) a missing zig fail here."""
    if glibc is None:
        return None
    version = parse_glibc(glibc)
    platform = host_platform()
    if not platform.startswith("linux_"):
        raise UnsupportedPlatformError(f"--glibc is for Linux builds; this host is {platform}")
    arch = platform[len("linux_") :]
    policy_for(version, arch)
    if zig_needed:
        zig.zig_executable()
    return arch, version


def _build(
    plan: BuildPlan,
    sdist: Sdist,
    compiler: str,
    key: str,
    where: Path,
    target: tuple[str, tuple[int, int]] | None = None,
) -> BuiltNumpy:
    started = time.monotonic()
    with _work_dir(key) as tmp:
        root = unpack_sdist(sdist, tmp / "src")
        log = where.with_name(f"{where.name}.log")
        log.unlink(missing_ok=True)
        info(f"    meson and compiler output: {log}")
        env = build_environment(plan)
        if target is not None:
            env |= zig.compiler_environment(*target, tmp / "zig")
        wheel = Wheel.open(_run_build(plan, root, tmp / "dist", log, env))
        _drop_build_noise(wheel)
        sizes = _strip(wheel, plan)
        if target is not None:
            elf = {n: wheel.read(n) for n in wheel.names() if is_elf(wheel.read(n))}
            policy = check_members(elf, target[1], target[0])
            info(f"    every ELF file's symbol versions fit {policy.tag}")
        tagged = _repair(wheel.write(tmp / "edited"), plan, tmp / "repaired", log)
        if target is not None:
            _check_tag(tagged, target[1])
        shutil.rmtree(where, ignore_errors=True)
        final = Wheel.open(tagged).write(where)  # deterministic zip, whatever wrote it before
    built = BuiltNumpy(
        path=final,
        version=str(sdist.version),
        profile=plan.profile.name,
        label=plan.profile.local_version,
        platform_tag=manylinux.platform_tag(final),
        sdist_sha256=sdist.sha256,
        config_settings=tuple(f"{k}={v}" for k, v in plan.config_settings()),
        environment=tuple(sorted(plan.family.env)),
        compiler=compiler,
        key=key,
        build_seconds=time.monotonic() - started,
        stripped=sizes,
        glibc=f"{target[1][0]}.{target[1][1]}" if target else None,
    )
    atomic_write_text(where / MANIFEST, json.dumps(built.to_dict(), indent=2) + "\n")
    step(f"built {final.name}: {built.wheel_bytes:,} B in {built.build_seconds:.0f} s")
    return built


def work_root() -> Path:
    """Where builds run: a fixed directory under the system's temporary directory, not under the
    user's cache. Cython writes the absolute path of each ``.pyx`` into its extension (measured:
    ``numpy/random/bit_generator``), so builds below ``~/.cache`` differed by cache location."""
    root = Path(tempfile.gettempdir()) / WORK_ROOT
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        if _owned_directory(root):
            return root
    except OSError:
        pass
    fallback = cache_dir("numpy-builds", "work")
    warn(f"{root} is not writable: building in {fallback}, so the wheel's bytes depend on it")
    return fallback


def _owned_directory(path: Path) -> bool:
    """A real directory (no symlink) of this user: a shared temporary directory is not trusted."""
    status = path.lstat()
    owner_ok = not hasattr(os, "getuid") or status.st_uid == os.getuid()
    return stat.S_ISDIR(status.st_mode) and owner_ok and os.access(path, os.W_OK | os.X_OK)


@contextlib.contextmanager
def _work_dir(key: str) -> Iterator[Path]:
    """A build directory whose path depends only on the inputs: compilers and Cython write
    source paths into the objects, so a random path would make every build's bytes differ."""
    path = work_root() / key[:16]
    shutil.rmtree(path, ignore_errors=True)
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise BuildError(f"cannot create the build directory {path}: {exc.strerror}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def build_environment(plan: BuildPlan) -> dict[str, str]:
    """The platform's compiler flags, plus a fixed SOURCE_DATE_EPOCH for reproducible output."""
    return {**dict(plan.family.env), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}


def _check_tag(wheel: Path, glibc: tuple[int, int]) -> None:
    """auditwheel's tag must promise no newer glibc than the build targeted."""
    tag = manylinux.platform_tag(wheel)
    floors = [glibc_floor(t) for t in tag.split(".")]
    if not floors or any(f is None or f[0] > glibc for f in floors):
        raise BuildError(
            f"auditwheel tagged the build {tag}, newer than glibc {glibc[0]}.{glibc[1]}"
        )


def _run_build(plan: BuildPlan, root: Path, out: Path, log: Path, env: dict[str, str]) -> Path:
    if importlib.util.find_spec("build") is None:
        raise BuildError("the `build` package is not installed here: pip install build")
    command: list[Arg] = [sys.executable, "-m", "build", "--wheel", "--outdir", out]
    command += [*plan.frontend_args(), f"-C{BUILD_DIR_SETTING}={root / BUILD_DIR_NAME}", root]
    try:
        run(
            command,
            env=env,
            log_file=log,
            progress=f"building numpy {plan.version}",
        )
    except CommandError as exc:
        raise BuildError(f"numpy {plan.version} did not build: {exc}") from None
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"the numpy build produced {len(wheels)} wheels, expected one")
    return wheels[0]


def _drop_build_noise(wheel: Wheel) -> None:
    """numpy's ``show_config()`` data records the random path of the isolated build environment
    and meson's ``id()``-based dependency names: the only bytes in which two builds of the same
    inputs differ (measured on 1.26.4). Replace them with fixed text."""
    if CONFIG_MEMBER not in wheel.names():
        return
    text = wheel.read(CONFIG_MEMBER).decode("utf-8")
    wheel.replace(CONFIG_MEMBER, without_build_noise(text).encode("utf-8"))


def without_build_noise(text: str) -> str:
    for pattern, replacement in BUILD_NOISE:
        text = pattern.sub(replacement, text)
    return text


def _strip(wheel: Wheel, plan: BuildPlan) -> dict[str, tuple[int, int]]:
    """Strip every ELF member with the platform's strip command (``-o OUT IN`` appended)."""
    command = list(plan.family.strip)
    if not command:
        return {}
    if shutil.which(command[0]) is None:
        raise BuildError(f"`{command[0]}` is not on PATH: cannot strip the numpy build")
    sizes: dict[str, tuple[int, int]] = {}
    for name in wheel.names():
        data = wheel.read(name)
        smaller = strip_elf(data, command[0], command[1:]) if is_elf(data) else None
        if smaller is not None:
            wheel.replace(name, smaller)
            sizes[name] = (len(data), len(smaller))
    before, after = sum(s[0] for s in sizes.values()), sum(s[1] for s in sizes.values())
    info(f"    stripped {len(sizes)} ELF files: {before:,} -> {after:,} B")
    return sizes


def _repair(path: Path, plan: BuildPlan, out: Path, log: Path) -> Path:
    """Linux: the true manylinux tag (``builder.manylinux``); other platforms' tags are true."""
    if not plan.platform.startswith("linux"):
        return path
    return manylinux.repair(path, out, log_file=log)


def _load_cached(where: Path) -> BuiltNumpy | None:
    manifest = where / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        path = Path(data["wheel"])
        if path.parent != where or not path.is_file():
            return None
        return BuiltNumpy(
            path=path,
            version=data["version"],
            profile=data["profile"],
            label=data["label"],
            platform_tag=data["platform_tag"],
            sdist_sha256=data["sdist_sha256"],
            config_settings=tuple(data["config_settings"]),
            environment=tuple(sorted(data["environment"].items())),
            compiler=data["compiler"],
            key=data["cache_key"],
            build_seconds=float(data["build_seconds"]),
            stripped={k: (v["before"], v["after"]) for k, v in data["stripped"].items()},
            cached=True,
            glibc=data.get("glibc"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # an unreadable manifest is a cache miss, never an error


# -- choosing between a lean build and the PyPI wheel --------------------------------------------


@dataclass(frozen=True)
class SourceChoice:
    """Whether ``slim numpy`` starts from a lean build (``from_source``) and why."""

    from_source: bool
    reason: str


def choose_source(version: str | None, profile: str | None = None) -> SourceChoice:
    """Lean from source where this host can build it with the recipe, else the PyPI wheel.
    An unknown ``profile`` is an error, never a reason to fall back."""
    recipe = load_build_recipe()
    recipe.profile(profile)
    platform = host_platform()
    if platform not in recipe.platform_tags():
        return SourceChoice(False, f"the numpy build recipe has no settings for {platform}")
    if version is not None:
        try:
            plan_for(version, profile, platform, recipe)
        except RecipeError as exc:
            return SourceChoice(False, str(exc))
    compilers = find_compilers()
    if compilers is None:
        return SourceChoice(False, "no C/C++ compiler found (set CC/CXX or install gcc, g++)")
    if importlib.util.find_spec("build") is None:
        return SourceChoice(False, "the `build` package is not installed (pip install build)")
    if platform.startswith("linux") and importlib.util.find_spec("auditwheel") is None:
        return SourceChoice(False, "auditwheel is not installed (pip install auditwheel)")
    names = " and ".join(dict.fromkeys(Path(c[0]).name for c in compilers))
    return SourceChoice(True, f"a compiler is available ({names}): lean numpy needs no BLAS")
