"""--glibc: symbol versions read per symbol, judged with auditwheel's policies, and zig's
compilers linking against an older glibc (real compiles of a small shared library)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli
from wheel_factory import build_wheel

from builder.elf import symbol_versions, version_needs
from builder.errors import ArgumentError, BuildError
from builder.glibc import check_members, newest_glibc, parse_glibc, policy_for, violations
from builder.numpy_build import glibc_target
from builder.stack import glibc_needed
from builder.zig import compiler_environment, zig_executable

LIBRARY = "#include <math.h>\ndouble edge(double x) { return exp(x) + log(x + 2.0); }\n"
HOST_GLIBC = tuple(int(n) for n in platform.libc_ver()[1].split(".")[:2] if n.isdigit())


def _library(tmp_path: Path, compiler: list[str]) -> bytes:
    source, output = tmp_path / "edge.c", tmp_path / "libedge.so"
    source.write_text(LIBRARY)
    command = [*compiler, "-O2", "-fPIC", "-shared", str(source), "-o", str(output), "-lm"]
    subprocess.run(command, check=True, capture_output=True)
    return output.read_bytes()


def _zig_available() -> bool:
    try:
        zig_executable()
    except BuildError:
        return False
    return True


# -- versions and policies ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2.x", "3.28", "228", "2.28.1", ""])
def test_a_malformed_glibc_is_an_argument_error(text: str) -> None:
    with pytest.raises(ArgumentError, match=r"is not a glibc version such as 2\.28"):
        parse_glibc(text)


def test_the_policy_is_the_newest_manylinux_not_newer_than_the_target() -> None:
    assert policy_for((2, 28), "x86_64").tag == "manylinux_2_28_x86_64"
    assert policy_for((2, 30), "x86_64").tag == "manylinux_2_28_x86_64"  # no 2_29, 2_30 policy
    assert policy_for((2, 17), "x86_64").tag == "manylinux_2_17_x86_64"


def test_a_glibc_older_than_any_policy_is_refused() -> None:
    with pytest.raises(ArgumentError, match=r"older than any manylinux policy.*manylinux_2_5"):
        policy_for((2, 4), "x86_64")


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_symbol_versions_name_which_symbol_needs_which_glibc(tmp_path: Path) -> None:
    data = _library(tmp_path, ["cc"])
    symbols = symbol_versions(data)
    assert symbols["exp"][0] == "libm.so.6" and symbols["exp"][1].startswith("GLIBC_")
    needed = {v for vs in version_needs(data).values() for v in vs}
    assert {version for _, version in symbols.values()} <= needed
    if shutil.which("objdump"):  # binutils agrees, symbol by symbol
        command = ["objdump", "-T", str(tmp_path / "libedge.so")]
        dump = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(line for line in dump.splitlines() if line.endswith(" exp"))
        assert f"({symbols['exp'][1]})" in line


@pytest.mark.skipif(HOST_GLIBC < (2, 29), reason="exp@GLIBC_2.29 needs a host glibc >= 2.29")
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_a_host_build_is_refused_for_an_older_glibc_naming_the_symbol(tmp_path: Path) -> None:
    members = {"pkg/libedge.so": _library(tmp_path, ["cc"])}
    with pytest.raises(BuildError) as caught:
        check_members(members, (2, 28), "x86_64")
    message = str(caught.value)
    assert message.startswith("the build needs a newer glibc than 2.28 (manylinux_2_28_x86_64):")
    assert "pkg/libedge.so needs " in message and "@GLIBC_2." in message
    assert violations(members, policy_for((2, 35), "x86_64")) == []


def test_a_glibc_target_is_checked_before_any_download() -> None:
    assert glibc_target(None) is None
    with pytest.raises(ArgumentError):
        glibc_target("2.4")


def test_bad_glibc_arguments_are_one_line_errors() -> None:
    for argv in (
        ["build", "numpy", "--version", "1.26.4", "--glibc", "two"],
        ["build", "numpy", "--version", "1.26.4", "--glibc", "2.4"],
        ["stack", "--glibc", "2.x"],
    ):
        message = assert_one_line_error(cli(*argv))
        assert "--glibc" in message


# -- zig ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not _zig_available(), reason="needs the ziglang package (the [zig] extra)")
def test_zig_links_against_the_older_glibc_and_meson_probes_work(tmp_path: Path) -> None:
    env = compiler_environment("x86_64", (2, 28), tmp_path / "zig")
    data = _library(tmp_path, [env["CC"]])
    newest, by = newest_glibc({"libedge.so": data})
    assert newest is not None and newest <= (2, 28), (newest, by)
    assert symbol_versions(data)["exp"] == ("libm.so.6", "GLIBC_2.2.5")
    assert check_members({"libedge.so": data}, (2, 28), "x86_64").name == "manylinux_2_28"
    # What meson asks: the linker's banner, and the predefined macros from standard input.
    banner = subprocess.run([env["CC"], "-Wl,--version"], capture_output=True, text=True)
    assert banner.returncode == 0 and banner.stdout.startswith("LLD ")
    command = [env["CC"], "-E", "-dM", "-"]
    macros = subprocess.run(command, input="", capture_output=True, text=True)
    assert macros.returncode == 0 and "__x86_64__" in macros.stdout


LOOP = "int f(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) { s += a[i] * a[i];\n" \
    "if (a[i] > 100) s -= a[i] / 3; } return s; }\n"  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not _zig_available(), reason="needs the ziglang package (the [zig] extra)")
def test_the_wrapper_gives_clang_its_own_oz_for_mesons_size_flags(tmp_path: Path) -> None:
    """meson asks clang for -Oz at buildtype=minsize (gcc: -Os); zig turns both into clang's
    -Os. The wrapper adds clang's -Oz for either, so the objects are smaller than zig's own."""
    env = compiler_environment("x86_64", (2, 28), tmp_path / "zig")
    source = tmp_path / "loop.c"
    source.write_text(LOOP)
    target = ["-target", "x86_64-linux-gnu.2.28"]

    def compiled(name: str, compiler: list[str], flag: str) -> bytes:
        output = tmp_path / f"{name}.o"
        subprocess.run([*compiler, flag, "-c", str(source), "-o", str(output)], check=True)
        return output.read_bytes()

    plain = compiled("plain", [str(zig_executable()), "cc", *target], "-Oz")
    oz, os_ = (compiled(f"wrapped{f}", [env["CC"]], f) for f in ("-Oz", "-Os"))
    assert oz == os_ and len(oz) < len(plain)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_the_stack_report_names_the_glibc_the_stack_needs(tmp_path: Path) -> None:
    library = _library(tmp_path, ["cc"])
    wheel = build_wheel(tmp_path / "in", files={"demo/libedge.so": library})
    report = glibc_needed([wheel], "2.28")
    newest, by = newest_glibc({"libedge.so": library})
    assert newest is not None
    assert report["needed"] == f"{newest[0]}.{newest[1]}"
    assert report["needed_by"] == f"{wheel.name}:demo/libedge.so" and by == "libedge.so"
    assert report["requested"] == "2.28"
    assert report["platform_tags"] == {"demo": "any"}
