"""One wheel uploaded through twine, under the one retry policy of ``builder.index.http``.

twine runs as ``python -m builder.index.twine_once``: twine with its own retries turned off, so
each of our attempts is exactly one request to the index and the attempts a failure message
states are the requests the index received (with twine's retries inside ours, 4 attempts made
20 POSTs). twine has no Python API it calls public, so it runs as a command and its output is
read: the ``HTTPError: NNN`` line twine prints for a refused upload, or a connection error.
A 409 (or a 400 saying "already exists") means the index already has the file.
"""

from __future__ import annotations

import re
import sys

from ..errors import CommandError, PublishError
from ..runner import run
from .budget import Candidate
from .credentials import Credentials, Target
from .http import Final, RetryPolicy, Transient, retrying

UPLOAD_TIMEOUT = 900.0

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HTTP_STATUS_RE = re.compile(r"HTTPError: (\d{3})\b")
_TRANSIENT_RE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Timeout|RemoteDisconnected|ProtocolError|"
    r"ChunkedEncodingError|Connection (?:refused|reset|aborted)|Max retries exceeded",
    re.IGNORECASE,
)


def upload(
    candidate: Candidate, target: Target, retry: RetryPolicy, credentials: Credentials
) -> str:
    """Upload one wheel; return "uploaded", or "exists" where the index already has the file."""

    def once() -> str:
        return _twine_upload(candidate, target, credentials)

    return retrying(f"upload {candidate.filename}", once, retry, credentials.secrets())


def _twine_upload(candidate: Candidate, target: Target, credentials: Credentials) -> str:
    cmd = [sys.executable, "-m", "builder.index.twine_once", "upload", "--non-interactive"]
    cmd += ["--disable-progress-bar", "--repository-url", target.repository_url]
    cmd.append(str(candidate.path))
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    # Whatever was resolved (environment or keyring) reaches twine the twine way.
    if credentials.username is not None:
        env["TWINE_USERNAME"] = credentials.username
    if credentials.password is not None:
        env["TWINE_PASSWORD"] = credentials.password
    try:
        result = run(cmd, env=env, echo=False, check=False, timeout=UPLOAD_TIMEOUT)
    except CommandError as exc:  # could not start, or timed out
        raise Transient(str(exc)) from None
    if result.returncode == 0:
        return "uploaded"
    return _judge(candidate, _ANSI_RE.sub("", result.output))


def _judge(candidate: Candidate, output: str) -> str:
    """A failed twine run as "exists", or the failure to retry (``Transient``) or not."""
    status = _HTTP_STATUS_RE.search(output)
    line = _twine_error_line(output)
    if status:
        code = int(status.group(1))
        if code == 409 or (code == 400 and "already exist" in output.lower()):
            return "exists"
        reason = re.sub(r"^\d{3}\s*", "", line.split(" from ", 1)[0])
        if RetryPolicy.retries_status(code):
            raise Transient(f"HTTP {code} {reason}", code)
        raise Final(f"HTTP {code} {reason}", code)
    if _TRANSIENT_RE.search(output):
        raise Transient(line)
    raise PublishError(f"twine could not upload {candidate.filename}: {line}")


def _twine_error_line(output: str) -> str:
    """The line that says what went wrong, without twine's log level or exception prefix."""
    lines = [re.sub(r"^(ERROR|WARNING)\s+", "", line.strip()) for line in output.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
    return re.sub(r"^\S*HTTPError: ", "", errors[-1])
