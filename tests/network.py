"""Servers on loopback that stand for the network between us and a provider or a system: a
server for any request handler (over TLS, given a context), and a proxy that refuses."""
from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler],
                tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """``handler`` served on a free port; yields the base URL (https:// with ``tls``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class RefusingProxy(BaseHTTPRequestHandler):
    """A proxy that answers every request, CONNECT included, with ``status``."""
    status = 403

    def _refuse(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_CONNECT = do_GET = do_POST = _refuse

    def log_message(self, *args) -> None:
        pass
