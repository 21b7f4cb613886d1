"""Strict patch application, and every shipped tflite-runtime patch against a TF-shaped tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fake_tensorflow import CMAKELISTS, SCRIPT, make_tree

from builder.tflite.patches import ALREADY_APPLIED, APPLIED, PatchError, apply_patches, parse_patch
from builder.tflite.recipe import load_tflite_recipe, patches_root

RECIPE = load_tflite_recipe()
VERSIONS = sorted(RECIPE.versions)


def _patches(version: str) -> tuple[Path, ...]:
    return RECIPE.versions[version].patches


def _snapshot(root: Path) -> dict[str, str]:
    return {n: (root / n).read_text() for n in (SCRIPT, CMAKELISTS)}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_patch_applies_to_its_version(tmp_path: Path, version: str) -> None:
    tree = make_tree(tmp_path, version)
    outcomes = apply_patches(tree, _patches(version))
    assert [o.status for o in outcomes] == [APPLIED] * len(_patches(version))
    script = (tree / SCRIPT).read_text()
    assert "git -C" not in script
    assert "__git_version__ = '${TFLITE_GIT_VERSION:?" in script
    assert 'BUILD_NUM_JOBS="${BUILD_NUM_JOBS:-4}"' in script
    assert 'CMAKE_CONFIGURE_ARGS+=(-A "${TFLITE_CMAKE_GENERATOR_PLATFORM}")' in script
    assert 'CMAKE_CONFIGURE_ARGS+=(-C "${TFLITE_CMAKE_INITIAL_CACHE}")' in script
    assert '  cmake "${CMAKE_CONFIGURE_ARGS[@]}" "${TENSORFLOW_LITE_DIR}"' in script  # host tools
    assert script.count('"${CMAKE_CONFIGURE_ARGS[@]}"') == 2  # host tools + main configure
    assert script.count('--config "${TFLITE_CMAKE_BUILD_CONFIG:-Release}"') == 2
    assert 'cp "${BUILT_MODULE_DIR}/_pywrap_tensorflow_interpreter_wrapper' in script
    cmake = (tree / CMAKELISTS).read_text()
    assert 'PROPERTIES SUFFIX ".pyd")' in cmake
    subprocess.run(["bash", "-n", str(tree / SCRIPT)], check=True)
    assert (tree / SCRIPT).stat().st_mode & 0o111, "the script keeps its executable bit"


@pytest.mark.parametrize("version", VERSIONS)
def test_gnu_patch_agrees_without_fuzz(tmp_path: Path, version: str) -> None:
    if shutil.which("patch") is None:
        pytest.skip("GNU patch is not installed")
    ours = make_tree(tmp_path / "ours", version)
    theirs = make_tree(tmp_path / "theirs", version)
    apply_patches(ours, _patches(version))
    for patch in _patches(version):
        subprocess.run(
            ["patch", "-p1", "--fuzz=0", "--forward", "--batch", "--quiet", "-i", str(patch)],
            cwd=theirs,
            check=True,
        )
    assert _snapshot(ours) == _snapshot(theirs)


def test_reapplying_the_series_changes_nothing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.16.1")
    apply_patches(tree, _patches("2.16.1"))
    patched = _snapshot(tree)
    outcomes = apply_patches(tree, _patches("2.16.1"))
    assert {o.status for o in outcomes} == {ALREADY_APPLIED}
    assert _snapshot(tree) == patched


def test_drifted_context_names_file_and_hunk_and_writes_nothing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.16.1")
    script = tree / SCRIPT
    drifted = script.read_text().replace("esac\n\ncp ", "esac\n\n# upstream moved this\ncp ", 1)
    script.write_text(drifted)
    before = _snapshot(tree)
    with pytest.raises(PatchError) as excinfo:
        apply_patches(tree, _patches("2.16.1"))
    message = str(excinfo.value)
    assert message.startswith(f"0005-release-config.patch: {SCRIPT}: hunk #3 (@@ ")
    assert "does not apply exactly" in message
    assert _snapshot(tree) == before  # 0001-0004 applied in memory only


def test_changed_line_is_not_fuzzed(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.20.0")
    script = tree / SCRIPT
    script.write_text(script.read_text().replace("-t flatbuffers-flatc", "-t flatc"))
    # 0003 uses that line as context: a one-token change is enough to stop it.
    expected = (
        r"0003-cmake-generator-platform.patch: .* hunk #2 .*line not found: .*flatbuffers-flatc"
    )
    with pytest.raises(PatchError, match=expected):
        apply_patches(tree, _patches("2.20.0"))


def test_patch_for_the_wrong_version_fails(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.20.0")
    with pytest.raises(PatchError, match=r"0002-default-build-jobs.patch: .* hunk #1"):
        apply_patches(tree, _patches("2.16.1"))


def test_missing_target_file(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, "2.16.1")
    (tree / CMAKELISTS).unlink()
    with pytest.raises(PatchError, match=f"target file {CMAKELISTS} does not exist"):
        apply_patches(tree, _patches("2.16.1"))


def _write_patch(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_malformed_patches_are_refused(tmp_path: Path) -> None:
    body = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    with pytest.raises(PatchError, match="needs a header"):
        parse_patch(_write_patch(tmp_path / "bare.patch", body))
    with pytest.raises(PatchError, match=r"hunk #1 .* line counts do not match"):
        parse_patch(
            _write_patch(tmp_path / "count.patch", "Fix.\n\n" + body.replace("-1,2", "-1,3"))
        )
    with pytest.raises(PatchError, match="not a unified diff"):
        parse_patch(_write_patch(tmp_path / "none.patch", "just text\n"))
    escape = "Fix.\n\n--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(PatchError, match="unsafe target path"):
        parse_patch(_write_patch(tmp_path / "escape.patch", escape))


def test_hunk_applies_at_an_offset(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("new first line\na\nb\nc\n")
    patch = _write_patch(
        tmp_path / "p.patch",
        "Change b.\n\n--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
    )
    assert apply_patches(tmp_path, [patch])[0].status == APPLIED
    assert (tmp_path / "f.txt").read_text() == "new first line\na\nB\nc\n"


def test_shipped_patches_have_headers_and_are_all_used() -> None:
    listed = {p for v in RECIPE.versions.values() for p in v.patches}
    on_disk = set(patches_root().glob("*/*.patch"))
    assert listed == on_disk
    for path in on_disk:
        patch = parse_patch(path)
        assert len(patch.description.splitlines()) >= 3, f"{path.name}: say what and why"
        assert path.parent.name in patch.description, f"{path.name}: name the TF version"


def test_a_tree_patched_by_an_older_series_gets_only_the_rest(tmp_path: Path) -> None:
    """A tree that carries the first patches of the series (an older, shorter series) keeps
    them and receives the others; the result is the whole series applied once."""
    patches = _patches("2.21.0")
    older = make_tree(tmp_path / "older", "2.21.0")
    apply_patches(older, patches[:5])
    outcomes = apply_patches(older, patches)
    assert [o.status for o in outcomes] == [ALREADY_APPLIED] * 5 + [APPLIED] * (len(patches) - 5)
    fresh = make_tree(tmp_path / "fresh", "2.21.0")
    apply_patches(fresh, patches)
    wrapper = "tensorflow/lite/python/interpreter_wrapper/interpreter_wrapper.cc"
    for name in (SCRIPT, CMAKELISTS, wrapper):
        assert (older / name).read_text() == (fresh / name).read_text(), name
    assert "#ifdef TFLITE_EDGE_SELECTED_OPS" in (fresh / wrapper).read_text()
    assert "if(TFLITE_EDGE_SELECTED_OPS_SOURCE)" in (fresh / CMAKELISTS).read_text()
