"""The test suite's servers, all on 127.0.0.1.

* ``serve(answer)``: a programmable HTTP server in this process, a real socket and a real HTTP
  exchange, every request recorded; a test gives it a function from request to answer::

      with serve(lambda request: Answer(500)) as server:
          ... server.url ...
      assert len(server.requests) == 3

* ``background(cmd, port, log)``: a real server program (pypiserver) for the block's duration;
* ``static_server(root)``: ``python -m http.server`` serving a directory, as a user would host
  a static index.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path


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


# -- server programs ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout:g} s")


@contextlib.contextmanager
def background(cmd: Sequence[str], port: int, log: Path, cwd: Path | None = None) -> Iterator[None]:
    """Run a server on 127.0.0.1:port for the duration of the block, then stop it."""
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process)
            yield
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """``python -m http.server`` on loopback serving ``root``; yields the base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with background(cmd, port, root.parent / f"http-server-{port}.log", cwd=root):
        yield f"http://127.0.0.1:{port}/"
