"""Publishing verified wheels to a private package index, under a size budget.

Every wheel is validated and measured before anything is uploaded, and every file's fate on the
index is settled before the first upload: a file the index already serves byte for byte is
skipped, a different file under the same name is an error. Uploads go through twine (credentials
the twine way: ``TWINE_USERNAME``/``TWINE_PASSWORD`` or keyring), transient failures (connection
errors, 5xx) are retried with exponential backoff, a 4xx never is. Each upload is checked against
what the index then serves, and ``requirements-edge.txt`` pins every published file by hash.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .cache import atomic_write_text, sha256_file
from .console import info, step, warn
from .dependencies import applies_here
from .errors import CommandError, PublishError
from .runner import run
from .wheelfile import Wheel

DEFAULT_MAX_SIZE = 5_000_000
DEFAULT_REQUIREMENTS = Path("requirements-edge.txt")
DEFAULT_RETRIES = 3
HTTP_TIMEOUT = 60.0
UPLOAD_TIMEOUT = 900.0
USER_AGENT = "tflite-edge-builder-publish"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HTTP_STATUS_RE = re.compile(r"HTTPError: (\d{3})\b")
_TRANSIENT_RE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Timeout|RemoteDisconnected|ProtocolError|"
    r"ChunkedEncodingError|Connection (?:refused|reset|aborted)|Max retries exceeded",
    re.IGNORECASE,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    """A validated wheel about to be published."""

    path: Path
    project: str
    version: Version
    size: int
    sha256: str
    requires: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after a transient failure, waiting ``backoff * 2**n`` s."""

    retries: int = DEFAULT_RETRIES
    backoff: float = 1.0

    def delay(self, attempt: int) -> float:
        return self.backoff * (2**attempt)


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str | None

    def secrets(self) -> tuple[str, ...]:
        # Values this short would mangle ordinary words and protect nothing.
        return tuple(s for s in (self.password, self.username) if s and len(s) >= 4)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class Target:
    repository_url: str
    index_url: str


@dataclass(frozen=True)
class Published:
    candidate: Candidate
    status: str  # "uploaded" or "already-present"


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
            "files": [_file_dict(p.candidate, p.status) for p in self.files],
        }


class _Transient(Exception):
    """A failure worth another attempt (connection trouble, 5xx)."""


class _HttpStatus(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}".strip())
        self.code = code


# -- sizes and budget ----------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """``5000000``, ``5MB``, ``4.5 MiB``, ``800k``: decimal units, ``i`` for binary ones."""
    match = _SIZE_RE.match(text)
    if not match:
        raise PublishError(f"invalid size {text!r} (examples: 5000000, 5MB, 4.5MiB)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = "i" in unit
    factor = _SIZE_UNITS[unit[:1]]
    if binary and factor > 1:
        factor = 1024 ** {"k": 1, "m": 2, "g": 3}[unit[0]]
    size = int(number * factor)
    if size <= 0:
        raise PublishError(f"size {text!r} must be positive")
    return size


def format_size(size: int) -> str:
    if size >= 1000**2:
        return f"{size / 1000**2:.2f} MB ({size} bytes)"
    return f"{size} bytes"


def collect(paths: Iterable[Path]) -> list[Candidate]:
    """Validate every wheel fully; refuse anything that is not a sound wheel."""
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for path in paths:
        path = Path(path)
        if path.suffix != ".whl":
            raise PublishError(f"{path}: only wheels are published (expected a .whl file)")
        if path.name in seen:
            raise PublishError(f"{path.name} is given twice")
        seen.add(path.name)
        wheel = Wheel.open(path)
        size = path.stat().st_size
        digest = sha256_file(path)
        requires = tuple(wheel.requires_dist())
        candidates.append(Candidate(path, wheel.name, wheel.version, size, digest, requires))
    if not candidates:
        raise PublishError("no wheels to publish")
    _check_one_version_per_project(candidates)
    return candidates


def _check_one_version_per_project(candidates: Sequence[Candidate]) -> None:
    versions: dict[str, Version] = {}
    for candidate in candidates:
        known = versions.setdefault(candidate.project, candidate.version)
        if known != candidate.version:
            raise PublishError(
                f"{candidate.project} is given in two versions ({known} and {candidate.version}); "
                "publish one version per project so requirements-edge.txt can pin it"
            )


def check_budget(candidates: Sequence[Candidate], max_size: int) -> None:
    """Refuse the whole batch if any wheel is over ``max_size`` bytes."""
    over = [c for c in candidates if c.size > max_size]
    if over:
        names = ", ".join(f"{c.filename} is {format_size(c.size)}" for c in over)
        raise PublishError(
            f"over the size budget of {format_size(max_size)}: {names}; nothing was uploaded"
        )


def check_only(paths: Iterable[Path], max_size: int = DEFAULT_MAX_SIZE) -> list[Candidate]:
    """Validate the wheels and the size budget without contacting any index."""
    candidates = collect(paths)
    check_budget(candidates, max_size)
    for candidate in candidates:
        info(f"{candidate.filename}: {format_size(candidate.size)}, within budget")
    return candidates


# -- target and credentials ----------------------------------------------------------------------


def make_target(repository_url: str, index_url: str | None = None) -> Target:
    """Validate the upload URL; the index URL defaults to ``<repository>/simple/``."""
    repository_url = _checked_url(repository_url, "--repository-url")
    if index_url is None:
        base = repository_url.rstrip("/")
        if base.endswith("/legacy"):
            base = base[: -len("/legacy")]
        index_url = base + "/simple/"
    index_url = _checked_url(index_url, "--index-url")
    if not index_url.endswith("/"):
        index_url += "/"
    return Target(repository_url, index_url)


def _checked_url(url: str, option: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishError(f"{option} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        # The URL is deliberately not repeated: it carries a secret.
        raise PublishError(
            f"{option} must not contain credentials; set TWINE_USERNAME and TWINE_PASSWORD "
            "(or use keyring) instead"
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        warn(f"{option} uses plain http: credentials and wheels travel unencrypted")
    return url


def read_credentials(repository_url: str, environ: dict[str, str]) -> Credentials:
    """Credentials as twine finds them: environment first, then keyring for this URL."""
    username = environ.get("TWINE_USERNAME") or None
    password = environ.get("TWINE_PASSWORD") or None
    if password is None:
        username, password = _from_keyring(repository_url, username)
    return Credentials(username, password)


def _from_keyring(url: str, username: str | None) -> tuple[str | None, str | None]:
    try:
        import keyring  # twine's dependency; optional here

        if username is None:
            credential = keyring.get_credential(url, None)
            if credential is not None:
                return credential.username, credential.password
            return None, None
        return username, keyring.get_password(url, username)
    except Exception:  # no backend, locked store, missing module: twine will say more
        return username, None


# -- reading the index ---------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


class IndexReader:
    """Reads a PEP 503 simple index: which files a project has, and their bytes' digest."""

    def __init__(self, target: Target, credentials: Credentials, retry: RetryPolicy) -> None:
        self.target = target
        self.credentials = credentials
        self.retry = retry
        self._pages: dict[str, dict[str, str]] = {}

    def served_sha256(self, candidate: Candidate) -> str | None:
        """The sha256 of the file the index serves under the candidate's name, or None."""
        links = self._links(candidate.project)
        url = links.get(candidate.filename)
        if url is None:
            return None
        data = self._get(url)
        if data is None:
            raise PublishError(f"the index lists {candidate.filename} but serves no file at it")
        return hashlib.sha256(data).hexdigest()

    def forget(self, project: str) -> None:
        self._pages.pop(project, None)

    def _links(self, project: str) -> dict[str, str]:
        if project not in self._pages:
            page_url = urllib.parse.urljoin(self.target.index_url, f"{project}/")
            body = self._get(page_url)
            self._pages[project] = {} if body is None else _file_links(page_url, body)
        return self._pages[project]

    def _get(self, url: str) -> bytes | None:
        what = f"read {_display(url)}"
        return _with_retries(what, self.retry, lambda: self._get_once(url), self.credentials)

    def _get_once(self, url: str) -> bytes | None:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        if self._same_host(url) and self.credentials.password is not None:
            token = f"{self.credentials.username or ''}:{self.credentials.password}".encode()
            # Unredirected: the credentials never follow a redirect to another host.
            auth = "Basic " + base64.b64encode(token).decode("ascii")
            request.add_unredirected_header("Authorization", auth)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code >= 500:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
            raise _HttpStatus(exc.code, str(exc.reason)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Transient(str(reason)) from None

    def _same_host(self, url: str) -> bool:
        netloc = urllib.parse.urlsplit(url).netloc
        return netloc in {
            urllib.parse.urlsplit(self.target.repository_url).netloc,
            urllib.parse.urlsplit(self.target.index_url).netloc,
        }


def _file_links(page_url: str, body: bytes) -> dict[str, str]:
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    links: dict[str, str] = {}
    for href in parser.hrefs:
        url = urllib.parse.urldefrag(urllib.parse.urljoin(page_url, href)).url
        name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        if name:
            links[name] = url
    return links


def _display(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _with_retries(
    what: str, retry: RetryPolicy, attempt: Callable[[], T], credentials: Credentials
) -> T:
    for number in range(retry.retries + 1):
        try:
            return attempt()
        except _Transient as exc:
            reason = credentials.redact(str(exc))
            if number == retry.retries:
                tries = f"{retry.retries + 1} attempt" + ("s" if retry.retries else "")
                raise PublishError(f"cannot {what}: {reason} (after {tries})") from None
            delay = retry.delay(number)
            warn(f"cannot {what}: {reason}; retrying in {delay:g} s")
            time.sleep(delay)
        except _HttpStatus as exc:
            raise PublishError(f"cannot {what}: {_status_hint(exc.code, str(exc))}") from None
    raise AssertionError("unreachable")


def _status_hint(code: int, message: str) -> str:
    if code in (401, 403):
        return f"{message}: the index refused the credentials (check TWINE_USERNAME/TWINE_PASSWORD)"
    return message


# -- uploading -----------------------------------------------------------------------------------


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


def upload(
    candidate: Candidate, target: Target, retry: RetryPolicy, credentials: Credentials
) -> str:
    """Upload one wheel with twine; return "uploaded" or "exists" (the index already has it)."""

    def once() -> str:
        return _twine_upload(candidate, target, credentials)

    return _with_retries(f"upload {candidate.filename}", retry, once, credentials)


def _twine_upload(candidate: Candidate, target: Target, credentials: Credentials) -> str:
    cmd = [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        target.repository_url,
        str(candidate.path),
    ]
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    # Whatever was resolved (environment or keyring) reaches twine the twine way.
    if credentials.username is not None:
        env["TWINE_USERNAME"] = credentials.username
    if credentials.password is not None:
        env["TWINE_PASSWORD"] = credentials.password
    try:
        result = run(cmd, env=env, echo=False, check=False, timeout=UPLOAD_TIMEOUT)
    except CommandError as exc:  # could not start, or timed out
        raise _Transient(credentials.redact(str(exc))) from None
    if result.returncode == 0:
        return "uploaded"
    output = credentials.redact(_ANSI_RE.sub("", result.output))
    status = _HTTP_STATUS_RE.search(output)
    if status:
        code = int(status.group(1))
        if code == 409 or (code == 400 and "already exist" in output.lower()):
            return "exists"
        line = _twine_error_line(output)
        if code >= 500:
            raise _Transient(line)
        reason = re.sub(r"^\d{3}\s*", "", line.split(" from ", 1)[0])
        raise _HttpStatus(code, reason)
    if _TRANSIENT_RE.search(output):
        raise _Transient(_twine_error_line(output))
    raise PublishError(f"twine could not upload {candidate.filename}: {_twine_error_line(output)}")


def _twine_error_line(output: str) -> str:
    """The line that says what went wrong, without twine's log level or exception prefix."""
    lines = [re.sub(r"^(ERROR|WARNING)\s+", "", line.strip()) for line in output.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
    return re.sub(r"^\S*HTTPError: ", "", errors[-1])


def publish(
    paths: Sequence[Path],
    repository_url: str,
    *,
    index_url: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    requirements: Path = DEFAULT_REQUIREMENTS,
    retry: RetryPolicy | None = None,
    environ: dict[str, str] | None = None,
) -> PublishResult:
    """Publish ``paths`` to the index and pin them in ``requirements``; see the module doc."""
    retry = retry or RetryPolicy()
    candidates = collect(paths)
    check_budget(candidates, max_size)
    target = make_target(repository_url, index_url)
    credentials = read_credentials(target.repository_url, dict(environ or os.environ))
    reader = IndexReader(target, credentials, retry)
    planned = plan(candidates, reader)
    done = _upload_all(planned, target, retry, credentials, reader)
    write_requirements(requirements, [p.candidate for p in done], target.index_url)
    info(f"wrote {requirements} ({len(done)} file(s) pinned by sha256)")
    return PublishResult(target, max_size, tuple(done), requirements)


def _upload_all(
    planned: Sequence[Published],
    target: Target,
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
            outcome = upload(candidate, target, retry, credentials)
            _confirm(candidate, reader, outcome)
        except PublishError as exc:
            raise PublishError(_partial(str(exc), done)) from None
        status = "uploaded" if outcome == "uploaded" else "already-present"
        done.append(Published(candidate, status))
    return done


def _confirm(candidate: Candidate, reader: IndexReader, outcome: str) -> None:
    """The index must now serve exactly our bytes (also settles an "already exists" race)."""
    reader.forget(candidate.project)
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


# -- requirements-edge.txt -----------------------------------------------------------------------


def requirements_text(candidates: Sequence[Candidate], index_url: str | None = None) -> str:
    """Hash-pinned requirements: one line per project, one ``--hash`` per published file."""
    by_project: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_project.setdefault(candidate.project, []).append(candidate)
    lines = [
        "# Every file published to the private index, pinned by sha256 (pip hash-checking mode).",
        "# Install on an edge machine with:",
        f"#   pip install --index-url {index_url or 'URL'} --require-hashes "
        "-r requirements-edge.txt",
    ]
    for project in sorted(by_project):
        group = by_project[project]
        lines.append(f"{project}=={group[0].version} \\")
        hashes = sorted({c.sha256 for c in group})
        lines.extend(
            f"    --hash=sha256:{h}" + (" \\" if i < len(hashes) - 1 else "")
            for i, h in enumerate(hashes)
        )
    _warn_unpinned_dependencies(candidates, set(by_project))
    return "\n".join(lines) + "\n"


def write_requirements(
    path: Path, candidates: Sequence[Candidate], index_url: str | None = None
) -> None:
    atomic_write_text(path, requirements_text(candidates, index_url))


def _warn_unpinned_dependencies(candidates: Sequence[Candidate], pinned: set[str]) -> None:
    missing: set[str] = set()
    for candidate in candidates:
        for text in candidate.requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if not applies_here(requirement):
                continue
            if canonicalize_name(requirement.name) not in pinned:
                missing.add(canonicalize_name(requirement.name))
    if missing:
        warn(
            "not pinned in requirements-edge.txt, so --require-hashes will refuse to install: "
            + ", ".join(sorted(missing))
        )


def _file_dict(candidate: Candidate, status: str) -> dict[str, object]:
    return {
        "file": candidate.filename,
        "project": candidate.project,
        "version": str(candidate.version),
        "size": candidate.size,
        "sha256": candidate.sha256,
        "status": status,
    }


def candidates_dict(candidates: Sequence[Candidate], max_size: int) -> dict[str, object]:
    return {"max_size": max_size, "files": [_file_dict(c, "within-budget") for c in candidates]}
