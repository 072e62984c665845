"""Run the sandbox office-automation system on a real loopback port, for integration tests.

    base_url, app, stop = start_sandbox(tmp_path, TIMEOUT_SLEEP=2)
    client = soap_client(base_url)
    ...
    stop()

Credentials are pinned to USERNAME/PASSWORD and faults start cleared, whatever SANDBOX_*
variables the environment holds, so tests do not depend on the machine they run on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import requests

import zeep
from flask import Flask
from werkzeug.serving import make_server
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from sandbox.app import create_app
from sandbox.state import get_sandbox

USERNAME = "pishkhan"
PASSWORD = "sandbox-secret"


def start_sandbox(tmp_path: Path, port: int = 0,
                  **config: Any) -> tuple[str, Flask, Callable[[], None]]:
    """Serve a fresh sandbox (SQLite in `tmp_path`) on 127.0.0.1 and an ephemeral port.

    `config` takes the keys of `sandbox.app.create_app` (DATABASE_URL, USERNAME, PASSWORD,
    FAULTS, PUBLIC_URL, TIMEOUT_SLEEP). Returns the base URL (no trailing slash), the Flask app
    and a function that stops the server; calling it twice is harmless. A given `port` (with the
    same `tmp_path`) starts a stopped sandbox again where it was, with its letters.
    """
    settings: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{Path(tmp_path) / 'sandbox.db'}",
        "USERNAME": USERNAME,
        "PASSWORD": PASSWORD,
        "FAULTS": {},
        "PUBLIC_URL": "",
    }
    settings.update(config)
    app = create_app(settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    # A short poll interval keeps shutdown quick; the default half second adds up over many tests.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="sandbox-server", daemon=True
    )
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if get_sandbox(app).db_proxy is not None:
            get_sandbox(app).db_proxy.close()
        get_sandbox(app).engine.dispose()

    return f"http://127.0.0.1:{server.server_port}", app, stop


def serve_in_processes(database_url: str, latency_ms: float = 0, workers: int = 1,
                       threads: int = 32, keep_alive: float = 2,
                       control_dir: str | None = None) -> tuple[str, Callable[[], None]]:
    """The sandbox in processes of its own under gunicorn, as `make run` serves it: its CPU does
    not compete with the caller's for one interpreter lock, and its connections stay open
    between calls (keep-alive, ``keep_alive`` seconds). Enough ``threads`` that its latency is
    spent waiting side by side, not queueing. Returns the base URL and a stop function."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SANDBOX_DATABASE_URL": database_url,
           "SANDBOX_USERNAME": USERNAME, "SANDBOX_PASSWORD": PASSWORD,
           "SANDBOX_FAULTS": json.dumps({"latency_ms": latency_ms})}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), "--keep-alive", str(keep_alive),
         "--log-level", "warning",
         # A socket per worker (SO_REUSEPORT), so the kernel spreads the caller's keep-alive
         # connections over them; on one shared socket the quickest worker took most of them.
         *(["--reuse-port"] if workers > 1 else []),
         # Its own control socket: gunicorn's default path is shared by every server.
         "--control-socket", os.path.join(control_dir or tempfile.gettempdir(), f"sandbox-{port}.ctl"),
         "sandbox.wsgi:app"],
        env=env, cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/api/health", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.1)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return base, stop


def soap_client(
    base_url: str,
    username: str | None = USERNAME,
    password: str = PASSWORD,
    use_digest: bool = False,
    operation_timeout: float | None = 10,
) -> zeep.Client:
    """A zeep client for the `reference` dialect; `username=None` sends no WS-Security header."""
    wsse = None
    if username is not None:
        wsse = UsernameToken(username, password, use_digest=use_digest)
    return zeep.Client(
        f"{base_url}/soap/reference?wsdl",
        wsse=wsse,
        settings=zeep.Settings(forbid_dtd=True, forbid_entities=True),
        transport=Transport(timeout=10, operation_timeout=operation_timeout),
    )
