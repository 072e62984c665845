"""A real clamd for the tests, started from Debian's clamav-daemon package with a signature
database that holds one signature: the EICAR test file's, written here (nothing is downloaded,
freshclam never runs)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
# The EICAR anti-virus test file: harmless, and every scanner is built to detect it.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR" + b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def pdf_with(payload: bytes) -> bytes:
    return (b"%PDF-1.4\n1 0 obj <</Length " + str(len(payload)).encode() + b">>\nstream\n"
            + payload + b"\nendstream\nendobj\ntrailer <<>>\n%%EOF\n")


@contextmanager
def running_clamd(folder: Path) -> Iterator[Path]:
    """clamd on a unix socket in ``folder``; yields the socket's path."""
    if not Path(CLAMD).exists():
        raise RuntimeError("clamd is missing: install the Debian package clamav-daemon "
                           "(.ci/run does)")
    db = folder / "db"
    db.mkdir(parents=True, exist_ok=True)
    # A body signature (.ndb): name, any file type, any offset, the bytes in hex.
    (db / "eicar.ndb").write_text(f"Eicar-Test-Signature:0:*:{EICAR.hex()}\n")
    sock = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(f"Foreground yes\nLocalSocket {sock}\nDatabaseDirectory {db}\n"
                    f"LogFile {folder / 'clamd.log'}\nStreamMaxLength 20M\n")
    proc = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"clamd exited: {proc.stderr.read().decode()[-2000:]}")
            if sock.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.settimeout(2)
                        s.connect(str(sock))
                        s.sendall(b"zPING\0")
                        if s.recv(16) == b"PONG\0":
                            break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer within 60 s")
            time.sleep(0.1)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
