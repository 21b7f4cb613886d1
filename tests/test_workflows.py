"""The GitHub Actions workflows: actionlint and zizmor (offline) on every file, plus our rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builder.recipes import project_root

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


def lines() -> list[str]:
    return EDGE_STACK.read_text().splitlines()


def run_scripts() -> list[str]:
    """The text of every ``run:`` step (inline or block)."""
    scripts, current, indent = [], None, 0
    for line in lines():
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if current is not None and stripped and depth <= indent:
            scripts.append("\n".join(current))
            current = None
        match = re.match(r"(?:- )?run:\s*(.*)$", stripped)
        if match and current is None:
            current, indent = [match.group(1)], depth
        elif current is not None:
            current.append(stripped)
    if current is not None:
        scripts.append("\n".join(current))
    return scripts


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    uses = [line for line in lines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    for line in uses:
        assert PINNED_USES_RE.match(line), line


def test_least_privilege_and_no_expressions_in_scripts() -> None:
    text = EDGE_STACK.read_text()
    assert "\npermissions:\n  contents: read" in text
    assert "write" not in "".join(line for line in lines() if "permissions" in line or ":" in line)
    scripts = run_scripts()
    assert len(scripts) >= 8
    for script in scripts:
        assert "${{" not in script, script
    secrets_lines = [line.strip() for line in lines() if "secrets." in line]
    assert secrets_lines == [
        "TWINE_USERNAME: ${{ secrets.PRIVATE_INDEX_USERNAME }}",
        "TWINE_PASSWORD: ${{ secrets.PRIVATE_INDEX_PASSWORD }}",
    ]


def workflow_env(name: str) -> str:
    match = re.search(rf'^  {name}: "?([^"#\s]+)"?', EDGE_STACK.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


def test_the_workflow_commands_accept_its_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """Every matrix platform: the builder plans the tflite-runtime build and renders numpy's
    cibuildwheel settings for exactly the versions the workflow names."""
    from builder.__main__ import main

    text = EDGE_STACK.read_text()
    tf_version, python = workflow_env("TF_VERSION"), workflow_env("PYTHON_VERSION")
    numpy_version = workflow_env("NUMPY_VERSION")
    assert workflow_env("CIBW_BUILD") == "cp" + python.replace(".", "") + "-*"
    for platform in re.findall(r"- platform: (\w+)", text):
        build = ["build", "tflite-runtime", "--tf-version", tf_version, "--platform", platform]
        assert main([*build, "--python", python, "--dry-run"]) == 0, platform
        settings = ["build", "numpy", "--version", numpy_version, "--profile", "size"]
        assert main([*settings, "--platform", platform, "--print-config-settings"]) == 0
        assert "setup-args=-Dblas=none" in capsys.readouterr().out, platform


def test_matrix_builds_slims_verifies_budgets_and_publishes() -> None:
    text = EDGE_STACK.read_text()
    platforms = re.findall(r"- platform: (\w+)", text)
    assert platforms == ["win32", "win_amd64", "linux_x86_64", "linux_aarch64"]
    win32 = text[text.index("- platform: win32") : text.index("- platform: win_amd64")]
    assert "python-arch: x86" in win32 and "cibw-archs: x86" in win32
    assert "CIBW_ARCHS_WINDOWS: ${{ matrix.cibw-archs }}" in text
    scripts = "\n".join(run_scripts())
    # Linux builds run the Dockerfile (manylinux; ENTRYPOINT: the same builder command).
    assert 'docker build --build-arg MANYLINUX_IMAGE="$MANYLINUX_IMAGE"' in scripts
    assert "docker run --rm" in scripts and '--platform "$PLATFORM"' in scripts
    assert "manylinux-image: quay.io/pypa/manylinux_2_28_x86_64" in text
    # numpy is verified on each platform with the tflite-runtime wheel built there.
    assert '--runtime "tflite-runtime==$TF_VERSION"' in scripts
    assert "PIP_FIND_LINKS: ${{ github.workspace }}/dist" in text
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
    publish_job = text[text.index("\n  publish:") :]
    assert "environment:\n      name: private-index" in publish_job
    assert "startsWith(github.ref, 'refs/tags/v')" in publish_job
    assert "github.event_name == 'workflow_dispatch' && inputs.publish" in publish_job
    assert "persist-credentials: false" in text
