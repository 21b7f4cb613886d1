"""One programmable HTTP server on 127.0.0.1 for the tests: a real socket, a real HTTP exchange,
every request recorded. A test gives it a function from request to answer.

    with serve(lambda request: Answer(500)) as server:
        ... server.url ...
    assert len(server.requests) == 3
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StubServer:
    url: str  # http://127.0.0.1:PORT/
    requests: list[Request] = field(default_factory=list)

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]


@contextlib.contextmanager
def serve(answer: Callable[[Request], Answer]) -> Iterator[StubServer]:
    """A threaded server answering every request with ``answer(request)`` until the block ends."""
    state = StubServer("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            request = Request(self.command, self.path, dict(self.headers.items()))
            state.requests.append(request)
            reply = answer(request)
            self.send_response(reply.status)
            # reply.headers may override even Content-Length (to announce more than is sent).
            headers = {"Content-Type": reply.content_type, "Content-Length": str(len(reply.body))}
            headers.update(reply.headers)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
