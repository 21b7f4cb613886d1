"""Where to publish and with which credentials, the twine way.

The upload URL and the index URL are checked (http(s), a host, no credentials inside: those come
from ``TWINE_USERNAME``/``TWINE_PASSWORD`` or keyring, as twine reads them). The credentials are
sent to those two origins only, and redacted from anything shown.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from ..console import warn
from ..errors import DownloadError, PublishError
from .http import BasicAuth, redact


@dataclass(frozen=True)
class Target:
    """The upload endpoint, and the simple index that shows what it already holds."""

    repository_url: str
    index_url: str


@dataclass(frozen=True)
class Credentials:
    """What twine sends; never shown (``redact``), sent to the target's origins only."""

    username: str | None
    password: str | None

    def secrets(self) -> tuple[str | None, ...]:
        return (self.password, self.username)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    def auth_for(self, target: Target) -> BasicAuth | None:
        """Basic auth for the target's own origins, when there is a password to send."""
        if self.password is None:
            return None
        urls = (target.repository_url, target.index_url)
        return BasicAuth.for_urls(self.username or "", self.password, urls)


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


def read_credentials(repository_url: str, environ: Mapping[str, str]) -> Credentials:
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


def publish_error(exc: DownloadError, credentials: Credentials) -> PublishError:
    """A failed request as a publish error; a 401 or 403 says which credentials to check."""
    message = credentials.redact(str(exc))
    if exc.status in (401, 403):
        message += ": the index refused the credentials (check TWINE_USERNAME/TWINE_PASSWORD)"
    return PublishError(message)
