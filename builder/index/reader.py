"""What a private index already serves: the files on a project's page and their bytes' sha256.

Read through the one HTTP layer (``builder.index.http``): its retry policy, the credentials sent
to the target's own origins only, and a 404 meaning "no such project or file yet".
"""

from __future__ import annotations

import hashlib
import urllib.parse

from ..errors import DownloadError, PublishError
from .budget import Candidate
from .credentials import Credentials, Target, publish_error
from .http import Response, RetryPolicy, get_if_exists
from .links import ACCEPT, parse_project_page


class IndexReader:
    """Reads a PEP 503/691 simple index: which files a project has, and their bytes' digest."""

    def __init__(self, target: Target, credentials: Credentials, retry: RetryPolicy) -> None:
        self.target = target
        self.credentials = credentials
        self.retry = retry
        self._pages: dict[str, dict[str, str]] = {}

    def served_sha256(self, candidate: Candidate) -> str | None:
        """The sha256 of the file the index serves under the candidate's name, or None."""
        url = self._links(candidate.name).get(candidate.filename)
        if url is None:
            return None
        served = self._get(url)
        if served is None:
            raise PublishError(f"the index lists {candidate.filename} but serves no file at it")
        return hashlib.sha256(served.body).hexdigest()

    def forget(self, project: str) -> None:
        self._pages.pop(project, None)

    def _links(self, project: str) -> dict[str, str]:
        if project not in self._pages:
            page_url = urllib.parse.urljoin(self.target.index_url, f"{project}/")
            page = self._get(page_url, ACCEPT)
            files = (
                [] if page is None else parse_project_page(page.body, page.content_type, page.url)
            )
            self._pages[project] = {link.filename: link.url for link in files}
        return self._pages[project]

    def _get(self, url: str, accept: str | None = None) -> Response | None:
        auth = self.credentials.auth_for(self.target)
        try:
            return get_if_exists(url, accept=accept, auth=auth, retry=self.retry)
        except DownloadError as exc:
            raise publish_error(exc, self.credentials) from None
