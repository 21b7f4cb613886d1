"""The one HTTP layer: every request and download the builder itself makes goes through here
(pip, which fetches wheels, and twine, which uploads them, make their own).

* ``get``: one GET with an ``Accept`` header, Basic auth for the credentials' own origin only;
* ``download``: streamed to a temporary file beside the target (a rich progress bar while it
  runs), sha256 computed on the way and checked when one is expected, then moved into place;
* ``download_cached``: the cached file when it still has the expected sha256, else (moved aside,
  with one warning line, when it exists: ``builder.cache.cached_file_ok``) ``download``;
* ``retrying``: the one retry loop, under one ``RetryPolicy``: connection errors, timeouts, 5xx
  and 429 are retried with exponential backoff; anything else is final at once. Uploads through
  twine (``builder.index.upload``) use the same loop.

Every failure ends as one ``DownloadError`` line naming the URL (never its credentials), what
went wrong and, when it was retried, after how many attempts.

Why urllib and not requests (which only twine brings along): the builder needs nothing but GET,
and with urllib an "unredirected" Authorization header is dropped on every redirect, so
credentials cannot follow one to another host; ``_Redirects`` gives them back only on a redirect
within their own origin (scheme, host and port).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from .. import __version__
from ..cache import atomic_path, cached_file_ok
from ..console import console, step, warn
from ..errors import DownloadError

TIMEOUT = 60.0
CHUNK = 1 << 20
USER_AGENT = f"tflite-edge-builder/{__version__}"
# Secrets shorter than this would mangle ordinary words when redacted and protect nothing.
MIN_SECRET = 4

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after a transient failure, waiting ``backoff * 2**n`` s."""

    retries: int = 3
    backoff: float = 1.0

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def delay(self, attempt: int) -> float:
        return self.backoff * 2.0**attempt

    def describe(self) -> str:
        return f"{self.attempts} attempt" + ("s" if self.attempts > 1 else "")

    @staticmethod
    def retries_status(status: int) -> bool:
        """5xx (the server's trouble) and 429 (too many requests) may pass; other codes stay."""
        return status >= 500 or status == 429


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class BasicAuth:
    """Credentials for some origins (``scheme://host:port``) only, never for any other."""

    username: str
    password: str
    origins: frozenset[str]

    @classmethod
    def for_urls(cls, username: str, password: str, urls: Collection[str]) -> BasicAuth:
        return cls(username, password, frozenset(origin(url) for url in urls))

    def covers(self, url: str) -> bool:
        return origin(url) in self.origins

    def header(self) -> str:
        token = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    def redact(self, text: str) -> str:
        return redact(text, (self.password, self.username))


@dataclass(frozen=True)
class Response:
    url: str
    body: bytes
    content_type: str


class Transient(Exception):
    """A failure worth another attempt: connection trouble, a timeout, 5xx, 429."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class Final(Exception):
    """A failure no retry changes (a 4xx, a missing local file)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


def redact(text: str, secrets: Collection[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            text = text.replace(secret, "***")
    return text


def display(url: str) -> str:
    """``url`` as it may be shown: no credentials, no query, no fragment."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def split_credentials(url: str) -> tuple[str, BasicAuth | None]:
    """``https://user:pw@host/simple`` as the URL without them, and Basic auth for that origin."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    bare = urllib.parse.urlunsplit(parts._replace(netloc=host))
    auth = BasicAuth.for_urls(urllib.parse.unquote(user), urllib.parse.unquote(password), [bare])
    return bare, auth


# -- the retry loop ------------------------------------------------------------------------------


def retrying(
    what: str,
    attempt: Callable[[], T],
    retry: RetryPolicy | None = None,
    secrets: Collection[str | None] = (),
) -> T:
    """``attempt()`` until it succeeds, fails finally, or the policy's attempts are used up."""
    retry = retry or DEFAULT_RETRY
    for number in range(retry.attempts):
        try:
            return attempt()
        except Transient as exc:
            reason = redact(str(exc), secrets)
            if number + 1 == retry.attempts:
                message = f"cannot {what}: {reason} (after {retry.describe()})"
                raise DownloadError(message, exc.status) from None
            delay = retry.delay(number)
            warn(f"cannot {what}: {reason}; retrying in {delay:g} s")
            time.sleep(delay)
        except Final as exc:
            raise DownloadError(f"cannot {what}: {redact(str(exc), secrets)}", exc.status) from None
    raise AssertionError("unreachable: a policy makes at least one attempt")


# -- requests ------------------------------------------------------------------------------------


def get(
    url: str,
    *,
    accept: str | None = None,
    auth: BasicAuth | None = None,
    retry: RetryPolicy | None = None,
) -> Response:
    """GET ``url``; a 404 is an error like any other 4xx (see ``get_if_exists``)."""

    def once() -> Response:
        with _open(url, accept, auth) as response:
            body = response.read()
            return Response(response.geturl(), body, response.headers.get("Content-Type", ""))

    return retrying(f"read {display(url)}", lambda: _classified(url, once), retry, _secrets(auth))


def get_if_exists(
    url: str,
    *,
    accept: str | None = None,
    auth: BasicAuth | None = None,
    retry: RetryPolicy | None = None,
) -> Response | None:
    """Like ``get``, but None where the server answers 404 (the index lists no such thing)."""
    try:
        return get(url, accept=accept, auth=auth, retry=retry)
    except DownloadError as exc:
        if exc.status == 404:
            return None
        raise


def download(
    url: str,
    target: Path,
    sha256: str | None = None,
    *,
    auth: BasicAuth | None = None,
    retry: RetryPolicy | None = None,
    pinned_by: str = "expected",
) -> Path:
    """Fetch ``url`` to ``target`` atomically; with ``sha256`` the bytes must have that digest
    (else nothing is written and the message names ``pinned_by``: "the index's", "the recipe")."""
    what = f"download {display(url)}"
    step(what.replace("download", "downloading", 1))
    with atomic_path(target) as tmp:

        def once() -> str:
            with _open(url, None, auth) as response, open(tmp, "wb") as out:
                return _stream(response, out, target.name)

        actual = retrying(what, lambda: _classified(url, once), retry, _secrets(auth))
        if sha256 is not None and actual != sha256:
            raise DownloadError(
                f"{target.name}: sha256 {actual} does not match the {pinned_by} {sha256}"
            )
    return target


def download_cached(
    url: str,
    target: Path,
    sha256: str,
    *,
    auth: BasicAuth | None = None,
    retry: RetryPolicy | None = None,
    pinned_by: str = "expected",
) -> Path:
    """``target`` when it exists and still has ``sha256``; otherwise a fresh, checked download
    replaces it (a cached file that fails the check is quarantined first). A cache entry is
    trusted only through this check."""
    if cached_file_ok(target, sha256, pinned_by):
        step(f"{target.name}: cached, sha256 matches the {pinned_by} value")
        return target
    return download(url, target, sha256, auth=auth, retry=retry, pinned_by=pinned_by)


# -- helpers -------------------------------------------------------------------------------------


def _secrets(auth: BasicAuth | None) -> tuple[str, ...]:
    return (auth.password, auth.username) if auth else ()


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib drops an unredirected header on every redirect; give it back to its own origin."""

    def __init__(self, auth: BasicAuth | None) -> None:
        self.auth = auth

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and self.auth is not None and self.auth.covers(newurl):
            new.add_unredirected_header("Authorization", self.auth.header())
        return new


def _open(url: str, accept: str | None, auth: BasicAuth | None) -> Any:
    """The open response: an ``http.client.HTTPResponse``, or for file:// an ``addinfourl``."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if accept:
        request.add_header("Accept", accept)
    if auth is not None and auth.covers(url):
        request.add_unredirected_header("Authorization", auth.header())
    opener = urllib.request.build_opener(_Redirects(auth))
    return opener.open(request, timeout=TIMEOUT)


def _classified(url: str, attempt: Callable[[], T]) -> T:
    """Run one attempt, sorting its failure into ``Transient`` or ``Final``."""
    remote = urllib.parse.urlsplit(url).scheme in ("http", "https")
    try:
        return attempt()
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}".strip()
        if RetryPolicy.retries_status(exc.code):
            raise Transient(reason, exc.code) from None
        raise Final(reason, exc.code) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        cause = getattr(exc, "reason", None) or exc
        reason = str(cause) or type(cause).__name__
        if remote and not isinstance(cause, ssl.CertificateError):
            raise Transient(reason) from None  # refused or reset, a timeout, a truncated answer
        raise Final(reason) from None  # a certificate refused; file://: a missing local file


def _stream(response: Any, out: BinaryIO, name: str) -> str:
    """Copy the body to ``out`` under a progress bar; return its sha256. A body shorter than its
    Content-Length is transient: ``read(n)`` of http.client returns what came, without error."""
    total = int(response.headers.get("Content-Length") or 0) or None
    digest, received = hashlib.sha256(), 0
    columns = (*Progress.get_default_columns()[:1], BarColumn(), DownloadColumn())
    with Progress(*columns, TransferSpeedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"downloading {name}", total=total)
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)
            digest.update(block)
            received += len(block)
            progress.advance(task, len(block))
    if total is not None and received != total:
        raise Transient(f"the connection closed after {received} of {total} bytes")
    return digest.hexdigest()
