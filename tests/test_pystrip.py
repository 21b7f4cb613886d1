"""builder.pystrip: docstrings blanked, comments dropped, the code otherwise unchanged."""

from __future__ import annotations

import ast
import textwrap

from builder.pystrip import strip_source

SOURCE = textwrap.dedent(
    '''\
    #!/usr/bin/env python
    # -*- coding: utf-8 -*-
    """Module docstring,
    over three lines."""
    from __future__ import annotations

    import functools  # a trailing comment

    # a comment on its own line
    GREETING = "# not a comment"


    class Thing:
        """Class doc."""

        def method(self):
            """Méthode: non-ASCII before the end."""  # and a comment
            return "é" + """not a docstring"""

        async def other(self):
            u"""Prefixed."""; value = 1
            return value


    def dispatcher(a, b=None):
        """Read through __doc__ by code (numpy's docs_from_dispatcher)."""
        return (a, b)


    def body_is_only_a_docstring():
        """Only this."""
    '''
)


def _namespace(text: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(text, "<stripped>", "exec"), namespace)
    return namespace


def test_docstrings_are_blank_and_comments_gone() -> None:
    stripped = strip_source(SOURCE)
    assert stripped is not None
    assert "Module docstring" not in stripped and "Class doc" not in stripped
    assert "a trailing comment" not in stripped and "on its own line" not in stripped
    assert "and a comment" not in stripped
    # what the code means stays: strings that look like comments, non-docstring strings
    assert 'GREETING = "# not a comment"' in stripped
    assert '"""not a docstring"""' in stripped
    assert len(stripped) < len(SOURCE) * 0.8


def test_shebang_and_encoding_declaration_stay() -> None:
    stripped = strip_source(SOURCE)
    assert stripped is not None
    assert stripped.splitlines()[:2] == ["#!/usr/bin/env python", "# -*- coding: utf-8 -*-"]


def test_line_numbers_are_kept() -> None:
    stripped = strip_source(SOURCE)
    assert stripped is not None
    assert len(stripped.splitlines()) == len(SOURCE.splitlines())
    for original, new in zip(SOURCE.splitlines(), stripped.splitlines()):
        if original.lstrip().startswith(("def ", "class ", "return ", "async def ")):
            assert new == original


def test_docstrings_are_empty_strings_not_none() -> None:
    stripped = strip_source(SOURCE)
    assert stripped is not None
    namespace = _namespace(stripped)
    assert namespace["__doc__"] == ""
    for name in ("Thing", "dispatcher", "body_is_only_a_docstring"):
        assert getattr(namespace[name], "__doc__") == ""  # noqa: B009
    thing = namespace["Thing"]
    assert thing.method.__doc__ == ""  # type: ignore[attr-defined]
    assert thing.other.__doc__ == ""  # type: ignore[attr-defined]


def test_the_syntax_tree_is_the_original_with_blank_docstrings() -> None:
    stripped = strip_source(SOURCE)
    assert stripped is not None
    original = ast.parse(SOURCE)
    for node in ast.walk(original):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first.value.value, first.value.kind = "", None
    assert ast.dump(ast.parse(stripped)) == ast.dump(original)


def test_source_this_interpreter_cannot_parse_is_left_alone() -> None:
    assert strip_source("def broken(:\n    pass\n") is None


def test_a_file_without_docstrings_or_comments_is_unchanged() -> None:
    text = "x = 1\n\n\ndef f():\n    return x\n"
    assert strip_source(text) == text
