"""zig's ``cc``/``c++`` as meson's compilers, linking against an older glibc's symbol versions.

``zig cc -target x86_64-linux-gnu.2.28`` compiles with glibc headers and links against stub
libraries of exactly that glibc release, whatever glibc this machine runs: the technique
cargo-zigbuild and maturin use. zig comes from the ``ziglang`` wheel (the ``[zig]`` extra, about
90 MB, so optional: only ``--glibc`` needs it). C++ is linked with zig's own libc++, statically,
into each extension module; nothing needs the target's libstdc++ (README: the C++ runtime).

meson gets two small wrapper scripts (``cc``, ``c++``) in the build's work directory, because it
probes compilers in two ways zig does not answer as meson expects:

* preprocessing standard input (``cc -E -dM -``, meson's query of the predefined macros) reaches
  clang with the triple unchanged, and clang refuses ``x86_64-linux-gnu.2.28``: there the
  wrapper drops the glibc version (it decides no predefined macro);
* ``-Wl,--version`` prints ``zig ld 0.17.1``, which meson before 1.3 (numpy 1.26 vendors 1.2.99)
  does not recognise: the wrapper answers with zig's bundled ``ld.lld --version``, the linker
  family meson 1.3+ assumes for zig too.

And one for size: zig hands both ``-Os`` and ``-Oz`` to clang as ``-Os``; where meson asks for
either (the ``size`` profile: meson's clang flags for ``minsize`` are ``-Oz``) the wrapper adds
clang's own ``-Oz`` (``-Xclang -Oz``), which gcc's ``-Os`` is closer to (measured on numpy 1.26.4
sources: ``.text`` 8–12 % smaller).

numpy 2.x's meson also compiles a Cython sanity check against the ``python3`` that pkg-config
finds, the system's (Debian's 3.11 here, even for a 3.12 build), whose ``pyconfig.h`` includes a
multiarch header from ``/usr/include``, a directory zig does not search for a target: the build
points ``PKG_CONFIG_PATH`` at the building interpreter's own ``.pc`` files. Interpreters whose
headers themselves need ``/usr/include/<multiarch>`` (Debian's system Python) cannot build with
zig; python.org, pyenv and uv builds can.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sysconfig
from pathlib import Path

from .cache import cache_dir
from .errors import BuildError
from .runner import run

INSTALL_HINT = "pip install 'tflite-edge-builder[zig]' (or: pip install ziglang)"
WRAPPER = """#!/bin/sh
# {kind} for meson: zig {tool} linking against glibc {glibc} (written by builder/zig.py)
target={target}
size=
for arg in "$@"; do
  case "$arg" in
    -) target={arch}-linux-gnu ;;
    -Wl,--version) exec {zig} ld.lld --version ;;
    -Os|-Oz) size="-Xclang -Oz" ;;
  esac
done
exec {zig} {tool} -target "$target" "$@" $size
"""


def zig_executable() -> Path:
    """The zig binary of the installed ``ziglang`` package; a BuildError if there is none."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or spec.origin is None:
        raise BuildError(f"--glibc needs zig's C/C++ compilers: {INSTALL_HINT}")
    zig = Path(spec.origin).parent / "zig"
    if not zig.is_file():
        raise BuildError(f"the ziglang package has no zig binary at {zig}: {INSTALL_HINT}")
    return zig


def target(arch: str, glibc: tuple[int, int]) -> str:
    return f"{arch}-linux-gnu.{glibc[0]}.{glibc[1]}"


def identity(arch: str, glibc: tuple[int, int]) -> str:
    """What decides the objects' bytes: zig's version and the target (part of the cache key)."""
    zig = zig_executable()
    version = run([zig, "version"], echo=False, log=False).output.strip()
    flags = "(clang's -Oz for -Os/-Oz), static libc++"
    return f"zig {version} cc/c++ -target {target(arch, glibc)} {flags}"


def compiler_environment(arch: str, glibc: tuple[int, int], directory: Path) -> dict[str, str]:
    """``CC``/``CXX`` wrappers written into ``directory`` and zig's cache under the builder's."""
    zig = zig_executable()
    directory.mkdir(parents=True, exist_ok=True)
    commands = {}
    for variable, tool in (("CC", "cc"), ("CXX", "c++")):
        script = directory / f"zig-{tool}"
        script.write_text(
            WRAPPER.format(
                kind=variable,
                tool=tool,
                glibc=f"{glibc[0]}.{glibc[1]}",
                target=target(arch, glibc),
                arch=arch,
                zig=shlex.quote(str(zig)),
            )
        )
        script.chmod(0o755)
        commands[variable] = str(script)
    env = {**commands, "ZIG_GLOBAL_CACHE_DIR": str(cache_dir("zig"))}
    pkgconfig = sysconfig.get_config_var("LIBPC")
    if pkgconfig and Path(pkgconfig, "python3.pc").is_file():
        env["PKG_CONFIG_PATH"] = os.pathsep.join(
            p for p in (pkgconfig, os.environ.get("PKG_CONFIG_PATH")) if p
        )
    return env
