"""builder.slim_recipe: the real numpy recipe, recipe mistakes as one clear RecipeError, globs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, cli
from packaging.version import Version
from wheel_factory import build_wheel

from builder.errors import RecipeError, WheelError
from builder.pypi import download_wheel
from builder.slim_recipe import SourceEdit, glob_match, load_slim_recipe
from builder.wheelfile import Wheel


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "recipes"
    directory.mkdir()
    shutil.copy(ROOT / "recipes" / "runtimes.toml", directory)
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_RECIPES", str(directory))
    return directory


def test_numpy_1_26_recipe() -> None:
    recipe = load_slim_recipe("numpy", Version("1.26.4"))
    assert not recipe.generic and recipe.strip
    files = {edit.file for edit in recipe.edits}
    assert {"numpy/__init__.py", "numpy/core/_add_newdocs.py"} <= files
    assert recipe.is_dropped("numpy/core/tests/test_api.py")
    assert recipe.is_dropped("numpy/core/include/numpy/ndarrayobject.h")
    assert not recipe.is_dropped("numpy/core/multiarray.py")
    assert recipe.is_kept("numpy-1.26.4.dist-info/METADATA")
    assert recipe.is_kept("numpy-1.26.4.dist-info/LICENSE.txt")
    assert recipe.is_kept("numpy/LICENSE.txt")  # licences are kept whatever the recipe says


def test_numpy_2_recipe_has_no_lazy_import_edits() -> None:
    recipe = load_slim_recipe("numpy", Version("2.2.6"))
    assert "numpy/__init__.py" not in {edit.file for edit in recipe.edits}
    assert "numpy/core/_add_newdocs.py" not in {edit.file for edit in recipe.edits}


def test_numpy_edits_apply_once_to_their_text() -> None:
    edit = SourceEdit("m.py", "import a\n", "", "why")
    assert edit.apply("x = 1\nimport a\n", "w.whl") == "x = 1\n"
    with pytest.raises(WheelError, match="text not found"):
        edit.apply("x = 1\n", "w.whl")
    with pytest.raises(WheelError, match="found 2 times"):
        edit.apply("import a\nimport a\n", "w.whl")


@pytest.mark.network
@pytest.mark.parametrize("version", ["1.26.4", "2.2.6", "2.4.6"])
def test_numpy_edits_apply_to_the_real_wheels(version: str) -> None:
    """Every edit selected for a release applies to that release's files (2.2 and 2.3 spell the
    linalg import of lib/_polynomial_impl.py differently)."""
    wheel = Wheel.open(download_wheel(f"numpy=={version}"))
    recipe = load_slim_recipe("numpy", wheel.version)
    edited: dict[str, str] = {}
    for edit in recipe.edits:
        before = edited.get(edit.file) or wheel.read_text(edit.file)
        edited[edit.file] = edit.apply(before, wheel.filename)
        assert edited[edit.file] != before
    assert "numpy/lib/_polynomial_impl.py" in edited or version.startswith("1.")


def test_no_recipe_is_generic(recipes: Path) -> None:
    assert load_slim_recipe("demo", Version("1.0")).generic
    (recipes / "demo.toml").write_text("[build]\nx = 1\n")
    assert load_slim_recipe("demo", Version("1.0")).generic


BAD_RECIPES = [
    ("[slim]\nkepp = []\n", "slim.kepp is not a known key"),
    ("[slim]\nkeep = 'numpy/**'\n", "slim.keep must be a list"),
    ("[slim]\nkeep = [1]\n", "slim.keep must be a list of strings"),
    ("[[slim.rules]]\nversions = 'one point oh'\nkeep = []\n", "versions is not a specifier"),
    ("[[slim.edit]]\nversions = '>=1'\nfile = 'a.py'\nold = 'x'\n", "slim.edit[0].why is required"),
    (
        "[[slim.edit]]\nfile = 'a.py'\nold = 'x'\nwhy = 'y'\ntypo = 1\n",
        "edit[0].typo is not a known",
    ),
    (
        "[[slim.dependency]]\naction = 'add'\nrequirement = 'x'\nevidence = 'y'\n",
        "action must be 'pin' or 'drop'",
    ),
    ("[slim\n", "invalid TOML"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_RECIPES)
def test_bad_recipe_is_one_recipe_error(recipes: Path, text: str, fragment: str) -> None:
    (recipes / "demo.toml").write_text(text)
    with pytest.raises(RecipeError) as info:
        load_slim_recipe("demo", Version("1.0"))
    assert fragment in str(info.value)
    assert str(recipes / "demo.toml") in str(info.value)


def test_bad_recipe_through_the_cli(recipes: Path, tmp_path: Path) -> None:
    (recipes / "demo.toml").write_text(BAD_RECIPES[3][0])
    wheel = build_wheel(tmp_path / "in")
    out = tmp_path / "out"
    proc = cli("slim", "demo", "--wheel", wheel, "--out", out, cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert "versions is not a specifier" in line
    assert not out.exists()


def test_rules_and_edits_select_by_version(recipes: Path) -> None:
    (recipes / "demo.toml").write_text(
        "[slim]\nkeep = ['demo/keep.py']\n"
        "[[slim.rules]]\nversions = '<2'\ndrop = ['demo/old/**']\n"
        "[[slim.rules]]\nversions = '>=2'\ndrop = ['demo/new/**']\n"
        "[[slim.edit]]\nversions = '>=2'\nfile = 'demo/__init__.py'\nold = 'a'\nwhy = 'w'\n"
    )
    old = load_slim_recipe("demo", Version("1.5"))
    new = load_slim_recipe("demo", Version("2.1rc1"))  # pre-releases match their range
    assert old.drop == ("demo/old/**",) and old.edits == ()
    assert new.drop == ("demo/new/**",) and [e.file for e in new.edits] == ["demo/__init__.py"]
    assert old.is_kept("demo/keep.py") and not old.is_dropped("demo/keep.py")


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("numpy/*/", "numpy/fft/", True),
        ("numpy/*/", "numpy/fft/helper/", False),
        ("numpy/**/tests/**", "numpy/tests/test_a.py", True),
        ("numpy/**/tests/**", "numpy/core/tests/data/x.csv", True),
        ("numpy/**/tests/**", "numpy/testsuite.py", False),
        ("**/LICENSE*", "LICENSE.txt", True),
        ("**/LICENSE*", "numpy/core/LICENSE", True),
        ("numpy/**/*.pyi", "numpy/__init__.pyi", True),
        ("numpy/*.py", "numpy/core/a.py", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("numpy.libs/", "numpy.libs/", True),
        ("numpy.libs/", "numpyXlibs/", False),  # dots are literal
        ("*.dist-info/licenses/**", "numpy-1.26.4.dist-info/licenses/LICENSE.txt", True),
    ],
)
def test_glob_match(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches
