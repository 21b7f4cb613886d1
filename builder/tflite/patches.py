"""Strict application of unified diffs: every hunk applies exactly, or nothing is written.

Unlike ``patch`` with its default fuzz, a hunk here must find all of its context and removed lines,
verbatim, somewhere in the file (the nearest match to the stated line wins, so upstream line drift
is tolerated but changed lines are not). Patches a tree already carries (the whole series, or a
leading part of it, e.g. a tree patched by an older series: they un-apply exactly) are left
alone, so re-running on a patched tree is safe; anything else is an error naming the patch file,
the target file and the hunk. All patches are checked in memory before the first file is
written.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cache import atomic_path
from ..errors import PatchError

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
APPLIED = "applied"
APPLIES = "applies"
ALREADY_APPLIED = "already applied"


Texts = dict[str, tuple[list[str], bool]]  # path -> (lines, ends with a newline)


@dataclass(frozen=True)
class Hunk:
    number: int  # 1-based, per file
    header: str
    old_start: int
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class FilePatch:
    path: str  # relative to the tree root, the ``a/`` / ``b/`` prefix removed
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True)
class Patch:
    source: Path
    description: str  # the header above the first ``---``: what the patch fixes and why
    files: tuple[FilePatch, ...]

    @property
    def targets(self) -> list[str]:
        return [f.path for f in self.files]


@dataclass(frozen=True)
class PatchOutcome:
    patch: Path
    status: str  # APPLIED or ALREADY_APPLIED
    files: tuple[str, ...]


# -- parsing -------------------------------------------------------------------------------------


def parse_patch(path: Path) -> Patch:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PatchError(f"{path}: cannot read patch: {exc.strerror or exc}") from None
    lines = text.splitlines()
    start = _first_file_header(lines)
    if start is None:
        raise PatchError(f"{path}: not a unified diff (no '--- a/...' / '+++ b/...' header)")
    description = "\n".join(lines[:start]).strip()
    if not description:
        raise PatchError(f"{path}: the patch needs a header saying what it fixes and why")
    files = _parse_files(path, lines, start)
    return Patch(path, description, tuple(files))


def _first_file_header(lines: list[str]) -> int | None:
    for index in range(len(lines) - 1):
        if lines[index].startswith("--- ") and lines[index + 1].startswith("+++ "):
            return index
    return None


def _parse_files(path: Path, lines: list[str], index: int) -> list[FilePatch]:
    files: list[FilePatch] = []
    while index < len(lines):
        line = lines[index]
        if (
            line.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++")
        ):
            target = _target_path(path, line, lines[index + 1])
            hunks, index = _parse_hunks(path, target, lines, index + 2)
            files.append(FilePatch(target, tuple(hunks)))
        elif line.startswith(("diff ", "index ")) or not line.strip():
            index += 1
        else:
            raise PatchError(f"{path}: line {index + 1}: unexpected text outside a hunk: {line!r}")
    return files


def _target_path(path: Path, old_line: str, new_line: str) -> str:
    old = old_line[4:].split("\t", 1)[0].strip()
    new = new_line[4:].split("\t", 1)[0].strip()
    if old == "/dev/null" or new == "/dev/null":
        raise PatchError(f"{path}: creating or deleting files is not supported ({old} -> {new})")
    target = new[2:] if new.startswith("b/") else new
    if target.startswith("/") or ".." in Path(target).parts:
        raise PatchError(f"{path}: unsafe target path {target!r}")
    return target


def _parse_hunks(path: Path, target: str, lines: list[str], index: int) -> tuple[list[Hunk], int]:
    hunks: list[Hunk] = []
    while index < len(lines) and lines[index].startswith("@@"):
        match = HUNK_RE.match(lines[index])
        number = len(hunks) + 1
        if not match:
            raise PatchError(f"{path}: {target}: hunk #{number} has a malformed header")
        old_count = int(match.group(2) or "1")
        new_count = int(match.group(4) or "1")
        old, new, index = _hunk_body(lines, index + 1, old_count, new_count)
        if len(old) != old_count or len(new) != new_count:
            raise PatchError(
                f"{path}: {target}: hunk #{number} ({lines[index - 1]!r}...) line counts do not "
                f"match its header {match.group(0)!r}"
            )
        if not any(line for line in old):
            raise PatchError(f"{path}: {target}: hunk #{number} has no context to anchor it")
        hunks.append(Hunk(number, match.group(0), int(match.group(1)), tuple(old), tuple(new)))
    if not hunks:
        raise PatchError(f"{path}: {target}: no hunks")
    return hunks, index


def _hunk_body(
    lines: list[str], index: int, old_count: int, new_count: int
) -> tuple[list[str], list[str], int]:
    old: list[str] = []
    new: list[str] = []
    while index < len(lines) and (len(old) < old_count or len(new) < new_count):
        line = lines[index]
        if line.startswith("\\"):  # "\ No newline at end of file"
            index += 1
            continue
        tag, body = (line[:1], line[1:]) if line else (" ", "")
        if tag == " ":
            old.append(body)
            new.append(body)
        elif tag == "-":
            old.append(body)
        elif tag == "+":
            new.append(body)
        else:
            break
        index += 1
    while index < len(lines) and lines[index].startswith("\\"):
        index += 1
    return old, new, index


# -- applying ------------------------------------------------------------------------------------


def apply_patches(root: Path, patch_files: Sequence[Path]) -> list[PatchOutcome]:
    """Apply ``patch_files`` in order below ``root``; write nothing unless every hunk applies.

    Patches the tree already carries (a leading part of the series that un-applies exactly,
    last patch first) are left alone and reported as such; any other mismatch raises
    PatchError.
    """
    outcomes, patched, originals = _series(root, patch_files)
    for name, (lines, trailing_newline) in patched.items():
        if lines != originals[name][0]:
            _write(root / name, "\n".join(lines) + ("\n" if trailing_newline else ""))
    return outcomes


def check_patches(root: Path, patch_files: Sequence[Path]) -> list[PatchOutcome]:
    """What ``apply_patches`` would do, worked out in memory: nothing below ``root`` changes.
    Outcomes are ``applies`` or ``already applied``; a patch that cannot apply raises."""
    outcomes, _, _ = _series(root, patch_files)
    return [
        PatchOutcome(o.patch, APPLIES if o.status == APPLIED else o.status, o.files)
        for o in outcomes
    ]


def _series(root: Path, patch_files: Sequence[Path]) -> tuple[list[PatchOutcome], Texts, Texts]:
    """The tree may carry the first N patches of the series already (a tree patched by an
    older series): find the N for which those un-apply exactly and the rest applies."""
    patches = [parse_patch(p) for p in patch_files]
    originals = _read_targets(root, patches)
    full_error: PatchError | None = None
    for done in range(len(patches), -1, -1):
        try:
            _run_series(list(reversed(patches[:done])), originals, reverse=True)
            patched = _run_series(patches[done:], originals, reverse=False)
        except PatchError as exc:
            full_error = exc  # the last one tried is the whole series, forward
            continue
        outcomes = [
            PatchOutcome(p.source, ALREADY_APPLIED, tuple(p.targets)) for p in patches[:done]
        ]
        outcomes += [PatchOutcome(p.source, APPLIED, tuple(p.targets)) for p in patches[done:]]
        return outcomes, patched, originals
    assert full_error is not None
    raise full_error


def _read_targets(root: Path, patches: list[Patch]) -> Texts:
    texts: Texts = {}
    for patch in patches:
        for file_patch in patch.files:
            if file_patch.path not in texts:
                texts[file_patch.path] = _read_lines(root, patch, file_patch)
    return texts


def _run_series(patches: list[Patch], originals: Texts, reverse: bool) -> Texts:
    texts = dict(originals)
    for patch in patches:
        for file_patch in patch.files:
            lines, trailing_newline = texts[file_patch.path]
            texts[file_patch.path] = (
                _apply_file(patch, file_patch, lines, reverse),
                trailing_newline,
            )
    return texts


def _write(target: Path, text: str) -> None:
    mode = stat.S_IMODE(target.stat().st_mode)
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)  # not write_text(newline=): that is 3.10+
    target.chmod(mode)  # after the move: atomic_path gives new files the umask's mode


def _read_lines(root: Path, patch: Patch, file_patch: FilePatch) -> tuple[list[str], bool]:
    target = root / file_patch.path
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PatchError(
            f"{patch.source.name}: target file {file_patch.path} does not exist"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"{patch.source.name}: cannot read {file_patch.path}: {exc}") from None
    return text.splitlines(), text.endswith("\n")


def _apply_file(patch: Patch, file_patch: FilePatch, lines: list[str], reverse: bool) -> list[str]:
    hunks = reversed(file_patch.hunks) if reverse else file_patch.hunks
    offset = 0
    for hunk in hunks:
        find, put = (hunk.new, hunk.old) if reverse else (hunk.old, hunk.new)
        expected = hunk.old_start - 1 + offset
        at = _find(lines, find, expected)
        if at is None:
            raise PatchError(_hunk_failure(patch, file_patch, hunk, lines))
        lines = lines[:at] + list(put) + lines[at + len(find) :]
        offset = at - (hunk.old_start - 1) + len(put) - len(find)
    return lines


def _find(lines: list[str], block: tuple[str, ...], expected: int) -> int | None:
    """The start of the exact ``block`` nearest to line ``expected``, or None."""
    size = len(block)
    if size == 0:
        return None
    first = block[0]
    candidates = [
        i
        for i in range(len(lines) - size + 1)
        if lines[i] == first and tuple(lines[i : i + size]) == block
    ]
    return min(candidates, key=lambda i: abs(i - expected)) if candidates else None


def _hunk_failure(patch: Patch, file_patch: FilePatch, hunk: Hunk, lines: list[str]) -> str:
    where = f"{patch.source.name}: {file_patch.path}: hunk #{hunk.number} ({hunk.header})"
    mismatch = _first_mismatch(lines, hunk)
    return f"{where} does not apply exactly{mismatch}"


def _first_mismatch(lines: list[str], hunk: Hunk) -> str:
    """Name the first hunk line that cannot be found in the file, to make the failure actionable."""
    for line in hunk.old:
        if line.strip() and line not in lines:
            return f": line not found: {line.strip()!r}"
    return ": its lines exist but not in this order"
