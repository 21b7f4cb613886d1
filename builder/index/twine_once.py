"""``python -m builder.index.twine_once ARGS``: twine's command line, with twine's own retries off.

twine re-posts an upload that got a 5xx up to five times at once (``Repository.upload``'s
``max_redirects``), and the requests session of a ``Repository`` retries a failed connection five
times. Our retry policy (``builder.index.upload``) already waits and retries around each run of
twine, so the two multiplied: 4 attempts made 20 POSTs, and no message could say how many
requests were made. Here each run of twine makes one request per file. twine offers no option
for either, hence the two replacements below; if a twine release renames what they replace, this
exits with one line naming it instead of letting the retries multiply unseen.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

EXIT_UNSUPPORTED = 3


def main() -> int:
    try:
        from requests.adapters import HTTPAdapter
        from twine.__main__ import main as twine_main
        from twine.repository import Repository

        init, upload = Repository.__init__, Repository.upload
        if "max_redirects" not in inspect.signature(upload).parameters:
            raise AttributeError("Repository.upload has no max_redirects parameter")
    except (ImportError, AttributeError) as exc:
        print(f"cannot turn off this twine's own retries: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED

    def init_without_retries(self: Repository, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=0))

    def upload_once(self: Repository, package: Any, max_redirects: int = 1) -> Any:
        return upload(self, package, max_redirects=1)

    Repository.__init__ = init_without_retries  # type: ignore[method-assign]
    Repository.upload = upload_once  # type: ignore[method-assign]
    return 1 if twine_main() else 0


if __name__ == "__main__":
    sys.exit(main())
