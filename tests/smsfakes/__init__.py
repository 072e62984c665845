"""Fake SMS providers: small werkzeug apps on loopback that answer in each provider's documented
shape, with its error codes. A test sets ``fail_next`` to a provider code to get that error once,
or ``delay`` to have the fake take the message and answer too late (an ambiguous timeout)."""
from __future__ import annotations

import io
import itertools
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response


class FakeProvider:
    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}  # by the provider's message id
        self.fail_next: Any = None
        self.delay = 0.0
        self.requests: list[Request] = []
        self._ids = itertools.count(8792343)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def take(self, **message: Any) -> str:
        """Store a message that reached phones; the answer may still be lost (``delay``)."""
        mid = self.new_id()
        self.messages[mid] = message
        return mid

    def failure(self) -> Any:
        code, self.fail_next = self.fail_next, None
        return code

    def by(self, key: str, value: Any) -> list[str]:
        return [mid for mid, m in self.messages.items() if m.get(key) == value]

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.get_data()
        self.requests.append(request)
        response = self.handle(request)
        if self.delay:
            time.sleep(self.delay)
        return response(environ, start_response)


def json_response(body: Any, status: int = 200) -> Response:
    import json
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


class _Handler(BaseHTTPRequestHandler):
    """A WSGI bridge that keeps connections alive, as providers' servers do (werkzeug's
    development server closes each one, which would make every call pay a new connection)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        path, _, query = self.path.partition("?")
        environ = {"REQUEST_METHOD": self.command, "PATH_INFO": unquote(path),
                   "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(length), "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": str(self.server.server_port), "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.input": io.BytesIO(self.rfile.read(length)), "wsgi.url_scheme": "http",
                   "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
                   "wsgi.multiprocess": False, "wsgi.run_once": False}
        for key, value in self.headers.items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        started: list[Any] = []
        body = b"".join(self.server.app(environ, lambda status, headers, exc=None:
                                        started.append((status, headers))))
        status, headers = started[0]
        self.send_response(int(status.split()[0]))
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — quiet, like a server
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a real provider does not refuse 32 senders connecting at once
    app: Any = None


@contextmanager
def serve(fake: FakeProvider) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.app = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> str:
    """An address where nothing listens: the connection is refused before anything is sent."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"
