"""builder.dependencies: Requires-Dist pruning and repairs, glibc needs, and the real thing on
ai-edge-litert (whose six never-imported dependencies go while numpy stays)."""

from __future__ import annotations

import email.parser
import re
import shutil
import sys
import zipfile
from pathlib import Path

import packaging
import pytest
import rich

from builder.cache import scratch_dir
from builder.dependencies import (
    check_platform,
    glibc_floor,
    glibc_needs,
    imported_distributions,
    plan_dependencies,
)
from builder.elf import version_needs
from builder.environments import create_environment
from builder.errors import RecipeError
from builder.pypi import download_wheel
from builder.runner import run
from builder.slim import SlimOptions, SlimResult, slim_wheel
from builder.slim_recipe import DependencyFix
from builder.zipwrite import DEFLATE

AI_EDGE_LITERT = "ai-edge-litert==2.3.0"
NEVER_IMPORTED = {
    "backports-strenum",
    "flatbuffers",
    "ml-dtypes",
    "protobuf",
    "tqdm",
    "typing-extensions",
}
NUMPY_PIN = DependencyFix("pin", "numpy<2", "built against the numpy 1.x ABI")


# -- planning (pure) ------------------------------------------------------------------------------


def test_never_imported_requirements_are_dropped_imported_ones_kept() -> None:
    plan = plan_dependencies(
        ["numpy>=1.23.2", "tqdm", "protobuf>=4", 'lark; extra == "tools"'],
        frozenset({"numpy"}),
        prune=True,
    )
    assert plan.after == ("numpy>=1.23.2", 'lark; extra == "tools"')
    assert plan.dropped == ("tqdm", "protobuf>=4")
    assert plan.changed


def test_an_imported_dependency_is_never_dropped_even_if_the_recipe_says_so() -> None:
    fix = DependencyFix("drop", "numpy", "wrong evidence")
    plan = plan_dependencies(["numpy>=1.23.2"], frozenset({"numpy"}), [fix], prune=True)
    assert plan.after == ("numpy>=1.23.2",)
    assert not plan.changed
    assert any("inference imports it" in w for w in plan.warnings)


def test_a_pin_merges_with_the_declared_specifier() -> None:
    plan = plan_dependencies(["numpy >=1.23.2"], frozenset({"numpy"}), [NUMPY_PIN], prune=True)
    assert plan.after == ("numpy<2,>=1.23.2",)
    assert [(c.action, c.reason) for c in plan.changes] == [("pin", NUMPY_PIN.evidence)]


def test_a_pin_for_an_undeclared_requirement_is_added() -> None:
    plan = plan_dependencies([], frozenset(), [NUMPY_PIN], prune=True)
    assert plan.after == ("numpy<2",)


def test_a_pin_does_not_bring_back_a_dropped_requirement() -> None:
    pin = DependencyFix("pin", "protobuf<5", "evidence")
    plan = plan_dependencies(["protobuf>=3.20"], frozenset(), [pin], prune=True)
    assert plan.after == ()
    assert [(c.action, c.requirement) for c in plan.changes] == [("drop", "protobuf>=3.20")]


def test_without_a_recipe_metadata_is_left_alone_with_a_warning() -> None:
    plan = plan_dependencies(["numpy", "tqdm"], frozenset({"numpy"}), prune=False, package="x")
    assert plan.after == ("numpy", "tqdm")
    assert not plan.changed
    assert plan.warnings == (
        "x: tqdm is never imported during inference, but without a recipe its Requires-Dist is"
        " left as upstream declares it",
    )


def test_requirements_for_other_environments_are_not_judged() -> None:
    text = 'tomli; python_version < "3.0"'
    plan = plan_dependencies([text], frozenset(), prune=True)
    assert plan.after == (text,)


def test_imported_distributions_maps_files_to_their_distributions() -> None:
    site = Path(packaging.__file__).resolve().parent.parent
    paths = [packaging.__file__, rich.__file__, "/usr/lib/not-in-site.py"]
    assert imported_distributions(paths, site) == {"packaging", "rich"}


# -- glibc needs ---------------------------------------------------------------------------------


def test_version_needs_match_objdump_on_the_interpreter() -> None:
    objdump = shutil.which("objdump")
    if objdump is None or sys.platform != "linux":
        pytest.skip("needs objdump on Linux")
    binary = Path(sys.executable).resolve()
    needs = version_needs(binary.read_bytes())
    found = {v for versions in needs.values() for v in versions}
    listed = run([objdump, "-p", binary], echo=False, log=False).output
    # objdump -p's "Version References": "    0x09691a75 0x00 02 GLIBC_2.2.5" per needed version.
    expected = set(re.findall(r"^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)$", listed, re.MULTILINE))
    assert expected and found == expected


def test_glibc_floor_of_manylinux_tags() -> None:
    assert glibc_floor("manylinux2014_x86_64") == ((2, 17), "x86_64")
    assert glibc_floor("manylinux_2_31_x86_64") == ((2, 31), "x86_64")
    assert glibc_floor("linux_x86_64") is None


@pytest.mark.network
def test_tflite_runtime_needs_glibc_2_29_so_its_recipe_tag_holds_and_an_older_one_is_refused() -> (
    None
):
    wheel = download_wheel("tflite-runtime==2.14.0")
    member = "tflite_runtime/_pywrap_tensorflow_interpreter_wrapper.so"
    with zipfile.ZipFile(wheel) as zf:
        data = {member: zf.read(member)}
    assert glibc_needs(data)[member][-1] == "GLIBC_2.29"
    plain = check_platform(["manylinux2014_x86_64"], data, None, package="tflite-runtime")
    assert plain.new_tag is None and "needs GLIBC_2.29" in plain.warnings[0]
    fixed = check_platform(["manylinux2014_x86_64"], data, "manylinux_2_31_x86_64", "why")
    assert fixed.new_tag == "manylinux_2_31_x86_64" and fixed.glibc_needed == (2, 29)
    with pytest.raises(RecipeError, match=r"needs GLIBC_2\.29"):
        check_platform(["manylinux2014_x86_64"], data, "manylinux_2_28_x86_64")


# -- the real thing: ai-edge-litert ---------------------------------------------------------------


@pytest.fixture(scope="module")
def litert(tmp_path_factory: pytest.TempPathFactory) -> SlimResult:
    wheel = download_wheel(AI_EDGE_LITERT)
    out = tmp_path_factory.mktemp("litert")  # zlib: a 5 MB runtime's zopfli pass tests nothing here
    return slim_wheel(wheel, SlimOptions(out_dir=out, compression=DEFLATE))


def _requires(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        headers = email.parser.HeaderParser().parsestr(zf.read(name).decode())
    return headers.get_all("Requires-Dist") or []


@pytest.mark.slow
@pytest.mark.network
def test_ai_edge_litert_drops_exactly_its_never_imported_dependencies(litert: SlimResult) -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    assert litert.output is not None and litert.dependencies is not None
    dropped = {canonicalize_name(Requirement(r).name) for r in litert.dependencies.dropped}
    assert dropped == NEVER_IMPORTED
    unconditional = [r for r in _requires(litert.output) if ";" not in r]
    assert unconditional == ["numpy>=1.23.2"]  # imported, so kept
    assert "numpy" in litert.dependencies.imported
    assert litert.pip_check == []


@pytest.mark.slow
@pytest.mark.network
def test_the_pruned_ai_edge_litert_installs_alone_and_pip_check_is_clean(
    litert: SlimResult,
) -> None:
    assert litert.output is not None
    with scratch_dir("test-pip-check") as tmp:
        env = create_environment(tmp / "env")
        env.install([str(litert.output)])
        installed = env.installed()
        assert env.check() == []
    assert set(installed) == {"ai-edge-litert", "numpy"}


@pytest.mark.slow
@pytest.mark.network
def test_ai_edge_litert_slim_tries_and_drops_the_ctypes_preload(litert: SlimResult) -> None:
    assert litert.output is not None
    preload = "ai_edge_litert/libLiteRt.so"
    assert preload in litert.traced  # opened by __init__.py's ctypes.CDLL, only if it exists
    assert preload in litert.removed_units  # ...and the search proved it unneeded
    with zipfile.ZipFile(litert.output) as zf:
        kept = sorted(n for n in zf.namelist() if not n.split("/")[0].endswith(".dist-info"))
        licence = [n for n in zf.namelist() if n.endswith("/licenses/LICENSE")]
    assert kept == [
        "ai_edge_litert/__init__.py",
        "ai_edge_litert/_pywrap_litert_interpreter_wrapper.so",
        "ai_edge_litert/interpreter.py",
        "ai_edge_litert/libpywrap_litert_common.so",
        "ai_edge_litert/metrics_interface.py",
        "ai_edge_litert/metrics_portable.py",
    ]
    assert licence  # licence files are never dropped
    assert set(litert.stripped) == {
        "ai_edge_litert/_pywrap_litert_interpreter_wrapper.so",
        "ai_edge_litert/libpywrap_litert_common.so",
    }
    assert litert.output_bytes < litert.input_bytes / 3
    assert litert.verification is not None
    assert all(r.identical for r in litert.verification.results)
