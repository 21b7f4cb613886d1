"""``publish``: verified wheels to a private package index, under a size budget, pinned by hash.

Steps, in order, each in its own module:

1. ``budget``: every wheel validated and measured; one over the budget refuses the batch;
2. ``credentials``: the upload and index URLs checked, credentials read the twine way
   (``TWINE_USERNAME``/``TWINE_PASSWORD`` or keyring);
3. ``reader``: every file's fate settled before the first upload: a file the index already
   serves byte for byte is skipped, a different file under the same name is an error;
4. ``upload``: the others uploaded through twine, one request per attempt, transient failures
   (connection errors, 5xx, 429) retried with backoff under one policy, a 4xx never;
5. each upload checked against what the index then serves;
6. ``requirements``: ``requirements-edge.txt`` pins every published file by hash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..console import info, step, warn
from ..dependencies import applies_here
from ..errors import DownloadError, PublishError
from .budget import DEFAULT_MAX_SIZE, Candidate, check_budget, collect, format_size
from .credentials import Credentials, Target, make_target, publish_error, read_credentials
from .http import DEFAULT_RETRY, RetryPolicy
from .reader import IndexReader
from .requirements import REQUIREMENTS, write_requirements
from .upload import upload


@dataclass(frozen=True)
class Published:
    candidate: Candidate
    status: str  # "uploaded" or "already-present" ("upload" while planned)


@dataclass(frozen=True)
class PublishResult:
    target: Target
    max_size: int
    files: tuple[Published, ...]
    requirements: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "repository_url": self.target.repository_url,
            "index_url": self.target.index_url,
            "max_size": self.max_size,
            "requirements": str(self.requirements),
            "files": [p.candidate.to_dict(p.status) for p in self.files],
        }


def publish(
    paths: Sequence[Path],
    repository_url: str,
    *,
    index_url: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    requirements: Path = Path(REQUIREMENTS),
    retry: RetryPolicy | None = None,
    environ: Mapping[str, str] | None = None,
) -> PublishResult:
    """Publish ``paths`` to the index and pin them in ``requirements``; see the module doc."""
    retry = retry or DEFAULT_RETRY
    candidates = collect(paths)
    check_budget(candidates, max_size)
    target = make_target(repository_url, index_url)
    credentials = read_credentials(target.repository_url, environ or os.environ)
    reader = IndexReader(target, credentials, retry)
    planned = plan(candidates, reader)
    done = _upload_all(planned, retry, credentials, reader)
    pinned = [p.candidate for p in done]
    _warn_unpinned_dependencies(pinned)
    write_requirements(requirements, pinned, f"--index-url {target.index_url}")
    info(f"wrote {requirements} ({len(done)} file(s) pinned by sha256)")
    return PublishResult(target, max_size, tuple(done), requirements)


def plan(candidates: Sequence[Candidate], reader: IndexReader) -> list[Published]:
    """Settle every file against the index before uploading any."""
    step(f"checking {len(candidates)} file(s) against {reader.target.index_url}")
    planned = []
    for candidate in candidates:
        served = reader.served_sha256(candidate)
        if served is None:
            planned.append(Published(candidate, "upload"))
        elif served == candidate.sha256:
            planned.append(Published(candidate, "already-present"))
        else:
            raise PublishError(
                f"{candidate.filename} already exists on the index with different content "
                f"(sha256 {served[:12]}…, ours {candidate.sha256[:12]}…); a published file "
                "never changes: bump the version or the local label; nothing was uploaded"
            )
    return planned


def _upload_all(
    planned: Sequence[Published],
    retry: RetryPolicy,
    credentials: Credentials,
    reader: IndexReader,
) -> list[Published]:
    done: list[Published] = []
    for item in planned:
        candidate = item.candidate
        if item.status == "already-present":
            info(f"{candidate.filename}: already on the index, byte-identical; skipped")
            done.append(item)
            continue
        step(f"uploading {candidate.filename} ({format_size(candidate.size)})")
        try:
            outcome = upload(candidate, reader.target, retry, credentials)
            _confirm(candidate, reader, outcome)
        except DownloadError as exc:
            raise PublishError(_partial(str(publish_error(exc, credentials)), done)) from None
        except PublishError as exc:
            raise PublishError(_partial(str(exc), done)) from None
        status = "uploaded" if outcome == "uploaded" else "already-present"
        done.append(Published(candidate, status))
    return done


def _confirm(candidate: Candidate, reader: IndexReader, outcome: str) -> None:
    """The index must now serve exactly our bytes (also settles an "already exists" race)."""
    reader.forget(candidate.name)
    served = reader.served_sha256(candidate)
    if served == candidate.sha256:
        return
    if served is None:
        if outcome == "exists":
            raise PublishError(
                f"the index says {candidate.filename} already exists but does not list it at "
                f"{reader.target.index_url} to compare; pass the right --index-url"
            )
        raise PublishError(
            f"{candidate.filename} was accepted but {reader.target.index_url} does not list it; "
            "pass the right --index-url"
        )
    raise PublishError(
        f"{candidate.filename} already exists on the index with different content "
        f"(sha256 {served[:12]}…, ours {candidate.sha256[:12]}…)"
    )


def _partial(message: str, done: Sequence[Published]) -> str:
    uploaded = [p.candidate.filename for p in done if p.status == "uploaded"]
    if not uploaded:
        return f"{message}; nothing was uploaded"
    return f"{message}; already uploaded: {', '.join(uploaded)} (re-running skips identical files)"


def _warn_unpinned_dependencies(candidates: Sequence[Candidate]) -> None:
    pinned = {c.name for c in candidates}
    missing: set[str] = set()
    for candidate in candidates:
        for text in candidate.requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if applies_here(requirement) and canonicalize_name(requirement.name) not in pinned:
                missing.add(canonicalize_name(requirement.name))
    if missing:
        warn(
            f"not pinned in {REQUIREMENTS}, so --require-hashes will refuse to install: "
            + ", ".join(sorted(missing))
        )
