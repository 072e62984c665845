"""A TCP proxy in front of the sandbox's database server, so clients that reach the emulated
system over ODBC meet the same faults as SOAP clients: latency, down (connections refused) and
commit-then-timeout — the COMMIT reaches the server and takes effect, and its answer is dropped
and the connection cut, which is what a network failure at the worst moment looks like.

The proxy understands nothing of the wire protocols but this: a short client message that says
COMMIT (PostgreSQL's simple query, MariaDB's COM_QUERY) is a commit.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

from sandbox.faults import FaultInjector

log = logging.getLogger(__name__)
_CHUNK = 65536
_COMMIT_MESSAGE_MAX = 64
# The statement COMMIT at the end of a short message (not, say, "SET autocommit=0").
_COMMIT = re.compile(rb"(?<![A-Za-z_])COMMIT\s*;?\s*\x00?$", re.IGNORECASE)


class DatabaseProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int],
                 faults: FaultInjector) -> None:
        self.target = target
        self.faults = faults
        self._server = socket.create_server(listen)
        self.address: tuple[str, int] = self._server.getsockname()[:2]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="sandbox-db-proxy",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            settings = self.faults.settings
            if self.faults.strikes(settings, "down"):
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError as exc:
                log.warning("database proxy cannot reach %s: %s", self.target, exc)
                client.close()
                continue
            upstream.settimeout(None)
            _Link(client, upstream, self.faults).start()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket,
                 faults: FaultInjector) -> None:
        self.client, self.upstream, self.faults = client, upstream, faults
        self.swallow = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._client_to_server, daemon=True).start()
        threading.Thread(target=self._server_to_client, daemon=True).start()

    def _client_to_server(self) -> None:
        try:
            while data := self.client.recv(_CHUNK):
                settings = self.faults.settings
                if settings.latency_ms:
                    time.sleep(settings.latency_ms / 1000)
                if len(data) <= _COMMIT_MESSAGE_MAX and _COMMIT.search(data) and \
                        self.faults.strikes(settings, "commit_then_timeout"):
                    self.swallow.set()
                self.upstream.sendall(data)
        except OSError:
            pass
        finally:
            self._close()

    def _server_to_client(self) -> None:
        try:
            while data := self.upstream.recv(_CHUNK):
                if self.swallow.is_set():
                    # The server has answered the COMMIT, so it took effect; the client never
                    # hears of it.
                    break
                self.client.sendall(data)
        except OSError:
            pass
        finally:
            self._close()

    def _close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
