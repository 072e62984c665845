"""Servers on loopback that stand for the network between us and a provider or a system: a
server for any request handler (over TLS, given a context), a proxy that refuses, and one that
takes the request and drops the connection."""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
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


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP request's head and body (by its Content-Length), or what came before EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head


@contextmanager
def _serving(one: Callable[[socket.socket], None]) -> Iterator[int]:
    """A listening socket on loopback that runs ``one(conn)`` on a thread of its own for every
    connection (closing it if ``one`` fails); yields its port."""
    server = socket.create_server(("127.0.0.1", 0))

    def guarded(conn: socket.socket) -> None:
        try:
            one(conn)
        except OSError:
            conn.close()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=guarded, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not, on Linux
        server.close()
        thread.join(timeout=5)


@contextmanager
def proxy_that_drops(tls: ssl.SSLContext | None = None,
                     answer_connect: bool = True) -> Iterator[tuple[str, list[bytes]]]:
    """A proxy that is its own far side: it takes the request — through a CONNECT tunnel
    (answered 200, then TLS with ``tls``) or as a forwarding proxy — and closes the connection
    without an answer, as a provider dying mid-call does. Yields its URL and the request lines
    the far side read. ``answer_connect=False``: it never answers CONNECT."""
    seen: list[bytes] = []
    held: list[socket.socket] = []

    def one(conn: socket.socket) -> None:
        head = _read_request(conn)
        if head.startswith(b"CONNECT"):
            if not answer_connect:
                held.append(conn)  # kept open, unanswered, until the test ends
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            head = _read_request(conn)
        seen.append(head.split(b"\r\n", 1)[0])
        conn.close()

    try:
        with _serving(one) as port:
            yield f"http://127.0.0.1:{port}", seen
    finally:
        for conn in held:
            conn.close()


@contextmanager
def plaintext_after_request(tls: ssl.SSLContext) -> Iterator[tuple[str, list[bytes]]]:
    """An HTTPS server that reads the request over TLS and then answers in plain text, as a
    middlebox injecting its own page does: the client's TLS layer fails on that answer, after
    the request arrived. Yields its URL and the request lines it read."""
    seen: list[bytes] = []

    def one(conn: socket.socket) -> None:
        wrapped = tls.wrap_socket(conn, server_side=True)
        seen.append(_read_request(wrapped).split(b"\r\n", 1)[0])
        os.write(wrapped.fileno(), b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        time.sleep(0.3)
        wrapped.close()

    with _serving(one) as port:
        yield f"https://127.0.0.1:{port}", seen
