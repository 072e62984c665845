"""ClamAV's clamd over its socket (a unix socket, or TCP): the INSTREAM command streams the
file in chunks and clamd answers ``stream: OK`` or ``stream: NAME FOUND``. Nothing is written
to disk on our side, and clamd needs no access to our files.

Errors are classified for the core: a socket that is missing or refuses, a timeout, a reply cut
short are transient (the scan can simply be asked again: scanning changes nothing); a file over
clamd's ``StreamMaxLength`` is permanent for that file; bad options are configuration errors.
"""
from __future__ import annotations

import io
import socket
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

from connector.domain.errors import ConfigurationError, PermanentError, TransientError
from connector.plugins.ports import CLEAN, ScanResult, VirusScanner

CHUNK = 64 * 1024
MAX_REPLY = 4096


class ClamdScanner(VirusScanner):
    name = "clamav"

    def __init__(self, socket_path: str = "", host: str = "", port: int = 3310,
                 timeout: float = 30.0, connect_timeout: float = 2.0) -> None:
        if not socket_path and not host:
            raise ConfigurationError("clamav: set socket (clamd's LocalSocket) or host and port")
        self.socket_path, self.host, self.port = socket_path, host, port
        self.timeout, self.connect_timeout = timeout, connect_timeout

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> ClamdScanner:
        known = {"socket", "host", "port", "timeout", "connect_timeout"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(f"clamav: unknown option {unknown[0]!r}; "
                                     f"known: {', '.join(sorted(known))}")
        try:
            return cls(socket_path=str(options.get("socket", "") or ""),
                       host=str(options.get("host", "") or ""),
                       port=int(options.get("port", 3310)),
                       timeout=float(options.get("timeout", 30)),
                       connect_timeout=float(options.get("connect_timeout", 2)))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"clamav: {exc}") from exc

    @property
    def where(self) -> str:
        return self.socket_path or f"{self.host}:{self.port}"

    def _connect(self) -> socket.socket:
        if self.socket_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = self.socket_path
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (self.host, self.port)
        sock.settimeout(self.connect_timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            raise TransientError(f"clamd at {self.where} cannot be reached: "
                                 f"{exc.strerror or type(exc).__name__}") from exc
        sock.settimeout(self.timeout)
        return sock

    def _ask(self, command: bytes, body: BinaryIO | None = None) -> str:
        sock = self._connect()
        try:
            sock.sendall(b"z" + command + b"\0")
            if body is not None:
                while chunk := body.read(CHUNK):
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0") and len(reply) < MAX_REPLY:
                part = sock.recv(MAX_REPLY)
                if not part:
                    break
                reply += part
        except TimeoutError as exc:
            raise TransientError(f"clamd at {self.where} did not answer within "
                                 f"{self.timeout:g} s") from exc
        except OSError as exc:
            # clamd closes the connection when a stream passes StreamMaxLength; the reply
            # saying so may or may not have arrived first.
            raise TransientError(f"clamd at {self.where}: {exc.strerror or exc}") from exc
        finally:
            sock.close()
        if not reply.endswith(b"\0"):
            if b"size limit exceeded" in reply:
                raise PermanentError(f"clamd: {reply.decode(errors='replace').strip()}")
            raise TransientError(f"clamd at {self.where} closed the connection mid-answer")
        return reply[:-1].decode("utf-8", errors="replace").strip()

    def scan(self, content: bytes | BinaryIO) -> ScanResult:
        stream = io.BytesIO(content) if isinstance(content, bytes | bytearray) else content
        reply = self._ask(b"INSTREAM", stream)
        # "stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded.
        # ERROR", "... ERROR" for anything else clamd could not do.
        verdict = reply.split(": ", 1)[-1]
        if verdict == "OK":
            return CLEAN
        if verdict.endswith(" FOUND"):
            return ScanResult(False, verdict[: -len(" FOUND")])
        if "size limit exceeded" in reply:
            raise PermanentError(f"clamd: {reply} (raise StreamMaxLength to scan larger files)")
        raise TransientError(f"clamd answered {reply!r}")

    def ping(self) -> str:
        reply = self._ask(b"PING")
        if reply != "PONG":
            raise TransientError(f"clamd at {self.where} answered {reply!r} to PING")
        version = self._ask(b"VERSION")
        return f"clamd at {self.where}: {version}"
