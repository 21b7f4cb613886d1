"""Docstrings and comments out of Python source, for wheels that only run code.

``strip_source`` blanks every docstring (module, class, function) to ``""`` and drops every
comment except a shebang or an encoding declaration on the first two lines. A docstring is
blanked, never removed: code that reads ``__doc__`` then still gets a ``str`` (numpy's
``array_function_dispatch(..., docs_from_dispatcher=True)`` passes ``dispatcher.__doc__`` to
``add_docstring``, which refuses ``None``: removing the docstrings of ``numpy/core/multiarray.py``
breaks ``import numpy``, blanking them does not). Line numbers are kept (a multi-line docstring
leaves its newlines behind), so a traceback still points at upstream's lines.

The result is proven, not trusted: it must parse to the same syntax tree as the source with its
docstrings blanked, or the file is left as it was (``None``). Whether blank docstrings are fine
for the code that runs is a question for the slimmer's oracle, file by file (``builder.slim``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

DocNode = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# PEP 263: an encoding declaration on line 1 or 2 changes how the file is decoded.
CODING_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")


def strip_source(text: str) -> str | None:
    """``text`` without comments and with blank docstrings, or None where that cannot be done
    safely (a syntax this interpreter cannot parse, or a result whose syntax tree differs)."""
    try:
        tree = ast.parse(text)
        comments = _comment_columns(text)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None
    lines = text.splitlines(keepends=True)
    for row, column in comments.items():
        lines[row - 1] = _without_comment(lines[row - 1], column)
    for node in sorted(_docstrings(tree), key=lambda n: n.lineno, reverse=True):
        _blank(lines, node)
    stripped = "".join(lines)
    if not _same_tree(stripped, tree):
        return None
    return stripped


def _comment_columns(text: str) -> dict[int, int]:
    """Row -> column (in characters) of each comment, except those that must stay."""
    columns = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.COMMENT:
            continue
        row, column = token.start
        if row <= 2 and (token.string.startswith("#!") or CODING_RE.match(token.line)):
            continue
        columns[row] = column
    return columns


def _without_comment(line: str, column: int) -> str:
    ending = line[len(line.rstrip("\r\n")) :]
    return line[:column].rstrip() + ending


def _docstrings(tree: ast.AST) -> list[ast.Expr]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, DocNode) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.append(first)
    return found


def _blank(lines: list[str], node: ast.Expr) -> None:
    """Replace the docstring's text by ``""``; the newlines it spanned follow its last line."""
    assert node.end_lineno is not None and node.end_col_offset is not None
    first, last = node.lineno - 1, node.end_lineno - 1
    start = _char_column(lines[first], node.col_offset)
    end = _char_column(lines[last], node.end_col_offset)
    rest = lines[last][end:]
    body = rest.rstrip("\r\n")
    ending = rest[len(body) :] or "\n"
    lines[first : last + 1] = [lines[first][:start] + '""' + body + ending * (last - first + 1)]


def _char_column(line: str, byte_offset: int) -> int:
    """ast counts columns in UTF-8 bytes, str slicing in characters."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


def _same_tree(stripped: str, original: ast.AST) -> bool:
    try:
        new = ast.parse(stripped)
    except SyntaxError:
        return False
    for node in _docstrings(original):
        assert isinstance(node.value, ast.Constant)
        node.value.value, node.value.kind = "", None
    return ast.dump(new) == ast.dump(original)
