"""builder.trace: traced paths -> wheel members -> removable units."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from builder.slim_recipe import SlimRecipe
from builder.smoke import Trace
from builder.trace import _source_of, group_units, linked_closure, traced_members

MEMBERS = [
    "pkg/__init__.py",
    "pkg/core/__init__.py",
    "pkg/core/multiarray.py",
    "pkg/core/_umath.cpython-311-x86_64-linux-gnu.so",
    "pkg/core/tests/test_x.py",
    "pkg/fft/__init__.py",
    "pkg/fft/_pocketfft.so",
    "pkg/random/__init__.py",
    "pkg/random/lib/librandom.a",
    "pkg/data.json",
    "pkg.libs/libopenblas.so",
]


def recipe(units: tuple[str, ...] = ()) -> SlimRecipe:
    return SlimRecipe("pkg", None, (), (), units, ())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("pkg/__pycache__/core.cpython-311.pyc", "pkg/core.py"),
        ("pkg/core/__pycache__/__init__.cpython-311.opt-1.pyc", "pkg/core/__init__.py"),
        ("__pycache__/top.cpython-39.pyc", "top.py"),
        ("pkg/core/multiarray.py", "pkg/core/multiarray.py"),
        ("pkg/fft/_pocketfft.so", "pkg/fft/_pocketfft.so"),
        ("pkg/legacy.pyc", "pkg/legacy.pyc"),  # a sourceless .pyc outside __pycache__ is itself
    ],
)
def test_source_of(name: str, source: str) -> None:
    assert _source_of(name) == source


def test_traced_members_maps_paths_to_members(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "pkg/core").mkdir(parents=True)
    link = tmp_path / "alias"
    link.symlink_to(site)  # paths reported through a symlink still map to members
    trace = Trace(
        opened=frozenset(
            {
                f"{site}/pkg/data.json",
                f"{site}/pkg/__pycache__/__init__.cpython-311.pyc",
                "/usr/lib/python3.11/os.py",
                f"{site}/not-a-member.txt",
            }
        ),
        modules=frozenset(
            {
                f"{site}/pkg/__init__.py",
                f"{link}/pkg/core/__init__.py",
                f"{site}/pkg/core/__pycache__/multiarray.cpython-311.pyc",
            }
        ),
        mapped=frozenset({f"{site}/pkg.libs/libopenblas.so", "/usr/lib/libc.so.6"}),
    )
    use = traced_members(trace, site, MEMBERS)
    assert use.imported == {"pkg/__init__.py", "pkg/core/__init__.py", "pkg/core/multiarray.py"}
    assert use.loaded == {"pkg/data.json", "pkg.libs/libopenblas.so"}
    assert use.all == use.imported | use.loaded


def test_group_units_with_recipe_patterns() -> None:
    used = frozenset({"pkg/__init__.py", "pkg/core/multiarray.py"})
    candidates = [m for m in MEMBERS if m not in used]
    units = group_units(candidates, recipe(("pkg/*/", "pkg/*/*/", "pkg.libs/")), used)
    # Subpackages nothing used are one unit each; a used package is split into its files,
    # though its unused subdirectories still form units.
    assert units["pkg/fft/"] == ("pkg/fft/__init__.py", "pkg/fft/_pocketfft.so")
    assert units["pkg/random/"] == ("pkg/random/__init__.py", "pkg/random/lib/librandom.a")
    assert units["pkg/core/tests/"] == ("pkg/core/tests/test_x.py",)
    assert units["pkg/core/__init__.py"] == ("pkg/core/__init__.py",)
    assert units["pkg.libs/"] == ("pkg.libs/libopenblas.so",)
    assert units["pkg/data.json"] == ("pkg/data.json",)
    grouped = sorted(m for names in units.values() for m in names)
    assert grouped == sorted(candidates)


def test_group_units_generic_patterns() -> None:
    units = group_units(MEMBERS, recipe(), frozenset({"pkg/core/multiarray.py"}))
    assert "pkg/fft/" in units and "pkg.libs/" in units
    assert "pkg/core/multiarray.py" in units and "pkg/" not in units


def test_linked_closure_follows_real_dt_needed() -> None:
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or "/nonexistent")
    ssl_ext = next(iter(sorted(dynload.glob("_ssl.*.so"))), None)
    libssl = Path("/lib/x86_64-linux-gnu/libssl.so.3")
    if ssl_ext is None or not libssl.exists():
        pytest.skip("needs CPython's _ssl extension and libssl.so.3")
    files = {
        "pkg/_ssl.so": ssl_ext.read_bytes(),
        "pkg.libs/libssl.so.3": libssl.read_bytes(),  # needs libcrypto.so.3 in turn
        "pkg.libs/libcrypto.so.3": b"not an ELF",
        "pkg.libs/libunused.so.1": b"",
    }
    closure = linked_closure(["pkg/_ssl.so"], files.__getitem__, files)
    assert closure == {"pkg.libs/libssl.so.3", "pkg.libs/libcrypto.so.3"}
