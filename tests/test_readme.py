"""The README's two quick-start commands are what users and CI run: keep them in step."""

from __future__ import annotations

import re

from conftest import ROOT


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "python -m builder" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert quick_start_commands()[1] in ci.splitlines()


def test_ci_checks_lint_format_and_types_before_the_tests() -> None:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    tests = lines.index(quick_start_commands()[1])
    checks = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"]
    found = [next(i for i, line in enumerate(lines) if line.startswith(c)) for c in checks]
    assert found == sorted(found) and found[-1] < tests
