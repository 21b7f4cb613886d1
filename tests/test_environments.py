"""``builder.environments``: real venvs without pip of their own, populated and inspected through
the one pip prefix (offline: ``--no-index`` and wheels built here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheel_factory import build_wheel

from builder.environments import create_environment, local_wheels
from builder.errors import EnvironmentSetupError
from builder.index.budget import collect
from builder.index.requirements import write_requirements
from builder.runner import run

ABSENT_DEPENDENCY = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: demo-absent\n"


def test_environment_installs_exactly_the_given_wheel(tmp_path: Path) -> None:
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    wheel = build_wheel(tmp_path / "in", files={"demo-1.0.dist-info/METADATA": metadata})
    env = create_environment(tmp_path / "env")
    env.install([str(wheel)], no_index=True)
    assert env.installed() == {"demo": "1.0"}
    out = run([env.python, "-c", "import demo; print(demo.answer())"], echo=False, log=False)
    assert out.output.strip() == "42"
    assert (env.site_packages / "demo" / "core.py").is_file()


def test_installed_names_are_normalised(tmp_path: Path) -> None:
    """pip lists ``Typing_Extensions.x`` as spelt; stack and slim look names up normalised."""
    metadata = b"Metadata-Version: 2.1\nName: Typing_Extensions.x\nVersion: 1.0\n"
    files = {"typing_extensions.x-1.0.dist-info/METADATA": metadata}
    wheel = build_wheel(tmp_path / "in", "typing_extensions.x", files=files)
    env = create_environment(tmp_path / "env")
    env.install([str(wheel)], no_index=True)
    assert env.installed() == {"typing-extensions-x": "1.0"}


def test_environment_install_failure_is_one_line(tmp_path: Path) -> None:
    # --no-index: pip looks only in local find-links directories, where this never exists.
    wheel = build_wheel(tmp_path / "in", files={"demo-1.0.dist-info/METADATA": ABSENT_DEPENDENCY})
    env = create_environment(tmp_path / "env")
    with pytest.raises(EnvironmentSetupError) as info:
        env.install([str(wheel)], no_index=True)
    message = str(info.value)
    assert message.startswith("cannot install demo-1.0-py3-none-any.whl: ")
    assert "demo-absent" in message and "\n" not in message


def test_installed_is_what_the_environment_imports_not_our_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment's interpreter reports what it has; the builder's PYTHONPATH (which pip
    --python would pass on) does not make a distribution look installed."""
    leaked = tmp_path / "leaked" / "leaked_demo-1.0.dist-info"
    leaked.mkdir(parents=True)
    (leaked / "METADATA").write_text("Metadata-Version: 2.1\nName: leaked-demo\nVersion: 1.0\n")
    monkeypatch.setenv("PYTHONPATH", str(leaked.parent))
    env = create_environment(tmp_path / "env")
    assert env.installed() == {}
    env.install([str(build_wheel(tmp_path / "in", requires=()))], no_index=True)
    assert env.installed() == {"demo": "1.0"}


def test_check_reports_what_a_distribution_lacks(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in", files={"demo-1.0.dist-info/METADATA": ABSENT_DEPENDENCY})
    env = create_environment(tmp_path / "env")
    assert env.check() == []
    env.pip("install", "--no-deps", "--no-index", wheel)
    [problem] = env.check()
    assert "demo 1.0 requires demo-absent" in problem


def test_local_wheels_lets_install_find_a_wheel_by_name(tmp_path: Path) -> None:
    build_wheel(tmp_path / "local", requires=())
    env = create_environment(tmp_path / "env")
    with pytest.raises(EnvironmentSetupError, match=r"cannot install demo==1\.0: "):
        env.install(["demo==1.0"], no_index=True)
    with local_wheels(tmp_path / "local"):
        env.install(["demo==1.0"], no_index=True)
    assert env.installed() == {"demo": "1.0"}


def test_requirements_file_installs_exactly_the_pinned_bytes(tmp_path: Path) -> None:
    pinned = build_wheel(tmp_path / "pinned", requires=())
    requirements = write_requirements(tmp_path / "pins.txt", collect([pinned]))
    good = create_environment(tmp_path / "good")
    good.install_requirements_file(requirements, pinned.parent)
    assert good.installed() == {"demo": "1.0"}
    # The same name and version with other bytes: refused, one line.
    build_wheel(tmp_path / "other", requires=(), files={"demo/core.py": b"ANSWER = 0\n"})
    bad = create_environment(tmp_path / "bad")
    with pytest.raises(EnvironmentSetupError) as info:
        bad.install_requirements_file(requirements, tmp_path / "other")
    message = str(info.value)
    assert message.startswith("cannot install -r pins.txt: ") and "\n" not in message
    assert "hash" in message.lower()
    assert bad.installed() == {}
