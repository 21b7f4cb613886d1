"""builder.console: messages are plain text, never rich markup."""

from __future__ import annotations

import pytest

from builder.console import info, step, warn


def test_brackets_in_messages_are_printed_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    warn("recipes/numpy.toml has no [slim] section")
    info("kept [[build.numpy]] as is")
    step("slimming numpy-[red]x")
    err = capsys.readouterr().err
    assert "warning: recipes/numpy.toml has no [slim] section" in err
    assert "kept [[build.numpy]] as is" in err
    assert "==> slimming numpy-[red]x" in err
