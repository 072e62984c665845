"""Fake SMS providers: small werkzeug apps on loopback that answer in each provider's documented
shape, with its error codes. A test sets ``fail_next`` to a provider code to get that error once,
or ``delay`` to have the fake take the message and answer too late (an ambiguous timeout)."""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
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


class _KeepAlive(WSGIRequestHandler):
    # Providers answer over kept-alive HTTP/1.1 connections, and so does the fake.
    protocol_version = "HTTP/1.1"


@contextmanager
def serve(fake: FakeProvider) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_KeepAlive)
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
